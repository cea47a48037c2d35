"""What the rules of the catalogue share: the default severities, building a finding, reading bureau data."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel

from shared.schemas import BureauEventType, Evidence, Rubric, Severity, SignalName

from ..config import RulesConfig
from ..context import Context
from ..events import SourceEvent
from ..findings import CATEGORIES, Finding
from ..history import History
from ..wording import clip

__all__ = [
    "DEFAULT_SEVERITY",
    "OFFICIAL_SOURCES",
    "Data",
    "Item",
    "Rule",
    "bureau_data",
    "clause",
    "make_finding",
    "published",
    "words",
]


Rule = Callable[[History, Context, datetime, RulesConfig], Finding | None]
"""A rule of the catalogue."""

OFFICIAL_SOURCES: frozenset[str] = frozenset({"bureau", "publication", "register"})
"""Sources whose evidence corroborates what sales report: the bureau, the gazette and the register."""

DEFAULT_SEVERITY: Mapping[SignalName, Severity] = {
    SignalName.BANKRUPTCY: Severity.CRITICAL,
    SignalName.JUDICIAL_REORGANISATION: Severity.CRITICAL,
    SignalName.DISSOLUTION: Severity.HIGH,
    SignalName.DIRECTOR_FAILURE_HISTORY: Severity.HIGH,
    SignalName.DORMANT_REACTIVATED: Severity.MEDIUM,
    SignalName.MANAGEMENT_CHURN: Severity.MEDIUM,
    SignalName.REGISTERED_OFFICE_MOVES: Severity.MEDIUM,
    SignalName.SOCIAL_SECURITY_SUMMONS: Severity.HIGH,
    SignalName.TAX_DEBT: Severity.HIGH,
    SignalName.ACCOUNTS_OVERDUE: Severity.MEDIUM,
    SignalName.NEGATIVE_EQUITY: Severity.HIGH,
    SignalName.SCORE_DROP: Severity.MEDIUM,
    SignalName.PAYMENT_BEHAVIOUR: Severity.MEDIUM,
    SignalName.STRAW_MAN: Severity.HIGH,
    SignalName.PARENT_DISTRESS: Severity.HIGH,
    SignalName.DISTRESS_REPORTED_BY_SALES: Severity.MEDIUM,
    SignalName.GROWTH_OPPORTUNITY: Severity.INFO,
    SignalName.CHURN_RISK: Severity.MEDIUM,
}
"""The severity of each signal before any escalation."""


Data = TypeVar("Data", bound=BaseModel)

Item = SourceEvent | Evidence
"""What a finding's evidence is built from: a source event, or evidence made by the rule itself."""


def make_finding(
    signal: SignalName,
    summary: str,
    evidence: Iterable[Item],
    since: datetime,
    severity: Severity | None = None,
) -> Finding:
    """A finding with its evidence deduplicated and sorted by time."""
    unique: dict[tuple[str, str], Evidence] = {}
    for item in evidence:
        proof = item.evidence() if isinstance(item, SourceEvent) else item
        unique.setdefault((proof.source, proof.event_id), proof)
    ordered = sorted(unique.values(), key=lambda proof: (proof.at, proof.source, proof.event_id))
    return Finding(
        signal=signal,
        category=CATEGORIES[signal],
        severity=severity or DEFAULT_SEVERITY[signal],
        summary=clip(summary),
        evidence=tuple(ordered),
        since=since,
    )


def bureau_data(history: History, kind: BureauEventType, model: type[Data]) -> list[tuple[SourceEvent, Data]]:
    """The bureau events of one type with their `data`, typed as `model`."""
    return [(event, bureau.data) for event, bureau in history.bureau(kind) if isinstance(bureau.data, model)]


def published(history: History, rubrics: frozenset[Rubric]) -> list[tuple[SourceEvent, Rubric]]:
    """Publications with one of `rubrics`, each with the first of them it carries."""
    found: list[tuple[SourceEvent, Rubric]] = []
    for event, publication in history.publications():
        matching = [rubric for rubric in publication.rubrics if rubric in rubrics]
        if matching:
            found.append((event, matching[0]))
    return found


def words(name: str) -> str:
    """A code name as words: `tax_debt` becomes `tax debt`."""
    return name.replace("_", " ")


def clause(event: SourceEvent) -> str:
    """The event's summary without its full stop, to use inside a sentence."""
    return event.summary.rstrip(".")
