"""Evaluation of a company's history: which signals hold, how they differ from what is open, and the
company's risk level and score."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol

from shared.schemas import Category, Severity, highest_severity

from .catalogue import CATALOGUE, distress_reported_by_sales, growth_opportunity
from .config import RulesConfig, default_rules
from .context import Context
from .events import SourceEvent
from .findings import Change, ChangeKind, Finding, OpenSignal, category_of
from .history import History
from .periods import require_utc

__all__ = ["Rated", "diff", "evaluate", "risk_level", "score"]

# Rules that read the findings of the others run last, in this order.
_DEPENDENT = (distress_reported_by_sales, growth_opportunity)


def evaluate(
    history: Iterable[SourceEvent] | History,
    context: Context,
    as_of: datetime,
    config: RulesConfig | None = None,
) -> dict[str, Finding]:
    """The signals that hold (should be OPEN) for the company as of `as_of`, by signal name.

    `history` is the company's source events, in any order and possibly with repeats: events are
    deduplicated by `(source, id)`, events after `as_of` are ignored and the rest are evaluated in
    event-time order (`History.prepare`), so the result depends only on the set of events. Windows end at
    `as_of` (aware). A `History` prepared for another time is cut again at `as_of` (it cannot hold events
    after its own `as_of`). `config` defaults to the shipped rules. The result is in catalogue order.
    """
    as_of = require_utc(as_of, "as_of")
    rules = config or default_rules()
    if isinstance(history, History):
        if history.as_of != as_of:
            history = History.prepare(history.events, as_of)
    else:
        history = History.prepare(history, as_of)
    found: dict[str, Finding] = {}
    for spec in CATALOGUE:
        if spec.rule in _DEPENDENT:
            continue
        finding = spec.rule(history, context, as_of, rules)
        if finding is not None:
            found[spec.name.value] = finding
    # Distress first: growth must see it, since it is a risk of medium or above.
    for rule in _DEPENDENT:
        finding = rule(history, context, as_of, rules, found=found)
        if finding is not None:
            found[finding.signal.value] = finding
    order = {spec.name.value: index for index, spec in enumerate(CATALOGUE)}
    return dict(sorted(found.items(), key=lambda item: order[item[0]]))


def diff(
    open_now: Mapping[str, OpenSignal],
    findings: Mapping[str, Finding],
    suppressed: Mapping[str, frozenset[str]] | None = None,
) -> list[Change]:
    """The changes that bring the open signals in line with `findings`, sorted by signal name.

    - a finding for a signal that is not open: `raised`;
    - an open signal whose finding differs in severity or in evidence event ids: `updated`;
    - an open signal without a finding: `resolved`.

    Signals resolved by hand are the caller's business: it does not pass them in `open_now`. So that such
    a signal is raised again only on NEW evidence, the caller passes, per signal, the evidence ids it had
    when it was resolved in `suppressed`: a finding whose evidence ids are all in that set is not raised.
    """
    changes: list[Change] = []
    for name in sorted(set(open_now) | set(findings)):
        current = open_now.get(name)
        finding = findings.get(name)
        if finding is None:
            if current is not None:
                changes.append(Change(ChangeKind.RESOLVED, name, None, current))
        elif current is None:
            hidden = (
                suppressed is not None and name in suppressed and finding.evidence_ids <= suppressed[name]
            )
            if not hidden:
                changes.append(Change(ChangeKind.RAISED, name, finding, None))
        elif finding.severity != current.severity or finding.evidence_ids != current.evidence_ids:
            changes.append(Change(ChangeKind.UPDATED, name, finding, current))
    return changes


class Rated(Protocol):
    """Anything with a signal name and a severity: a `Finding`, an `OpenSignal`."""

    @property
    def signal(self) -> str:
        """The signal name."""

    @property
    def severity(self) -> Severity:
        """Its severity."""


def _risks(signals: Mapping[str, Rated] | Iterable[Rated]) -> list[Rated]:
    items = signals.values() if isinstance(signals, Mapping) else signals
    # A name outside the catalogue (a signal added later) is taken as a risk: better too careful.
    return [item for item in items if (category_of(item.signal) or Category.RISK) is Category.RISK]


def risk_level(signals: Mapping[str, Rated] | Iterable[Rated]) -> Severity | None:
    """The company's risk level: the highest severity among its open RISK signals, None without any."""
    return highest_severity(item.severity for item in _risks(signals))


def score(signals: Mapping[str, Rated] | Iterable[Rated], config: RulesConfig | None = None) -> int:
    """The company's score, 0 to 100, higher is safer.

    Each open risk signal keeps a share (1 - weight of its severity) of the score:
    `score = round(100 * product(1 - w[severity]))` with by default w = critical 0.6, high 0.3,
    medium 0.15, low 0.05, info 0 (`score.weights` in the rules). No open risk: 100. One critical: 40;
    one high and one medium: 60 (59.5 rounded half up). Opportunity and retention signals do not count.
    """
    weights = (config or default_rules()).score.weights
    kept = 1.0
    for item in _risks(signals):
        kept *= 1.0 - weights.of(item.severity)
    # Rounded half up, after removing the float noise of the products (0.85 * 0.7 = 0.59499999...).
    value = math.floor(round(100 * kept, 6) + 0.5)
    return max(0, min(100, value))
