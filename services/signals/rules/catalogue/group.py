"""The group around the company: `parent_distress`."""

from __future__ import annotations

from datetime import datetime

from shared.schemas import BureauEventType, Evidence, Severity, ShareholderChange, SignalName

from ..config import RulesConfig
from ..context import Context, ParentState
from ..findings import Finding
from ..history import History
from ..wording import listing
from ._common import Item, bureau_data, make_finding, words

__all__ = ["parent_distress"]


def _parent_label(parent: ParentState) -> str:
    return f"{parent.name} ({parent.parent_company_id})" if parent.name else parent.parent_company_id


def parent_distress(
    history: History, context: Context, as_of: datetime, config: RulesConfig
) -> Finding | None:
    """`parent_distress` (risk, high): a parent holding `min_share_pct` (50) % or more is in distress.

    Holds when such a parent in the context has an open risk signal of severity high or critical. Evidence:
    one item per such signal (source `signal`, id `<parent id>/<signal>`, dated by `ParentState.since`, at
    most `as_of`), and the latest bureau `shareholder_change` naming the parent, if any. Resolved when no such
    parent remains.
    """
    shareholdings = bureau_data(history, BureauEventType.SHAREHOLDER_CHANGE, ShareholderChange)
    parents = sorted(context.parents, key=lambda parent: parent.parent_company_id)
    evidence: list[Item] = []
    clauses: list[str] = []
    moments: list[datetime] = []
    for parent in parents:
        if parent.share_pct < config.parent_distress.min_share_pct:
            continue
        serious = sorted(
            {
                (signal, Severity(severity))
                for signal, severity in parent.open_risk
                if Severity(severity) >= Severity.HIGH
            },
            key=lambda item: (-item[1].rank, item[0]),
        )
        if not serious:
            continue
        # A context gathered later than as_of must not date the evidence in the future.
        at = min(parent.since or as_of, as_of)
        moments.append(at)
        label = _parent_label(parent)
        clauses.append(
            f"{label}, holding {parent.share_pct:g} % of the shares, has "
            f"{listing([f'a {severity.value} {words(signal)} signal' for signal, severity in serious])} open"
        )
        evidence += [
            Evidence(
                source="signal",
                event_id=f"{parent.parent_company_id}/{signal}",
                type=signal,
                at=at,
                summary=f"Parent {label} has an open {severity.value} {words(signal)} signal.",
            )
            for signal, severity in serious
        ]
        stakes = [
            event for event, data in shareholdings if data.parent_company_id == parent.parent_company_id
        ]
        evidence += stakes[-1:]
    if not clauses:
        return None
    summary = "The parent company is in distress: " + "; ".join(clauses) + "."
    return make_finding(SignalName.PARENT_DISTRESS, summary, evidence, min(moments))
