"""Loading a KBO/BCE extract into the register, and announcing what changed for monitored companies.

An import runs in steps, each recorded in `register_progress` in the same transaction as the rows it wrote:
1. `baseline`: monitored companies never announced get their state as it is before the extract;
2. one step per file: a full extract replaces each table, an update deletes the keys of
   `<table>_delete.csv`, then inserts `<table>_insert.csv`, table by table; rows are read as a stream and
   written in batches (`COPY` on PostgreSQL), broken rows are counted and reported, never fatal;
3. `events`: each monitored company whose state is not the one announced gets its `RegisterEvent`s
   published on `ew.register`, then its new state is recorded.
An interrupted import continues, when run again, after the last batch it committed. The events' ids are
`register_event_id` (extract number, company, kind): publishing them again after a crash between the
publish and the record is harmless, consumers deduplicate. An extract that was loaded is not loaded again,
and one older than the register refuses to load.
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.register import store
from services.register.changes import Candidate, ExtractContext, decide
from services.register.extract import TABLES, CsvFile, Extract, ExtractError, ExtractKind, ExtractMeta
from services.register.rows import DELETE_KEYS, SPECS, MissingColumns, Row, RowError, office_text
from services.signals.rules import register_event_id
from shared import topics
from shared.bus import Bus, Record
from shared.cloudevents import new_event
from shared.db import exclusive, utcnow
from shared.schemas import RegisterEvent

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "ExtractRefused",
    "LoadResult",
    "Progress",
    "RegisterLoadError",
    "StepResult",
    "admit",
    "load_extract",
    "plan",
]

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 20_000
EVENTS_PAGE = 1_000
MAX_EXAMPLES = 20
SOURCE = "/earlywarning/import/kbo"
# Any fixed 64-bit number: one `import kbo` at a time per database.
LOCK_ID = 0x45574B424F  # "EWKBO"

TARGETS: dict[str, Table] = {
    "code": store.register_codes,
    "enterprise": store.register_enterprises,
    "denomination": store.register_denominations,
    "address": store.register_offices,
    "activity": store.register_activities,
    "establishment": store.register_establishments,
}
"""The register table each table of the extract goes to."""

KEYS: dict[str, str] = {
    "enterprise": "company_id",
    "denomination": "company_id",
    "address": "company_id",
    "activity": "company_id",
    "establishment": "establishment_number",
}
"""The column the keys of `<table>_delete.csv` are matched on."""


class RegisterLoadError(Exception):
    """The import cannot run: the message says why and what to do."""


class ExtractRefused(RegisterLoadError):
    """The extract does not fit the register: older than what is loaded, or another one is unfinished."""


Progress = Callable[[str, int, int, int], None]
"""Called with (step, bytes_done, bytes_total, rows_done) when a step starts and after each batch."""

Action = Literal["load", "delete", "insert"]


@dataclass(frozen=True, slots=True)
class Step:
    """One file of the extract and what to do with it."""

    file: str
    table: str
    action: Action
    """load: replace the table's content; delete: remove the rows of the keys; insert: add the rows."""


def plan(kind: ExtractKind) -> list[Step]:
    """The files of an extract of `kind`, in the order they are applied (deletes before inserts)."""
    steps = [Step("code.csv", "code", "load")]
    for table in TABLES:
        if kind is ExtractKind.FULL:
            steps.append(Step(f"{table}.csv", table, "load"))
        else:
            steps.append(Step(f"{table}_delete.csv", table, "delete"))
            steps.append(Step(f"{table}_insert.csv", table, "insert"))
    return steps


@dataclass(frozen=True, slots=True)
class Admission:
    already_loaded: bool = False
    notes: tuple[str, ...] = ()


