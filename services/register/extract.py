"""A KBO/BCE Open Data extract on disk, a folder or the zip as published, read as streams of CSV rows.

Nothing is loaded whole: a file is read row by row through the csv module (a zip member is inflated as it
is read), so memory stays flat however large the file. `meta.csv` says which extract it is.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import IO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "CsvFile",
    "Extract",
    "ExtractError",
    "ExtractKind",
    "ExtractMeta",
    "parse_meta",
]

READ_BUFFER = 1024 * 1024
# The tables an extract holds, in the order they are applied (enterprises first: struck-off enterprises
# are noted before their other rows go).
TABLES: tuple[str, ...] = ("enterprise", "denomination", "address", "activity", "establishment")


class ExtractError(Exception):
    """The path is not a readable KBO/BCE extract (no meta.csv, a file missing, a wrong header...)."""


class ExtractKind(StrEnum):
    FULL = "full"
    UPDATE = "update"


@dataclass(frozen=True, slots=True)
class ExtractMeta:
    """What `meta.csv` says: the extract's number (one sequence for full and update extracts) and date."""

    number: int
    kind: ExtractKind
    snapshot_date: date
    """The day the register was photographed (at midnight)."""
    timestamp: datetime
    """When the extract was made, in UTC."""
    version: str | None = None


def _brussels() -> tzinfo:
    try:
        return ZoneInfo("Europe/Brussels")
    except ZoneInfoNotFoundError:  # pragma: no cover - a system without a time-zone database
        return timezone(timedelta(hours=1))


def parse_meta(rows: Iterable[Sequence[str]]) -> ExtractMeta:
    """The meta of an extract from the rows of its `meta.csv` (Variable, Value); `ExtractError` if unusable."""
    values = {row[0].strip(): row[1].strip() for row in rows if len(row) >= 2}
    try:
        number = int(values["ExtractNumber"])
        kind = ExtractKind(values["ExtractType"].lower())
        snapshot = datetime.strptime(values["SnapshotDate"], "%d-%m-%Y").date()
    except KeyError as exc:
        raise ExtractError(f"meta.csv has no {exc.args[0]}") from None
    except ValueError as exc:
        raise ExtractError(f"meta.csv is not understood: {exc}") from None
    stamp = values.get("ExtractTimestamp", "")
    try:
        # Brussels time, as the register keeps it.
        local = datetime.strptime(stamp, "%d-%m-%Y %H:%M:%S").replace(tzinfo=_brussels())
    except ValueError:
        local = datetime(snapshot.year, snapshot.month, snapshot.day, tzinfo=UTC) + timedelta(days=1)
    return ExtractMeta(number, kind, snapshot, local.astimezone(UTC), values.get("Version"))


class CsvFile:
    """One CSV file of an extract being read: its header, then its rows (blank lines skipped).

    `line` is the line number of the last row read, `position` how many bytes of the file were read.
    """

    def __init__(self, binary: IO[bytes], name: str) -> None:
        self.name = name
        self._binary = binary
        self._text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        self._reader = csv.reader(self._text, strict=False)
        try:
            self.header: list[str] = next(self._reader)
        except StopIteration:
            self.header = []
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ExtractError(f"{name}: the header cannot be read ({exc})") from None

    @property
    def line(self) -> int:
        return self._reader.line_num

    @property
    def position(self) -> int:
        return self._binary.tell()

    def __iter__(self) -> Iterator[list[str]]:
        for fields in self._reader:
            if fields:
                yield fields

    def close(self) -> None:
        self._text.close()


class Extract:
    """An extract at `path` (a folder or a .zip); a context manager, so that a zip is closed again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, str] = {}
        self.meta: ExtractMeta
        if path.is_dir():
            self._members = {p.name.lower(): str(p) for p in path.iterdir() if p.suffix.lower() == ".csv"}
        elif zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            self._members = {
                Path(info.filename).name.lower(): info.filename
                for info in self._zip.infolist()
                if not info.is_dir() and info.filename.lower().endswith(".csv")
            }
        elif path.exists():
            raise ExtractError(f"{path} is neither a folder nor a zip file")
        else:
            raise ExtractError(f"{path} does not exist")
        if "meta.csv" not in self._members:
            self.close()
            raise ExtractError(f"{path} holds no meta.csv: not a KBO/BCE Open Data extract")
        meta = self.open("meta.csv")
        try:
            self.meta = parse_meta([meta.header, *meta])
        finally:
            meta.close()

    def __enter__(self) -> Extract:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def files(self) -> list[str]:
        """The names of the extract's CSV files, lowercase (`enterprise_insert.csv`)."""
        return sorted(self._members)

    def has(self, name: str) -> bool:
        return name.lower() in self._members

    def size(self, name: str) -> int:
        """The file's size in bytes (uncompressed for a zip member)."""
        member = self._members[name.lower()]
        if self._zip is not None:
            return self._zip.getinfo(member).file_size
        return Path(member).stat().st_size

    def open(self, name: str) -> CsvFile:
        """The file `name`, opened at its first row (its header read)."""
        member = self._members.get(name.lower())
        if member is None:
            raise ExtractError(f"{self.path} has no {name}")
        binary: IO[bytes]
        if self._zip is not None:
            binary = self._zip.open(member)
        else:
            binary = open(member, "rb", buffering=READ_BUFFER)  # noqa: SIM115 - closed by CsvFile.close
        return CsvFile(binary, name)
