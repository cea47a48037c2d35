"""Bulk import of publications, bureau events, orders, portfolio companies and contacts from NDJSON or CSV.

The file is read into rows by `services.ingest.rows` (formats and columns are described there). Valid rows
are accepted in batches; rejected rows are written to the rejected file, one JSON object per line:
`{"line", "reason", "errors": [{"path", "message"}], "row"}`.

After each batch a checkpoint records how far the file was imported; a run interrupted for any reason
continues from there when it is run again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from services.ingest.intake import Conflict, Intake, Item
from services.ingest.rows import Format, Kind, Row, RowProblem, build_item, detect_format, read_rows
from shared.web import validation_details

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "ImportResult",
    "Progress",
    "rejected_path_for",
    "run_import",
    "state_path_for",
]

DEFAULT_BATCH_SIZE = 1000
# A batch is also cut at this many bytes of rows, so that a batch of huge rows stays small in memory.
MAX_BATCH_BYTES = 32 * 1024 * 1024
FINGERPRINT_BYTES = 64 * 1024
STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did, counted over every run of the same file (a resumed run included)."""

    accepted: int
    """Rows that became new events."""
    duplicates: int
    """Rows that had been received before with the same content: no new event."""
    rejected: int
    resumed_from_line: int | None
    """The line this run started at when it continued an interrupted import."""
    rejected_path: Path | None
    """Where the rejected rows are; None when no row was rejected."""
    elapsed: float
    """Seconds this run took."""
    restarted: str | None = None
    """Why a checkpoint found for the file was not used, if one was found and not used."""
    rows_this_run: int = 0

    @property
    def rows(self) -> int:
        """Every non-blank row of the file."""
        return self.accepted + self.duplicates + self.rejected


Progress = Callable[[int, int, int], None]
"""Called with (bytes_done, bytes_total, rows_done_this_run) at the start and after each batch."""


def rejected_path_for(path: Path) -> Path:
    """Default file of the rejected rows: `FILE.rejected.ndjson`."""
    return path.with_name(path.name + ".rejected.ndjson")


def state_path_for(path: Path) -> Path:
    """Default checkpoint file: `FILE.import-state.json`."""
    return path.with_name(path.name + ".import-state.json")


# ----------------------------------------------------------------------------------------------------
# Checkpoints


@dataclass(slots=True)
class _Counts:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0


@dataclass(frozen=True, slots=True)
class _Checkpoint:
    version: int
    kind: str
    format: str
    fingerprint: dict[str, Any]
    offset: int
    line: int
    accepted: int
    duplicates: int
    rejected: int
    rejected_path: str
    rejected_size: int


def _fingerprint(path: Path) -> dict[str, Any]:
    """What identifies the content of the file well enough to continue importing it."""
    stat = path.stat()
    with path.open("rb") as fh:
        head = hashlib.sha256(fh.read(FINGERPRINT_BYTES)).hexdigest()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256_head": head}


def _load_checkpoint(state: Path) -> _Checkpoint | None:
    """The checkpoint in `state`; None when there is none; ValueError when it cannot be read."""
    try:
        raw = state.read_text("utf-8")
    except FileNotFoundError:
        return None
    try:
        return _Checkpoint(**json.loads(raw))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"the checkpoint {state} cannot be read ({exc})") from None


