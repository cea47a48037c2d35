"""`ew.signals`: the signals the correlation raises, updates and resolves (contract section 5)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pydantic import Field

from shared.company_id import CompanyId
from shared.schemas._base import EwModel, UtcDatetime, examples

__all__ = [
    "Category",
    "Evidence",
    "EvidenceSource",
    "Severity",
    "Signal",
    "SignalEventType",
    "SignalName",
    "SignalStatus",
    "highest_severity",
]


class Severity(StrEnum):
    """How serious a signal is: info < low < medium < high < critical.

    Comparisons (`<`, `max`, `sorted`) follow that order, not the alphabet; `rank` is the order as a number.
    """

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for info up to 4 for critical."""
        return _RANKS[self]

    @classmethod
    def from_rank(cls, rank: int) -> Severity:
        """The severity of `rank` (0-4)."""
        if not 0 <= rank < len(_ORDER):
            raise ValueError(f"severity rank must be 0 to {len(_ORDER) - 1}, got {rank}")
        return _ORDER[rank]

    def _other_rank(self, other: object) -> int | None:
        if isinstance(other, Severity):
            return other.rank
        if isinstance(other, str):
            return Severity(other).rank
        return None

    def __lt__(self, other: str) -> bool:
        rank = self._other_rank(other)
        return NotImplemented if rank is None else self.rank < rank

    def __le__(self, other: str) -> bool:
        rank = self._other_rank(other)
        return NotImplemented if rank is None else self.rank <= rank

    def __gt__(self, other: str) -> bool:
        rank = self._other_rank(other)
        return NotImplemented if rank is None else self.rank > rank

    def __ge__(self, other: str) -> bool:
        rank = self._other_rank(other)
        return NotImplemented if rank is None else self.rank >= rank


_ORDER: tuple[Severity, ...] = tuple(Severity)
_RANKS: dict[Severity, int] = {severity: rank for rank, severity in enumerate(_ORDER)}


def highest_severity(severities: Iterable[Severity]) -> Severity | None:
    """The most serious of `severities`, or None when there are none."""
    return max(severities, default=None)


class Category(StrEnum):
    """What a signal means for the supplier."""

    RISK = "risk"
    OPPORTUNITY = "opportunity"
    RETENTION = "retention"


class SignalStatus(StrEnum):
    """Open while it holds; resolved when it no longer does or a person resolved it."""

    OPEN = "open"
    RESOLVED = "resolved"


class SignalName(StrEnum):
    """The signals of contract section 5 (`Signal.signal` also accepts others, for signals added later)."""

    BANKRUPTCY = "bankruptcy"
    JUDICIAL_REORGANISATION = "judicial_reorganisation"
    DISSOLUTION = "dissolution"
    DIRECTOR_FAILURE_HISTORY = "director_failure_history"
    DORMANT_REACTIVATED = "dormant_reactivated"
    MANAGEMENT_CHURN = "management_churn"
    REGISTERED_OFFICE_MOVES = "registered_office_moves"
    SOCIAL_SECURITY_SUMMONS = "social_security_summons"
    TAX_DEBT = "tax_debt"
    ACCOUNTS_OVERDUE = "accounts_overdue"
    NEGATIVE_EQUITY = "negative_equity"
    SCORE_DROP = "score_drop"
    PAYMENT_BEHAVIOUR = "payment_behaviour"
    STRAW_MAN = "straw_man"
    PARENT_DISTRESS = "parent_distress"
    DISTRESS_REPORTED_BY_SALES = "distress_reported_by_sales"
    GROWTH_OPPORTUNITY = "growth_opportunity"
    CHURN_RISK = "churn_risk"


class EvidenceSource(StrEnum):
    """Where a piece of evidence comes from (usual values of `Evidence.source`)."""

    OBSERVATION = "observation"
    PUBLICATION = "publication"
    BUREAU = "bureau"
    ORDER = "order"
    CONTACT = "contact"
    REGISTER = "register"
    PORTFOLIO = "portfolio"
    SIGNAL = "signal"


class SignalEventType(StrEnum):
    """CloudEvent `type` of the events on `ew.signals`; their data is a `Signal`."""

    RAISED = "earlywarning.signal.raised"
    UPDATED = "earlywarning.signal.updated"
    RESOLVED = "earlywarning.signal.resolved"


_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class Evidence(EwModel):
    """A source event that supports a signal."""

    model_config = examples(
        {
            "source": "bureau",
            "event_id": "evt_2Zk8Lw1qTn",
            "type": "score_change",
            "at": "2025-10-09T06:00:00Z",
            "summary": "Bureau score fell from 72 to 45.",
        }
    )

    source: str = Field(
        pattern=_NAME_PATTERN,
        description="observation, publication, bureau, order, contact, register, portfolio or signal.",
    )
    event_id: str = Field(min_length=1, max_length=200, description="Id of the source event.")
    type: str = Field(
        min_length=1,
        max_length=100,
        description="Kind of the source event: observation kind, rubric, bureau type...",
    )
    at: UtcDatetime = Field(description="When the source event happened.")
    summary: str = Field(min_length=1, max_length=1000, description="What the event says, in one sentence.")


class Signal(EwModel):
    """A signal about a company: the JSON of the API, of webhooks and of the `ew.signals` events."""

    model_config = examples(
        {
            "id": "sig_01JA2C9Q8W7E6R5T4Y3U2I1O0P",
            "company_id": "BE0403170701",
            "company_name": "Acme Industries NV",
            "signal": "score_drop",
            "category": "risk",
            "severity": "high",
            "status": "open",
            "summary": "The credit bureau lowered Acme Industries NV's score from 72 to 45 (27 points).",
            "evidence": [
                {
                    "source": "bureau",
                    "event_id": "evt_2Zk8Lw1qTn",
                    "type": "score_change",
                    "at": "2025-10-09T06:00:00Z",
                    "summary": "Bureau score fell from 72 to 45.",
                }
            ],
            "risk_level": "high",
            "score": 38,
            "raised_at": "2025-10-09T06:00:05Z",
            "updated_at": "2025-10-09T06:00:05Z",
        }
    )

    id: str = Field(min_length=1, max_length=100, description="Signal id, stable while the signal lives.")
    company_id: CompanyId = Field(description="The company.")
    company_name: str | None = Field(None, max_length=300, description="Company name, when known.")
    signal: str = Field(
        pattern=_NAME_PATTERN, description="Which signal (contract section 5), e.g. score_drop."
    )
    category: Category = Field(description="risk, opportunity or retention.")
    severity: Severity = Field(description="info, low, medium, high or critical.")
    status: SignalStatus = Field(description="open or resolved.")
    summary: str = Field(
        min_length=1, max_length=1000, description="One plain sentence for a credit manager."
    )
    evidence: list[Evidence] = Field(default_factory=list, description="The source events behind the signal.")
    risk_level: Severity | None = Field(
        None, description="The company's highest open risk severity; null when no risk signal is open."
    )
    score: int = Field(ge=0, le=100, description="The company's score, 0-100, higher is safer.")
    raised_at: UtcDatetime = Field(description="When the signal was raised.")
    updated_at: UtcDatetime = Field(description="When it last changed.")
