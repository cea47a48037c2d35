"""A company's history as the rules read it: deduplicated, cut at `as_of`, in event-time order."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from shared.schemas import (
    BureauEvent,
    BureauEventType,
    Contact,
    Observation,
    ObservationKind,
    Order,
    Publication,
    RegisterEvent,
    RegisterEventKind,
)

from .events import SourceEvent
from .periods import require_utc

__all__ = ["History"]


def _order(event: SourceEvent) -> tuple[datetime, str, str]:
    return (event.at, event.id, event.source)


def _latest(versions: list[SourceEvent]) -> SourceEvent:
    if len(versions) == 1:
        return versions[0]
    # At the same time a removal wins (it is final), then the payload decides, so that the input order
    # never does.
    return max(versions, key=lambda event: (event.at, _removed(event), event.payload.model_dump_json()))


def _removed(event: SourceEvent) -> bool:
    return isinstance(event.payload, Contact) and event.payload.deleted


@dataclass(frozen=True)
class History:
    """The source events of one company up to `as_of`, sorted by `(at, id, source)`.

    Build it with `History.prepare`; the typed views (`publications()`, `bureau(...)`...) return
    `(event, payload)` pairs in the same order.
    """

    events: tuple[SourceEvent, ...]
    as_of: datetime

    @classmethod
    def prepare(cls, events: Iterable[SourceEvent], as_of: datetime) -> History:
        """The history of `events` as of `as_of` (aware).

        - Events after `as_of` are left out: the rules judge what was known then.
        - Events with the same `(source, id)` are one event. Deliveries of the same event are identical; a
          contact, whose id is the caller's contact id, may come in versions: the latest (by `at`) is kept, a
          removal first when times are equal. Pass the current record of each contact where you can.
        - The result is sorted by `(at, id, source)`, so it never depends on the order of `events`.
        """
        as_of = require_utc(as_of, "as_of")
        versions: dict[tuple[str, str], list[SourceEvent]] = {}
        for event in events:
            if event.at <= as_of:
                versions.setdefault(event.key, []).append(event)
        kept = sorted((_latest(found) for found in versions.values()), key=_order)
        return cls(tuple(kept), as_of)

    @cached_property
    def _publications(self) -> list[tuple[SourceEvent, Publication]]:
        return [(e, e.payload) for e in self.events if isinstance(e.payload, Publication)]

    @cached_property
    def _bureau(self) -> list[tuple[SourceEvent, BureauEvent]]:
        return [(e, e.payload) for e in self.events if isinstance(e.payload, BureauEvent)]

    @cached_property
    def _observations(self) -> list[tuple[SourceEvent, Observation]]:
        return [(e, e.payload) for e in self.events if isinstance(e.payload, Observation)]

    def publications(self) -> list[tuple[SourceEvent, Publication]]:
        """Gazette publications."""
        return self._publications

    def bureau(self, *types: BureauEventType) -> list[tuple[SourceEvent, BureauEvent]]:
        """Credit-bureau events, of the given types only when types are given."""
        if not types:
            return self._bureau
        return [(e, p) for e, p in self._bureau if p.type in types]

    def observations(
        self, kinds: Collection[ObservationKind] | None = None
    ) -> list[tuple[SourceEvent, Observation]]:
        """Sales observations, of the given kinds only when kinds are given."""
        if kinds is None:
            return self._observations
        return [(e, p) for e, p in self._observations if p.kind in kinds]

    def orders(self) -> list[tuple[SourceEvent, Order]]:
        """The supplier's orders."""
        return [(e, e.payload) for e in self.events if isinstance(e.payload, Order)]

    def register(self, kind: RegisterEventKind) -> list[tuple[SourceEvent, RegisterEvent]]:
        """Register changes of one kind."""
        return [
            (e, e.payload)
            for e in self.events
            if isinstance(e.payload, RegisterEvent) and e.payload.kind is kind
        ]

    def contacts(self) -> list[tuple[SourceEvent, Contact]]:
        """The current record of each contact; removed contacts are left out."""
        return [
            (e, e.payload) for e in self.events if isinstance(e.payload, Contact) and not e.payload.deleted
        ]
