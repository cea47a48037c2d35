"""Whether one subscription is notified of one signal: matching, silences, inhibition, then the mode.

Silences and the inhibit rule follow Prometheus Alertmanager. Times come from the caller (aware, UTC).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from shared.schemas.signals import Severity, Signal, SignalName

from .matching import CompanyFacts, Match, matches

__all__ = ["Decision", "Mode", "Silence", "decide", "inhibited", "silenced_by"]

Mode = Literal["immediate", "digest"]


@dataclass(frozen=True, slots=True)
class Silence:
    """Mutes a subscription's notifications until `ends_at`; None in a field means any value.

    `company_id` is in the normalised form (`BE0403170701`). A silence with neither field mutes every signal.
    """

    id: str
    company_id: str | None
    signal: str | None
    ends_at: datetime


def _applies(silence: Silence, signal: Signal, now: datetime) -> bool:
    return (
        now < silence.ends_at
        and (silence.company_id is None or silence.company_id == signal.company_id)
        and (silence.signal is None or silence.signal == signal.signal)
    )


def silenced_by(signal: Signal, silences: Iterable[Silence], now: datetime) -> Silence | None:
    """The silence (lowest id first, so the answer does not depend on the order given) muting `signal`."""
    return next((s for s in sorted(silences, key=lambda s: s.id) if _applies(s, signal, now)), None)


def inhibited(signal: Signal, bankrupt: bool) -> bool:
    """Whether `signal` is drowned out by the company's open bankruptcy signal.

    Once a company is bankrupt its lesser signals are noise; the bankruptcy itself and other critical
    signals still go out.
    """
    return bankrupt and signal.signal != SignalName.BANKRUPTCY and signal.severity < Severity.CRITICAL


class Decision(StrEnum):
    """What becomes of a signal for one subscription."""

    DELIVER = "deliver"  # send now
    DIGEST = "digest"  # keep for the subscription's next digest
    SILENCED = "silenced"  # a silence mutes it
    INHIBITED = "inhibited"  # the company's bankruptcy drowns it out
    UNMATCHED = "unmatched"  # the subscription does not ask for it


def decide(
    signal: Signal,
    *,
    mode: Mode,
    match: Match,
    company: CompanyFacts | None,
    silences: Iterable[Silence],
    bankrupt: bool,
    now: datetime,
) -> Decision:
    """The fate of `signal` for a subscription: unmatched, else silenced, else inhibited, else by `mode`."""
    if not matches(match, signal, company):
        return Decision.UNMATCHED
    if silenced_by(signal, silences, now) is not None:
        return Decision.SILENCED
    if inhibited(signal, bankrupt):
        return Decision.INHIBITED
    return Decision.DIGEST if mode == "digest" else Decision.DELIVER
