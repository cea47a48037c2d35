"""The company's activity and addresses: `dormant_reactivated` and `registered_office_moves`."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

from shared.schemas import RegisterEventKind, Rubric, SignalName

from ..config import RulesConfig
from ..context import Context
from ..events import SourceEvent
from ..findings import Finding
from ..history import History
from ..periods import add_months, add_years, within
from ..wording import listing, on, plural
from ._common import clause, make_finding, published

__all__ = ["dormant_reactivated", "registered_office_moves"]


def _full_years(start: datetime, end: datetime) -> int:
    years = 0
    while add_years(start, years + 1) <= end:
        years += 1
    return years


def dormant_reactivated(
    history: History, context: Context, as_of: datetime, config: RulesConfig
) -> Finding | None:
    """`dormant_reactivated` (risk, medium): a dormant company suddenly shows activity again.

    Activity is a gazette publication or a bureau event. An activity at least `dormant_years` (3) after the
    previous one (there must be one) reactivates the company; the signal is open from that event until
    `open_days` (180) after it (open while as_of < event + 180 days), then resolved. Only the latest
    reactivation counts. Evidence: the reactivating event and the previous activity.
    """
    rules = config.dormant_reactivated
    activity = [event for event in history.events if event.source in ("publication", "bureau")]
    woken: tuple[SourceEvent, SourceEvent] | None = None
    for previous, current in pairwise(activity):
        if current.at >= add_years(previous.at, rules.dormant_years):
            woken = (previous, current)
    if woken is None:
        return None
    previous, current = woken
    if as_of >= current.at + timedelta(days=rules.open_days):
        return None
    gap = _full_years(previous.at, current.at)
    return make_finding(
        SignalName.DORMANT_REACTIVATED,
        f"After {plural(gap, 'year')} without gazette or bureau activity (the last on {on(previous.at)}), "
        f"the company is active again: {clause(current)}.",
        [previous, current],
        current.at,
    )


def _office_moves(history: History, same_move: timedelta) -> list[list[SourceEvent]]:
    """Registered-office moves, each with the one or two reports of it, in order of the first report.

    The gazette and the register report the same move; a register change is paired with the nearest
    unpaired gazette publication at most `same_move` away, so that one move is not counted twice.
    """
    gazette = [event for event, _ in published(history, frozenset({Rubric.REGISTERED_OFFICE}))]
    register = [event for event, _ in history.register(RegisterEventKind.REGISTERED_OFFICE)]
    moves: list[list[SourceEvent]] = []
    unpaired = list(gazette)
    for change in register:
        near = [event for event in unpaired if abs(event.at - change.at) <= same_move]
        if near:
            partner = min(near, key=lambda event: (abs(event.at - change.at), event.at, event.id))
            unpaired.remove(partner)
            moves.append(sorted([partner, change], key=lambda event: (event.at, event.id)))
        else:
            moves.append([change])
    moves += [[event] for event in unpaired]
    return sorted(moves, key=lambda move: (move[0].at, move[0].id))


def registered_office_moves(
    history: History, context: Context, as_of: datetime, config: RulesConfig
) -> Finding | None:
    """`registered_office_moves` (risk, medium): the company keeps moving its registered office.

    Holds when at least `min_changes` (2) moves are first reported in (as_of - `window_months` (12),
    as_of]. A move is a gazette publication with rubric `registered_office` or a register
    `registered_office` change; a publication and a register change at most `same_move_days` (60) apart are
    one move reported twice. Resolved when the moves fall out of the window.
    """
    rules = config.registered_office_moves
    start = add_months(as_of, -rules.window_months)
    moves = [
        move
        for move in _office_moves(history, timedelta(days=rules.same_move_days))
        if within(move[0].at, start, as_of)
    ]
    needed = max(rules.min_changes, 1)
    if len(moves) < needed:
        return None
    dates = listing([on(move[0].at) for move in moves], limit=5)
    return make_finding(
        SignalName.REGISTERED_OFFICE_MOVES,
        f"The registered office moved {len(moves)} times in the last {rules.window_months} months "
        f"(on {dates}).",
        (event for move in moves for event in move),
        moves[needed - 1][0].at,
    )
