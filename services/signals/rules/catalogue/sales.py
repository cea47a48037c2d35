"""What sales people see: `distress_reported_by_sales` and `growth_opportunity`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from shared.schemas import DISTRESS_KINDS, OPPORTUNITY_KINDS, Category, ObservationKind, Severity, SignalName

from ..config import RulesConfig
from ..context import Context
from ..events import observed
from ..findings import Finding
from ..history import History
from ..periods import within
from ..wording import listing, plural
from ._common import OFFICIAL_SOURCES, make_finding, words

__all__ = ["distress_reported_by_sales", "growth_opportunity"]


def _reporter(name: str) -> str:
    return " ".join(name.casefold().split())


def distress_reported_by_sales(
    history: History,
    context: Context,
    as_of: datetime,
    config: RulesConfig,
    found: Mapping[str, Finding] | None = None,
) -> Finding | None:
    """`distress_reported_by_sales` (risk, medium; high when corroborated): several sales reports of distress.

    Holds when the distress observations (every kind but growth, expansion plans and new product interest)
    in (as_of - `window_days` (90), as_of] hold at least `min_distinct` (2) different (kind, reporter) pairs.
    High when another open risk finding in `found` has evidence from the bureau, the gazette or the
    register dated at most `corroboration_days` (90) before one of those observations, or after it.
    Evidence: the observations and the corroborating events. Resolved when the reports leave the window.
    """
    rules = config.distress_reported_by_sales
    start = as_of - timedelta(days=rules.window_days)
    reports = [
        (event, obs) for event, obs in history.observations(DISTRESS_KINDS) if within(event.at, start, as_of)
    ]
    needed = max(rules.min_distinct, 1)
    pairs: set[tuple[ObservationKind, str]] = set()
    since: datetime | None = None
    for event, observation in reports:
        pairs.add((observation.kind, _reporter(observation.reporter)))
        if since is None and len(pairs) >= needed:
            since = event.at
    if since is None:
        return None
    earliest = reports[0][0].at - timedelta(days=rules.corroboration_days)
    support = [
        (finding, proof)
        for finding in (found or {}).values()
        if finding.category is Category.RISK and finding.signal is not SignalName.DISTRESS_REPORTED_BY_SALES
        for proof in finding.evidence
        if proof.source in OFFICIAL_SOURCES and earliest <= proof.at <= as_of
    ]
    kinds = list(dict.fromkeys(observed(observation.kind) for _, observation in reports))
    summary = (
        f"Sales reported {plural(len(reports), 'sign')} of distress in the last {rules.window_days} days "
        f"({listing(kinds, limit=4)})"
    )
    if support:
        signals = list(dict.fromkeys(words(finding.signal.value) for finding, _ in support))
        summary += (
            f", while the {listing(signals)} {'signal is' if len(signals) == 1 else 'signals are'} open"
        )
    return make_finding(
        SignalName.DISTRESS_REPORTED_BY_SALES,
        summary + ".",
        [*(event for event, _ in reports), *(proof for _, proof in support)],
        since,
        Severity.HIGH if support else Severity.MEDIUM,
    )


def growth_opportunity(
    history: History,
    context: Context,
    as_of: datetime,
    config: RulesConfig,
    found: Mapping[str, Finding] | None = None,
) -> Finding | None:
    """`growth_opportunity` (opportunity, info): a healthy customer that grows, or buys less than its peers.

    Holds when observations of growth, expansion plans or new product interest lie in
    (as_of - `window_days` (180), as_of], or when the context has share-of-wallet gaps (product lines the
    customer's segment buys and it does not) computed in that window, and no risk finding of medium or
    above is in `found`. Evidence: the reports, and for the gaps the customer's latest order up to as_of
    (what the analysis read). Resolved when both leave the window, or such a risk opens.
    """
    days = config.growth_opportunity.window_days
    start = as_of - timedelta(days=days)
    reports = [
        event for event, _ in history.observations(OPPORTUNITY_KINDS) if within(event.at, start, as_of)
    ]
    gaps = sorted(
        (gap for gap in context.wallet_gaps if within(gap.computed_at, start, as_of)),
        key=lambda gap: (-gap.potential, gap.product_line),
    )
    ordered = [event for event, _ in history.orders() if event.at <= as_of]
    if not reports and not (gaps and ordered):
        return None
    if any(f.category is Category.RISK and f.severity >= Severity.MEDIUM for f in (found or {}).values()):
        return None
    parts: list[str] = []
    evidence = list(reports)
    if reports:
        kinds = list(dict.fromkeys(observed(ObservationKind(event.type)) for event in reports))
        parts.append(f"Sales reported {listing(kinds)} in the last {days} days")
    if gaps and ordered:
        lines = [
            f"{gap.product_line} ({gap.share:.0%} of them, about €{gap.potential:,.0f} a year)"
            for gap in gaps
        ]
        parts.append(f"customers of its segment also buy {listing(lines)}, which it does not")
        evidence.append(max(ordered, key=lambda event: (event.at, event.id)))
    since = min([*(event.at for event in reports), *(gap.computed_at for gap in gaps if ordered)])
    summary = "; ".join(parts) + ", and no risk signal is open."
    return make_finding(
        SignalName.GROWTH_OPPORTUNITY,
        summary[0].upper() + summary[1:],
        evidence,
        since,
    )