def admit(meta: ExtractMeta, extracts: Sequence[store.ExtractRecord]) -> Admission:
    """Whether extract `meta` may load onto a register that saw `extracts`; `ExtractRefused` if not."""
    if any(r.number == meta.number and r.status == "done" for r in extracts):
        return Admission(already_loaded=True)
    unfinished = [r for r in extracts if r.status != "done" and r.number != meta.number]
    if unfinished:
        other = unfinished[-1]
        raise ExtractRefused(
            f"extract {other.number} ({other.kind}) was interrupted: import it again to finish it "
            f"before extract {meta.number}"
        )
    done = [r.number for r in extracts if r.status == "done"]
    last = max(done, default=None)
    if last is not None and meta.number < last:
        raise ExtractRefused(
            f"extract {meta.number} ({meta.kind}, {meta.snapshot_date:%d-%m-%Y}) is older than extract "
            f"{last}, which is loaded: the register does not go back"
        )
    notes: list[str] = []
    if meta.kind is ExtractKind.UPDATE and last is None:
        notes.append("no full extract was loaded before: the register holds what this update inserts")
    elif meta.kind is ExtractKind.UPDATE and last is not None and meta.number > last + 1:
        notes.append(
            f"extracts {last + 1}-{meta.number - 1} were not loaded: their changes are missing until "
            "the next full extract"
        )
    return Admission(notes=tuple(notes))


@dataclass(frozen=True, slots=True)
class StepResult:
    step: str
    rows: int
    """Data rows of the file (kept, skipped as not used, or rejected)."""
    written: int
    """Rows inserted or deleted; for `events`, the events published."""
    rejected: int
    examples: tuple[str, ...] = ()
    """The first rejected rows: `line N: reason`."""
    resumed_at: int | None = None
    """The row this run continued at, when an earlier run was interrupted in this step."""


@dataclass(frozen=True, slots=True)
class LoadResult:
    meta: ExtractMeta
    steps: tuple[StepResult, ...]
    events: dict[str, int]
    """Events published by this run, per kind."""
    already_loaded: bool = False
    resumed: bool = False
    notes: tuple[str, ...] = ()
    elapsed: float = 0.0

    @property
    def rejected(self) -> int:
        return sum(step.rejected for step in self.steps)


