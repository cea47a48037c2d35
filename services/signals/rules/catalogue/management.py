"""Who runs the company: `director_failure_history`, `management_churn` and `straw_man`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from shared.schemas import Evidence, ObservationKind, PersonAction, Publication, Rubric, SignalName

from ..config import RulesConfig
from ..context import Context, PriorFailure
from ..directors import Director, DirectorChange, director_changes, registered_directors, replay
from ..events import SourceEvent
from ..findings import Finding
from ..history import History
from ..periods import add_months, add_years, utc_day, within
from ..persons import display_name, person_key, same_person
from ..wording import listing, on, plural
from ._common import make_finding

__all__ = ["director_failure_history", "management_churn", "straw_man"]


def _failures_of(director: Director, context: Context, own: frozenset[str]) -> list[PriorFailure]:
    return [
        failure
        for failure in context.director_failures.get(person_key(director.name), ())
        if failure.company_id not in own
        and same_person(director.name, director.birth_year, failure.name, failure.birth_year)
    ]


def director_failure_history(
    history: History, context: Context, as_of: datetime, config: RulesConfig
) -> Finding | None:
    """`director_failure_history` (risk, high): a director in office has a bankruptcy in their past.

    For each director or manager in office (gazette appointments minus later resignations and
    dismissals), the context's failures of OTHER companies under the same person (`same_person`: same name,
    equal birth years when both are known) count when declared from `lookback_years` (5) before the
    appointment up to `as_of`. Evidence: the appointment; the summary names the person and the failed
    company. Resolved when every such person has resigned or was dismissed. `since` is the appointment,
    or the bankruptcy when it came later.
    """
    own = frozenset(event.company_id for event in history.events)
    lookback = config.director_failure_history.lookback_years
    hits: list[tuple[Director, PriorFailure, datetime]] = []
    for director in replay(history).directors:
        start = add_years(director.appointed_at.date(), -lookback)
        for failure in _failures_of(director, context, own):
            if start <= failure.bankrupt_on <= as_of.date():
                hits.append((director, failure, max(director.appointed_at, utc_day(failure.bankrupt_on))))
    if not hits:
        return None
    hits.sort(key=lambda hit: (hit[2], hit[0].appointment.id, hit[1].company_id))
    clauses = []
    for director, failure, _ in hits:
        born = f", born {director.birth_year}" if director.birth_year else ""
        company = (
            f"{failure.company_name} ({failure.company_id})" if failure.company_name else failure.company_id
        )
        clauses.append(
            f"{director.who} (appointed {director.role.value} on {on(director.appointed_at)}{born}) was a "
            f"director of {company}, declared bankrupt on {on(failure.bankrupt_on)}"
        )
    evidence = [
        director.appointment.evidence(
            type="appointment",
            summary=(
                f"{director.who} appointed {director.role.value} in the Official Gazette "
                f"{director.appointment.id} of {on(director.appointed_at)}."
            ),
        )
        for director, _, _ in hits
    ]
    return make_finding(SignalName.DIRECTOR_FAILURE_HISTORY, "; ".join(clauses) + ".", evidence, hits[0][2])


def _change_clause(changes: Sequence[DirectorChange]) -> str:
    groups = []
    for action in PersonAction:
        done = [f"{change.who} on {on(change.at)}" for change in changes if change.action is action]
        if done:
            groups.append(f"{action.value}: {listing(done)}")
    return "; ".join(groups)


def _director_evidence(change: DirectorChange) -> Evidence:
    rubric = Rubric.APPOINTMENT if change.action is PersonAction.APPOINTED else Rubric.RESIGNATION
    publication = change.event.payload
    if isinstance(publication, Publication) and rubric not in publication.rubrics:
        rubric = publication.rubrics[0]
    return change.event.evidence(type=rubric.value)


def management_churn(
    history: History, context: Context, as_of: datetime, config: RulesConfig
) -> Finding | None:
    """`management_churn` (risk, medium): the board keeps changing, or its last member left.

    Holds when (a) at least `min_changes` (2) director changes (role director or manager; an appointment of
    someone not in office, a resignation or a dismissal; each person counts, so one deed replacing a
    director is two changes; a renewal of someone in office is not a change) fall in
    (as_of - `window_months` (12), as_of], or (b) the board became empty through a resignation or dismissal
    and nobody was appointed since. Resolved when (a) falls out of the window and (b) by an appointment.
    """
    rules = config.management_churn
    board = replay(history)
    start = add_months(as_of, -rules.window_months)
    recent = [change for change in board.turnover if within(change.at, start, as_of)]
    churning = len(recent) >= max(rules.min_changes, 1)
    emptied = board.emptied_by if not board.directors else None
    if not churning and emptied is None:
        return None
    parts: list[str] = []
    moments: list[datetime] = []
    evidence: list[Evidence] = []
    if churning:
        parts.append(
            f"{plural(len(recent), 'director change')} in the last {rules.window_months} months "
            f"({_change_clause(recent)})"
        )
        moments.append(recent[max(rules.min_changes, 1) - 1].at)
        evidence += [_director_evidence(change) for change in recent]
    if emptied is not None:
        parts.append(
            f"no registered director is left since {emptied.who} {emptied.action.value} on {on(emptied.at)}"
        )
        moments.append(emptied.at)
        evidence.append(_director_evidence(emptied))
    summary = ", and ".join(parts)
    return make_finding(
        SignalName.MANAGEMENT_CHURN, summary[0].upper() + summary[1:] + ".", evidence, min(moments)
    )


def straw_man(history: History, context: Context, as_of: datetime, config: RulesConfig) -> Finding | None:
    """`straw_man` (risk, high): someone acts for the company who is not its registered director.

    Raised by
    - an observation `contact_not_director` in (as_of - `window_days` (365), as_of];
    - an observation in that window whose `contact_name` matches none of the directors registered at the
      time of the observation, and none appointed after it (a later appointment of that person clears it);
    - a current contact with `claims_director` whose name matches none of the directors registered now.
    A name is only judged when at least one director was registered at that time (the gazette data may
    not go back far enough otherwise). Names match with `same_person`; the claimant's birth year is unknown.
    Resolved when the observations leave the window and every claimant is (or became) a registered director.
    """
    start = as_of - timedelta(days=config.straw_man.window_days)
    appointments = [change for change in director_changes(history) if change.action is PersonAction.APPOINTED]

    def cleared(name: str, board: Sequence[Director], after: datetime | None) -> bool:
        if any(director.is_(name, None) for director in board):
            return True
        return after is not None and any(
            change.at > after and same_person(change.name, change.birth_year, name, None)
            for change in appointments
        )

    flagged: list[tuple[SourceEvent, str]] = []
    for event, observation in history.observations():
        if not within(event.at, start, as_of):
            continue
        name = display_name(observation.contact_name or "")
        if observation.kind is ObservationKind.CONTACT_NOT_DIRECTOR:
            who = f"their contact {name}" if name else "their contact"
            flagged.append(
                (event, f"{observation.reporter} reported on {on(event.at)} that {who} is not a director")
            )
        elif person_key(name):
            board = registered_directors(history, event.at)
            if board and not cleared(name, board, event.at):
                flagged.append(
                    (
                        event,
                        f"{name}, met by {observation.reporter} on {on(event.at)}, is not a registered director",
                    )
                )
    board_now = registered_directors(history)
    for event, contact in history.contacts():
        if contact.claims_director and board_now and not cleared(contact.name, board_now, None):
            flagged.append(
                (
                    event,
                    f"contact {display_name(contact.name)} claims to be a director but is not a registered one",
                )
            )
    if not flagged:
        return None
    flagged.sort(key=lambda item: (item[0].at, item[0].id))
    summary = "The people acting for the company may not be its directors: " + "; ".join(
        text for _, text in flagged[:3]
    )
    if board_now:
        summary += f" (registered: {listing([director.who for director in board_now])})"
    return make_finding(
        SignalName.STRAW_MAN, summary + ".", (event for event, _ in flagged), flagged[0][0].at
    )
