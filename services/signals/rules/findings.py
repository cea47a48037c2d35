"""What the rules produce (`Finding`), what the caller has open (`OpenSignal`) and how they differ (`Change`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.schemas import Category, Evidence, Severity, SignalName

__all__ = ["CATEGORIES", "Change", "ChangeKind", "Finding", "OpenSignal", "category_of"]

CATEGORIES: Mapping[SignalName, Category] = {
    **{name: Category.RISK for name in SignalName},
    SignalName.GROWTH_OPPORTUNITY: Category.OPPORTUNITY,
    SignalName.CHURN_RISK: Category.RETENTION,
}
"""The category of each signal of the catalogue."""


def category_of(signal: str) -> Category | None:
    """The category of `signal`, or None for a name outside the catalogue."""
    try:
        return CATEGORIES[SignalName(signal)]
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Finding:
    """A signal that holds as of the evaluation time.

    `evidence` is sorted by time; `since` is the event time from which the condition has held (the caller
    uses it as `raised_at` when it raises the signal).
    """

    signal: SignalName
    category: Category
    severity: Severity
    summary: str
    evidence: tuple[Evidence, ...]
    since: datetime

    def __hash__(self) -> int:
        # Evidence models are not hashable; equal findings have equal signal, severity, ids and since.
        return hash((self.signal, self.severity, self.evidence_ids, self.since))

    @property
    def evidence_ids(self) -> frozenset[str]:
        """The ids of the source events behind the finding."""
        return frozenset(item.event_id for item in self.evidence)


@dataclass(frozen=True, slots=True)
class OpenSignal:
    """A signal the caller has open for the company: the part of it that `diff` compares."""

    signal: str
    severity: Severity
    evidence_ids: frozenset[str]

    @classmethod
    def of(cls, finding: Finding) -> OpenSignal:
        """What the caller keeps open after acting on `finding`."""
        return cls(finding.signal.value, finding.severity, finding.evidence_ids)


class ChangeKind(StrEnum):
    """What happens to a signal; the values match the suffix of the CloudEvent type."""

    RAISED = "raised"
    UPDATED = "updated"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Change:
    """One signal to raise, update or resolve.

    `finding` is the new state (None when resolved); `previous` is what was open (None when raised).
    """

    kind: ChangeKind
    signal: str
    finding: Finding | None
    previous: OpenSignal | None