async def load_extract(
    engine: AsyncEngine,
    bus: Bus,
    path: Path,
    *,
    horizon_years: int = 5,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> LoadResult:
    """Load the extract at `path` (a folder or a zip) and publish the changes of monitored companies.

    Raises `ExtractError` when the path is not a readable extract, `RegisterLoadError` when it may not load.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    began = time.monotonic()
    extract = await asyncio.to_thread(Extract, path)
    try:
        steps = plan(extract.meta.kind)
        missing = [step.file for step in steps if not extract.has(step.file)]
        if missing:
            raise ExtractError(
                f"{path} is an incomplete {extract.meta.kind} extract: no {', '.join(missing)}"
            )
        async with exclusive(engine, LOCK_ID) as mine:
            if not mine:
                raise RegisterLoadError("another `import kbo` is running on this database; wait for it")
            run = _Run(engine, bus, extract, steps, horizon_years, batch_size, progress)
            result = await run.run()
    finally:
        extract.close()
    return LoadResult(
        result.meta,
        result.steps,
        result.events,
        result.already_loaded,
        result.resumed,
        result.notes,
        time.monotonic() - began,
    )


@dataclass(slots=True)
class _Batch:
    rows: list[Row] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    consumed: int = 0
    rejected: list[str] = field(default_factory=list)
    exhausted: bool = False
    position: int = 0


class _Reader:
    """One file being read in batches, in a worker thread; the mapping is the pure `rows` module's."""

    def __init__(self, file: CsvFile, step: Step, skip: int) -> None:
        self.file = file
        self.step = step
        try:
            if step.action == "delete":
                self.key = DELETE_KEYS[step.table](file.header)
            else:
                self.mapper = SPECS[step.table].mapper(file.header)
        except MissingColumns as exc:
            raise ExtractError(f"{step.file}: {exc}") from None
        self.rows: Iterator[list[str]] = iter(file)
        if skip:
            self._consume(lambda: sum(1 for _ in itertools.islice(self.rows, skip)))

    def _consume(self, work: Callable[[], object]) -> object:
        # A file that stops being CSV or UTF-8 is not a broken row but a broken file: the import stops.
        try:
            return work()
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ExtractError(f"{self.step.file} line {self.file.line}: cannot be read ({exc})") from None

    def batch(self, size: int) -> _Batch:
        batch = _Batch()
        self._consume(lambda: self._fill(batch, size))
        batch.position = self.file.position
        return batch

    def _fill(self, batch: _Batch, size: int) -> None:
        deleting = self.step.action == "delete"
        for fields in self.rows:
            batch.consumed += 1
            try:
                if deleting:
                    key = self.key(fields)
                    if key is not None:
                        batch.keys.append(key)
                else:
                    row = self.mapper(fields)
                    if row is not None:
                        batch.rows.append(row)
            except RowError as exc:
                batch.rejected.append(f"line {self.file.line}: {exc}")
            if batch.consumed >= size:
                return
        batch.exhausted = True


class _Run:
    def __init__(
        self,
        engine: AsyncEngine,
        bus: Bus,
        extract: Extract,
        steps: list[Step],
        horizon_years: int,
        batch_size: int,
        progress: Progress | None,
    ) -> None:
        self.engine = engine
        self.bus = bus
        self.extract = extract
        self.meta = extract.meta
        self.steps = steps
        self.horizon_years = horizon_years
        self.batch_size = batch_size
        self.progress = progress

    async def run(self) -> LoadResult:
        meta = self.meta
        async with self.engine.begin() as conn:
            admission = admit(meta, await store.extracts(conn))
            if not admission.already_loaded:
                await store.begin_extract(
                    conn, meta.number, meta.kind.value, meta.snapshot_date, meta.timestamp, utcnow()
                )
            before = await store.progress(conn, meta.number)
        if admission.already_loaded:
            steps = tuple(self._result(step.file, before.get(step.file)) for step in self.steps)
            return LoadResult(meta, steps, {}, already_loaded=True)
        if not before.get("baseline", store.Progress()).done:
            async with self.engine.begin() as conn:
                await store.adopt_monitored(conn, meta.number)
                await store.save_progress(conn, meta.number, "baseline", store.Progress(done=True), utcnow())
        results = [await self._file(step, before.get(step.file)) for step in self.steps]
        events_result, events = await self._events(before.get("events"))
        results.append(events_result)
        async with self.engine.begin() as conn:
            await store.finish_extract(conn, meta.number, utcnow())
            if meta.kind is ExtractKind.FULL:  # an update changes too little to move the statistics
                await store.analyse(conn, TARGETS.values())
        return LoadResult(meta, tuple(results), dict(events), resumed=bool(before), notes=admission.notes)

    @staticmethod
    def _result(step: str, state: store.Progress | None, resumed_at: int | None = None) -> StepResult:
        state = state or store.Progress()
        return StepResult(step, state.rows, state.written, state.rejected, tuple(state.examples), resumed_at)

    def _report(self, step: str, done: int, total: int, rows: int) -> None:
        if self.progress is not None:
            self.progress(step, done, total, rows)

    async def _file(self, step: Step, earlier: store.Progress | None) -> StepResult:
        state = earlier or store.Progress()
        total = self.extract.size(step.file)
        if state.done:
            self._report(step.file, total, total, 0)
            return self._result(step.file, state)
        resumed_at = state.rows + 1 if state.rows else None
        file = await asyncio.to_thread(self.extract.open, step.file)
        ahead: asyncio.Future[_Batch] | None = None
        try:
            reader = await asyncio.to_thread(_Reader, file, step, state.rows)
            # The code table is small and read whole, so that it is replaced in one transaction.
            size = 10**9 if step.table == "code" else self.batch_size
            fresh, rows_this_run = state.rows == 0, 0
            self._report(step.file, file.position, total, 0)
            ahead = asyncio.ensure_future(asyncio.to_thread(reader.batch, size))
            while not state.done:
                assert ahead is not None  # set for as long as the file is not read to its end
                batch = await ahead
                # The next batch is read (in a thread) while this one is written.
                ahead = (
                    None if batch.exhausted else asyncio.ensure_future(asyncio.to_thread(reader.batch, size))
                )
                async with self.engine.begin() as conn:
                    state.written += await self._apply(conn, step, batch, fresh)
                    fresh = False
                    state.rows += batch.consumed
                    state.rejected += len(batch.rejected)
                    state.examples.extend(batch.rejected[: MAX_EXAMPLES - len(state.examples)])
                    state.done = batch.exhausted
                    if state.done and step.table == "enterprise" and step.action != "delete":
                        await store.settle_departures(conn)
                    await store.save_progress(conn, self.meta.number, step.file, state, utcnow())
                rows_this_run += batch.consumed
                self._report(step.file, total if state.done else batch.position, total, rows_this_run)
        finally:
            if ahead is not None:
                # The reading thread cannot be stopped: let it finish before its file is closed.
                await asyncio.gather(ahead, return_exceptions=True)
            await asyncio.to_thread(file.close)
        return self._result(step.file, state, resumed_at)

    async def _apply(self, conn: AsyncConnection, step: Step, batch: _Batch, fresh: bool) -> int:
        """Write one batch; how many rows it inserted or deleted."""
        table = TARGETS[step.table]
        if step.action == "delete":
            if step.table == "enterprise":
                await store.note_departures(conn, self.meta.number, self.meta.snapshot_date, batch.keys)
            return await store.delete_keys(conn, table, KEYS[step.table], batch.keys)
        rows = batch.rows
        if step.action == "load" and fresh:
            if step.table == "enterprise":
                await store.note_departures(conn, self.meta.number, self.meta.snapshot_date, None)
            await store.clear(conn, table)
        if step.table == "code":
            rows = list({row[:3]: row for row in rows}.values())
        await store.insert_rows(conn, table, SPECS[step.table].columns, rows)
        return len(rows)

    async def _events(self, earlier: store.Progress | None) -> tuple[StepResult, Counter[str]]:
        state = earlier or store.Progress()
        counts: Counter[str] = Counter()
        if state.done:
            return self._result("events", state), counts
        async with self.engine.connect() as conn:
            situations = await store.descriptions(conn, "JuridicalSituation")
        after = ""
        while True:
            async with self.engine.connect() as conn:
                page = await store.candidates(conn, after, EVENTS_PAGE)
                moved = [c.company_id for c in page if _moved(c)]
                offices = await store.offices(conn, moved)
            context = ExtractContext(
                extract_number=self.meta.number,
                observed_at=self.meta.timestamp,
                snapshot_date=self.meta.snapshot_date,
                horizon_years=self.horizon_years,
                situations=situations,
                offices={
                    cid: office_text(o.zipcode, o.municipality, o.street, o.house_number, o.box, o.country)
                    for cid, o in offices.items()
                },
            )
            events = [event for candidate in page for event in decide(candidate, context)]
            if events:
                await self.bus.publish([_record(event) for event in events])
            async with self.engine.begin() as conn:
                await store.save_watch(conn, {c.company_id: c.now for c in page}, self.meta.number)
                state.rows += len(page)
                state.written += len(events)
                state.done = len(page) < EVENTS_PAGE
                await store.save_progress(conn, self.meta.number, "events", state, utcnow())
            counts.update(event.kind.value for event in events)
            self._report("events", state.rows, 0, state.rows)
            if state.done:
                return self._result("events", state), counts
            after = page[-1].company_id


def _moved(candidate: Candidate) -> bool:
    before, now = candidate.before, candidate.now
    return bool(before and before.office and now.office and before.office != now.office)


def _record(event: RegisterEvent) -> Record:
    """The event as a CloudEvent on `ew.register`, with its deterministic id, dated by the extract."""
    return new_event(
        f"earlywarning.register.{event.kind.value}",
        SOURCE,
        event.company_id,
        event,
        id=register_event_id(event),
        time=event.observed_at,
    ).to_record(topics.REGISTER)
