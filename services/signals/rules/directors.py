"""The company's directors as its gazette publications show them.

Only mandates that steer the company count: role `director` or `manager`. Auditors, liquidators and
representatives are left out. Within one publication, persons are applied in the order listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.schemas import PersonAction, PersonRole

from .events import SourceEvent
from .history import History
from .persons import display_name, same_person

__all__ = [
    "DIRECTOR_ROLES",
    "Director",
    "DirectorChange",
    "Replay",
    "director_changes",
    "registered_directors",
    "replay",
]

DIRECTOR_ROLES: frozenset[PersonRole] = frozenset({PersonRole.DIRECTOR, PersonRole.MANAGER})
LEAVING: frozenset[PersonAction] = frozenset({PersonAction.RESIGNED, PersonAction.DISMISSED})


@dataclass(frozen=True, slots=True)
class DirectorChange:
    """One person appointed, resigning or dismissed as director or manager, by one publication."""

    event: SourceEvent
    name: str
    birth_year: int | None
    role: PersonRole
    action: PersonAction

    @property
    def at(self) -> datetime:
        """When it was published."""
        return self.event.at

    @property
    def who(self) -> str:
        """The name for a sentence."""
        return display_name(self.name)


@dataclass(frozen=True, slots=True)
class Director:
    """A person in office: appointed and not resigned or dismissed since.

    `appointment` is the publication that FIRST appointed the person in the current mandate: a renewal of a
    person already in office does not move it.
    """

    name: str
    birth_year: int | None
    role: PersonRole
    appointment: SourceEvent

    @property
    def appointed_at(self) -> datetime:
        """When the appointment was published."""
        return self.appointment.at

    @property
    def who(self) -> str:
        """The name for a sentence."""
        return display_name(self.name)

    def is_(self, name: str, birth_year: int | None) -> bool:
        """True when `name` (born `birth_year`, if known) is this director (`same_person`)."""
        return same_person(self.name, self.birth_year, name, birth_year)


def director_changes(history: History) -> list[DirectorChange]:
    """Every director or manager change in the gazette, in publication order.

    A person listed twice with the same action in one publication is one change.
    """
    changes: list[DirectorChange] = []
    for event, publication in history.publications():
        seen: list[DirectorChange] = []
        for person in publication.persons:
            if person.role not in DIRECTOR_ROLES:
                continue
            change = DirectorChange(event, person.name, person.birth_year, person.role, person.action)
            if any(
                other.action is change.action
                and same_person(other.name, other.birth_year, change.name, change.birth_year)
                for other in seen
            ):
                continue
            seen.append(change)
        changes.extend(seen)
    return changes


@dataclass(frozen=True, slots=True)
class Replay:
    """The board after applying director changes in order.

    `directors`: in office, latest appointment first. `turnover`: the changes that changed the board (an
    appointment of someone not yet in office, or a resignation or dismissal), in order; renewals of a
    person in office are not turnover. `emptied_by`: when the board is empty now and was not before, the
    change that emptied it.
    """

    directors: tuple[Director, ...]
    turnover: tuple[DirectorChange, ...]
    emptied_by: DirectorChange | None


def replay(history: History, until: datetime | None = None) -> Replay:
    """The board as the gazette shows it at `until` (default: the whole history)."""
    board: list[Director] = []
    turnover: list[DirectorChange] = []
    emptied_by: DirectorChange | None = None
    for change in director_changes(history):
        if until is not None and change.at > until:
            break
        in_office = [d for d in board if d.is_(change.name, change.birth_year)]
        if change.action is PersonAction.APPOINTED:
            if not in_office:
                board.append(Director(change.name, change.birth_year, change.role, change.event))
                turnover.append(change)
                emptied_by = None
            continue
        # A resignation is turnover even for someone whose appointment predates our data.
        turnover.append(change)
        if in_office:
            board = [d for d in board if not d.is_(change.name, change.birth_year)]
            if not board:
                emptied_by = change
    directors = sorted(board, key=lambda d: (d.appointed_at, d.appointment.id), reverse=True)
    return Replay(tuple(directors), tuple(turnover), emptied_by)


def registered_directors(history: History, until: datetime | None = None) -> list[Director]:
    """The directors and managers in office at `until` (default: `history.as_of`), latest appointed first.

    Gazette appointments minus the later resignations and dismissals of the same person (`same_person`).
    """
    return list(replay(history, until).directors)
