"""The facts about OTHER companies that the rules of one company need, gathered by the I/O layer.

The rules never look anything up: whoever calls `evaluate` provides the bankruptcies in the past of the
company's directors and the state of its parents. The company's own directors are not part of the context:
they follow from its own gazette publications (`directors.registered_directors`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from shared.schemas import Severity

__all__ = ["EMPTY_CONTEXT", "Context", "ParentState", "PriorFailure", "WalletGap"]


@dataclass(frozen=True, slots=True)
class PriorFailure:
    """Another company, declared bankrupt, where a person was a director.

    `name` and `birth_year` are the person as published at THAT company; the rule checks them against the
    appointee with `same_person`, so the I/O layer may look failures up by `person_key` alone.
    `company_name` is optional and only makes the summary easier to read.
    """

    company_id: str
    bankrupt_on: date
    name: str
    birth_year: int | None = None
    company_name: str | None = None


@dataclass(frozen=True, slots=True)
class ParentState:
    """A shareholder of the company and the risk signals open at that shareholder.

    `open_risk` lists `(signal, severity)` pairs. `since` is when the oldest of them was raised; it dates the
    evidence and the signal, and is `as_of` when not given.
    """

    parent_company_id: str
    share_pct: float
    open_risk: Sequence[tuple[str, Severity]] = ()
    name: str | None = None
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class WalletGap:
    """A product line the company's segment buys and the company does not (share of wallet).

    `share` of the segment's buying customers bought it in the year before `computed_at`, spending
    `potential` euro on average: the sweep's cross-sell analysis.
    """

    product_line: str
    share: float
    potential: Decimal
    computed_at: datetime


@dataclass(frozen=True, slots=True)
class Context:
    """Cross-company facts for one company.

    `director_failures` maps a `person_key` of a person appointed at the company to the bankruptcies of
    other companies where that person was a director. `parents` are the company's shareholders.
    `wallet_gaps` are the product lines its peers buy and it does not, as the last sweep found them.
    """

    director_failures: Mapping[str, Sequence[PriorFailure]] = field(default_factory=dict)
    parents: Sequence[ParentState] = ()
    wallet_gaps: Sequence[WalletGap] = ()


EMPTY_CONTEXT = Context()
"""A company with no known failed directors and no known parents."""