def _save_checkpoint(state: Path, checkpoint: _Checkpoint) -> None:
    # Written to a temporary file and renamed: a crash leaves the old checkpoint or the new one, never half.
    temporary = state.with_name(state.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as fh:
        json.dump(asdict(checkpoint), fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temporary, state)


# ----------------------------------------------------------------------------------------------------
# The import


@dataclass(slots=True)
class _Batch:
    start: int
    end: int
    line: int
    """The number of the last line read (the next batch starts after it)."""
    rows: list[tuple[Row, Item]] = field(default_factory=list)
    rejected: list[tuple[Row, RowProblem]] = field(default_factory=list)
    size: int = 0


@dataclass(frozen=True, slots=True)
class _Start:
    offset: int
    line: int
    counts: _Counts
    resumed_from_line: int | None
    restarted: str | None


class _Run:
    """One run over one file; file work is synchronous and runs in a worker thread."""

    def __init__(
        self,
        intake: Intake,
        kind: Kind,
        path: Path,
        fmt: Format,
        rejected: Path,
        state: Path,
        batch_size: int,
        progress: Progress | None,
    ) -> None:
        self.intake = intake
        self.kind = kind
        self.path = path
        self.fmt = fmt
        self.rejected_path = rejected
        self.state = state
        self.batch_size = batch_size
        self.progress = progress
        self.fingerprint: dict[str, Any] = {}
        self.total = 0
        self.rows_this_run = 0
        self.counts = _Counts()

    def start(self, restart: bool) -> _Start:
        """Where to begin: the checkpoint when it belongs to this file, else the beginning."""
        self.fingerprint = _fingerprint(self.path)
        self.total = int(self.fingerprint["size"])
        reason: str | None = None
        try:
            checkpoint = _load_checkpoint(self.state)
        except ValueError as exc:
            checkpoint, reason = None, f"{exc}; starting over"
        else:
            reason = self._mismatch(checkpoint) if checkpoint else None
        if checkpoint is None or restart or reason is not None:
            if checkpoint is not None and restart:
                reason = "--restart: the checkpoint of an earlier import was ignored"
            # A fresh import: rejected rows of an earlier import of this file are no longer meaningful.
            self.rejected_path.unlink(missing_ok=True)
            self.state.unlink(missing_ok=True)
            return _Start(0, 0, _Counts(), None, reason)
        self._trim_rejected(checkpoint)
        counts = _Counts(checkpoint.accepted, checkpoint.duplicates, checkpoint.rejected)
        return _Start(checkpoint.offset, checkpoint.line, counts, checkpoint.line + 1, None)

    def _mismatch(self, checkpoint: _Checkpoint) -> str | None:
        if checkpoint.version != STATE_VERSION:
            return "the checkpoint was written by another version; starting over"
        if (checkpoint.kind, checkpoint.format) != (self.kind.value, self.fmt.value):
            return f"the checkpoint is of an import as {checkpoint.kind} ({checkpoint.format}); starting over"
        if checkpoint.fingerprint != self.fingerprint:
            return "the file changed since the interrupted import; starting over"
        return None

    def _trim_rejected(self, checkpoint: _Checkpoint) -> None:
        """Drop rejected rows written after the checkpoint: their rows are read again now."""
        if Path(checkpoint.rejected_path) != self.rejected_path:
            return
        with contextlib.suppress(FileNotFoundError), self.rejected_path.open("r+b") as fh:
            if fh.seek(0, io.SEEK_END) > checkpoint.rejected_size:
                fh.truncate(checkpoint.rejected_size)

    def batches(self, start: _Start) -> Generator[_Batch, None, None]:
        """The file's rows in batches (validated into items), in a background-thread-friendly iterator."""
        with self.path.open("rb") as fh:
            batch = _Batch(start.offset, start.offset, start.line)
            for row in read_rows(fh, self.kind, self.fmt, offset=start.offset, line=start.line):
                self._add(batch, row)
                if batch.size >= self.batch_size or batch.end - batch.start >= MAX_BATCH_BYTES:
                    yield batch
                    batch = _Batch(batch.end, batch.end, batch.line)
            if batch.size:
                yield batch

    def _add(self, batch: _Batch, row: Row) -> None:
        batch.end, batch.line, batch.size = row.end, row.end_line, batch.size + 1
        if row.problem is not None or row.data is None:
            batch.rejected.append((row, row.problem or RowProblem("unreadable row")))
            return
        try:
            batch.rows.append((row, build_item(self.kind, row.data)))
        except ValidationError as exc:
            details = validation_details(exc.errors())
            fields = ", ".join(d["path"] or "(row)" for d in details[:5])
            batch.rejected.append((row, RowProblem(f"invalid row: {fields}", details)))

    async def accept(self, batch: _Batch) -> None:
        """Publish the batch's items; a conflict with an earlier item is a rejected row."""
        items = [item for _, item in batch.rows]
        outcomes = await self.intake.accept(items) if items else []
        for (row, _), outcome in zip(batch.rows, outcomes, strict=True):
            if isinstance(outcome, Conflict):
                batch.rejected.append((row, RowProblem(outcome.message, [])))
            elif outcome.duplicate:
                self.counts.duplicates += 1
            else:
                self.counts.accepted += 1
        if self.kind in (Kind.portfolio, Kind.contacts):
            await self._store_states(batch, outcomes)
        self.counts.rejected += len(batch.rejected)
        self.rows_this_run += batch.size

    async def _store_states(self, batch: _Batch, outcomes: Sequence[object]) -> None:
        # As the PUT endpoints do; of several rows of a company (or contact) the store keeps the last.
        items = [
            item
            for (_, item), outcome in zip(batch.rows, outcomes, strict=True)
            if not isinstance(outcome, Conflict)
        ]
        if self.kind == Kind.portfolio:
            await self.intake.store.put_portfolio(
                [(item.company_id, item.payload.model_dump(mode="json")) for item in items]
            )
        else:
            await self.intake.store.put_contacts([item.payload.model_dump(mode="json") for item in items])

    def record(self, batch: _Batch) -> None:
        """Write the batch's rejected rows, then the checkpoint after it (in this order, so that a
        crash in between only leaves rejected rows that the next run trims away)."""
        if batch.rejected:
            with self.rejected_path.open("ab") as fh:
                for row, problem in sorted(batch.rejected, key=lambda pair: pair[0].line):
                    fh.write(_rejected_line(row, problem))
                fh.flush()
                os.fsync(fh.fileno())
        try:
            rejected_size = self.rejected_path.stat().st_size
        except FileNotFoundError:
            rejected_size = 0
        checkpoint = _Checkpoint(
            version=STATE_VERSION,
            kind=self.kind.value,
            format=self.fmt.value,
            fingerprint=self.fingerprint,
            offset=batch.end,
            line=batch.line,
            accepted=self.counts.accepted,
            duplicates=self.counts.duplicates,
            rejected=self.counts.rejected,
            rejected_path=str(self.rejected_path),
            rejected_size=rejected_size,
        )
        _save_checkpoint(self.state, checkpoint)

    def report(self, done: int) -> None:
        if self.progress is not None:
            self.progress(done, self.total, self.rows_this_run)


def _rejected_line(row: Row, problem: RowProblem) -> bytes:
    entry = {"line": row.line, "reason": problem.reason, "errors": problem.errors, "row": row.raw}
    return orjson.dumps(entry, default=str) + b"\n"


async def run_import(
    intake: Intake,
    kind: Kind,
    path: Path,
    *,
    fmt: Format | None = None,
    rejected_path: Path | None = None,
    state_path: Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    restart: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import `path` as `kind`: validate each row, accept the valid ones in batches, write the others
    to the rejected file, and keep a checkpoint so that an interrupted import continues where it stopped.

    Continuing is safe even though the last batch before an interruption may have been published
    without its checkpoint: publications, bureau events and orders get event ids derived from their
    natural keys, so those rows come out as duplicates (no second event); a portfolio or contact row is
    the state of a company or contact, and publishing the same state again changes nothing.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    began = time.monotonic()
    kind = Kind(kind)
    chosen = detect_format(path, fmt)
    run = _Run(
        intake,
        kind,
        path,
        chosen,
        rejected_path or rejected_path_for(path),
        state_path or state_path_for(path),
        batch_size,
        progress,
    )
    start = await asyncio.to_thread(run.start, restart)
    run.counts = start.counts
    run.report(start.offset)
    batches = run.batches(start)
    try:
        while (batch := await asyncio.to_thread(next, batches, None)) is not None:
            await run.accept(batch)
            await asyncio.to_thread(run.record, batch)
            run.report(batch.end)
    finally:
        batches.close()
    await asyncio.to_thread(run.state.unlink, True)
    run.report(run.total)
    return ImportResult(
        accepted=run.counts.accepted,
        duplicates=run.counts.duplicates,
        rejected=run.counts.rejected,
        resumed_from_line=start.resumed_from_line,
        rejected_path=run.rejected_path if run.counts.rejected else None,
        elapsed=time.monotonic() - began,
        restarted=start.restarted,
        rows_this_run=run.rows_this_run,
    )
