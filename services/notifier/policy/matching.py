"""Which signals a subscription wants: its `match` object (contract), checked against a signal.

Routing follows Prometheus Alertmanager: every given field must hold (AND), any value of a list will do
(OR), an absent field matches anything. An empty list is refused rather than read as "nothing" or "all".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from shared.company_id import CompanyId
from shared.schemas._base import EwModel, examples
from shared.schemas.signals import Category, Severity, Signal, SignalName

__all__ = ["MAX_MATCH_ITEMS", "CompanyFacts", "Match", "matches"]

MAX_MATCH_ITEMS = 1000


def _refuse_empty(value: Any) -> Any:
    # Runs before the list's own `min_length`, so that the 422 says what to do instead.
    if isinstance(value, list | tuple) and not value:
        raise PydanticCustomError("empty_list", "must not be empty: omit the field to match any")
    return value


_Items = Field(min_length=1, max_length=MAX_MATCH_ITEMS)
_NotEmpty = BeforeValidator(_refuse_empty)
_ANY = f" Omit (or null) to match any; 1 to {MAX_MATCH_ITEMS} items."

_Categories = Annotated[list[Category], _Items, _NotEmpty]
_SignalNames = Annotated[list[SignalName], _Items, _NotEmpty]
_Segments = Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], _Items, _NotEmpty]
_AccountManagers = Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], _Items, _NotEmpty]
_CompanyIds = Annotated[list[CompanyId], _Items, _NotEmpty]


class Match(EwModel):
    """What a subscription receives: every given field must hold, any value of a list will do."""

    model_config = examples(
        {
            "min_severity": "high",
            "categories": ["risk"],
            "segments": ["key accounts"],
            "account_managers": ["an.peeters@example.com"],
        }
    )

    min_severity: Severity | None = Field(
        None, description="Only signals of this severity or higher (info < low < medium < high < critical)."
    )
    categories: _Categories | None = Field(
        None, description="Only signals of these categories (risk, opportunity, retention)." + _ANY
    )
    signals: _SignalNames | None = Field(
        None, description="Only these signals (contract section 5), e.g. bankruptcy, score_drop." + _ANY
    )
    segments: _Segments | None = Field(
        None,
        description="Only companies of these portfolio segments, compared ignoring case; a company "
        "without a segment (or not in the portfolio) never matches." + _ANY,
    )
    account_managers: _AccountManagers | None = Field(
        None,
        description="Only companies these account managers own (as in the portfolio, usually an email), "
        "compared ignoring case; a company without one (or not in the portfolio) never matches." + _ANY,
    )
    company_ids: _CompanyIds | None = Field(
        None, description="Only these companies, in any accepted id form." + _ANY
    )


@dataclass(frozen=True, slots=True)
class CompanyFacts:
    """What routing needs from the supplier's portfolio entry of the company."""

    segment: str | None
    account_manager: str | None


def _fold(text: str) -> str:
    return text.strip().casefold()


def _one_of(value: str | None, wanted: Iterable[str]) -> bool:
    if value is None:
        return False
    key = _fold(value)
    return any(_fold(item) == key for item in wanted)


def matches(match: Match, signal: Signal, company: CompanyFacts | None) -> bool:
    """Whether `signal` is one `match` asks for; `company` is None when it is not in the portfolio."""
    if match.min_severity is not None and signal.severity < match.min_severity:
        return False
    if match.categories is not None and signal.category not in match.categories:
        return False
    if match.signals is not None and signal.signal not in match.signals:
        return False
    if match.company_ids is not None and signal.company_id not in match.company_ids:
        return False
    if match.segments is not None and not _one_of(
        None if company is None else company.segment, match.segments
    ):
        return False
    return match.account_managers is None or _one_of(
        None if company is None else company.account_manager, match.account_managers
    )
