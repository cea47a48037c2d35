"""Reading import files into rows: publications, bureau events, orders, portfolio companies and contacts.

Each row goes through the same request model as the HTTP API and becomes an intake item with the same
builders, so an imported row and the same item posted over HTTP are one event.

Formats (chosen from the extension, or given explicitly):

- NDJSON (`.ndjson`, `.jsonl`, `.json`): one JSON object per line, exactly the body the HTTP API takes
  (portfolio: the `PUT /v1/portfolio/{company_id}` body plus `company_id`; contacts: the
  `PUT /v1/companies/{company_id}/contacts/{contact_id}` body plus `company_id` and `contact_id`).
- CSV (`.csv`): a header row naming the columns, then one row per item. The delimiter is taken from the
  header line (the most frequent of `,`, `;` and tab), so spreadsheet exports with `;` work as well.
  A quoted cell may span lines; a quote still open at the end of the file, or text after a closing
  quote, makes the row a rejected one. An empty cell means "absent".

CSV columns per kind:

- orders: `company_id, order_id, ordered_at, amount_eur, product_line`.
- portfolio: `company_id, name, account_manager, segment, credit_limit_eur, nace, region, employees,
  customer_since`.
- contacts: `company_id, contact_id, name, function, email, phone, dmu_role, claims_director,
  last_contact_at, reporter`; `claims_director` is true/false, 1/0 or yes/no (empty: false).
- publications: `reference, company_id, company_name, published_on, rubrics, persons, text`; `rubrics`
  holds one or more rubrics separated by `|` or `;`, `persons` (optional) a JSON array of
  `{name, birth_year?, role, action}`.
- bureau: `id, company_id, type, occurred_at`, and the event data either as a JSON object in a `data`
  column or as one column per field named `data.<field>` (e.g. `data.from`, `data.to`).

Unknown, duplicate or missing required columns make the whole file unusable (`ImportFileError`), since
every row would fail the same way. Problems of one row concern that row only: a row that cannot be read
comes out with its `RowProblem`, and `build_item` raises `ValidationError` for a row that is not a valid
request body.

Rows are read as a stream (memory does not grow with the file), each with the byte offset just after it,
so that reading can continue from any row boundary.
"""

from __future__ import annotations

import csv
import enum
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from pydantic import BaseModel, Field

from services.ingest.intake import (
    Item,
    bureau_item,
    contact_item,
    order_item,
    portfolio_item,
    publication_item,
)
from services.ingest.models import BureauEventIn, ContactIn, OrderIn, PortfolioIn, PublicationIn
from shared.company_id import CompanyId
from shared.schemas import BUREAU_DATA_MODELS, CONTACT_ID_PATTERN

__all__ = [
    "MAX_LINE_BYTES",
    "ContactRowIn",
    "Format",
    "ImportFileError",
    "Kind",
    "PortfolioRowIn",
    "Row",
    "RowProblem",
    "build_item",
    "check_file",
    "columns",
    "detect_format",
    "read_rows",
]

MAX_LINE_BYTES = 1024 * 1024

_BOM = b"\xef\xbb\xbf"
# How much of an unreadable line is kept in the rejected file: enough to find it, not the whole line.
_SHOWN_PREFIX = 200
_RUBRIC_SEPARATORS = re.compile(r"[|;]")


class Kind(enum.StrEnum):
    """What a file holds."""

    publications = "publications"
    bureau = "bureau"
    orders = "orders"
    portfolio = "portfolio"
    contacts = "contacts"


class Format(enum.StrEnum):
    """How a file is written."""

    ndjson = "ndjson"
    csv = "csv"


_EXTENSIONS = {".ndjson": Format.ndjson, ".jsonl": Format.ndjson, ".json": Format.ndjson, ".csv": Format.csv}


class ImportFileError(Exception):
    """The file as a whole cannot be imported (unknown format, unusable CSV header, ...)."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why a row is rejected: a sentence, and the bad fields when there are any."""

    reason: str
    errors: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Row:
    """One row of the file: its fields when it could be read, its problem otherwise."""

    line: int
    """Number of the row's first line, from 1."""
    end: int
    """Byte offset just after the row: where reading continues."""
    end_line: int
    """Number of the row's last line (a CSV row may span lines)."""
    data: dict[str, Any] | None
    raw: Any
    """What the rejected file shows: the parsed row, or the text when it could not be parsed."""
    problem: RowProblem | None = None


# ----------------------------------------------------------------------------------------------------
# Kinds: the model of a row, how it becomes an item, and its CSV columns


class PortfolioRowIn(PortfolioIn):
    """A portfolio row: the `PUT /v1/portfolio/{company_id}` body with the company id in it."""

    company_id: CompanyId


class ContactRowIn(ContactIn):
    """A contact row: the `PUT /v1/companies/{company_id}/contacts/{contact_id}` body with both ids in it."""

    company_id: CompanyId
    contact_id: str = Field(pattern=CONTACT_ID_PATTERN)


def _publication(data: dict[str, Any]) -> Item:
    return publication_item(PublicationIn.model_validate(data))


def _bureau(data: dict[str, Any]) -> Item:
    return bureau_item(BureauEventIn.model_validate(data))


def _order(data: dict[str, Any]) -> Item:
    return order_item(OrderIn.model_validate(data))


def _portfolio(data: dict[str, Any]) -> Item:
    row = PortfolioRowIn.model_validate(data)
    body = PortfolioIn.model_validate(row.model_dump(exclude={"company_id"}))
    return portfolio_item(row.company_id, body)


def _contact(data: dict[str, Any]) -> Item:
    row = ContactRowIn.model_validate(data)
    body = ContactIn.model_validate(row.model_dump(exclude={"company_id", "contact_id"}))
    return contact_item(row.company_id, row.contact_id, body)


_BUILDERS: dict[Kind, Callable[[dict[str, Any]], Item]] = {
    Kind.publications: _publication,
    Kind.bureau: _bureau,
    Kind.orders: _order,
    Kind.portfolio: _portfolio,
    Kind.contacts: _contact,
}


def build_item(kind: Kind, data: dict[str, Any]) -> Item:
    """The intake item of one row; `ValidationError` when the row is not a valid request body."""
    return _BUILDERS[kind](data)


def _field_names(model: type[BaseModel]) -> tuple[list[str], set[str]]:
    """(every field's name as written on input, the required ones)."""
    names: list[str] = []
    required: set[str] = set()
    for name, info in model.model_fields.items():
        written = info.alias or name
        names.append(written)
        if info.is_required():
            required.add(written)
    return names, required


_BUREAU_DATA_COLUMNS = sorted(
    {f"data.{name}" for model in BUREAU_DATA_MODELS.values() for name in _field_names(model)[0]}
)


def columns(kind: Kind) -> tuple[list[str], set[str]]:
    """The CSV columns of `kind` (in the documented order) and the required ones."""
    if kind == Kind.portfolio:
        names, required = _field_names(PortfolioIn)
        return ["company_id", *names], {"company_id", *required}
    if kind == Kind.contacts:
        names, required = _field_names(ContactIn)
        return ["company_id", "contact_id", *names], {"company_id", "contact_id", *required}
    if kind == Kind.bureau:
        names, required = _field_names(BureauEventIn)
        # `data` may be left out altogether (ubo_change has none) or given per field.
        return [*names, *_BUREAU_DATA_COLUMNS], required - {"data"}
    model = PublicationIn if kind == Kind.publications else OrderIn
    return _field_names(model)


def _check_header(kind: Kind, header: list[str]) -> None:
    known, required = columns(kind)
    problems: list[str] = []
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        problems.append(f"duplicated column(s): {', '.join(duplicated)}")
    unknown = [name for name in header if name not in known]
    if unknown:
        problems.append(f"unknown column(s): {', '.join(repr(n) for n in unknown)}")
    missing = [name for name in known if name in required and name not in header]
    if missing:
        problems.append(f"missing required column(s): {', '.join(missing)}")
    if kind == Kind.bureau and "data" in header and any(n.startswith("data.") for n in header):
        problems.append(
            "give the bureau data either in a 'data' column or in 'data.<field>' columns, not both"
        )
    if problems:
        raise ImportFileError(
            f"the CSV header does not fit {kind.value}: {'; '.join(problems)}. "
            f"The columns of {kind.value} are: {', '.join(known)}"
        )


# ----------------------------------------------------------------------------------------------------
# Reading lines: binary, with byte offsets, bounded in length


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    end: int
    content: bytes
    """The line with its line ending; only a prefix when the line is too long."""
    too_long: bool = False


def _lines(fh: BinaryIO, offset: int, line: int) -> Iterator[_Line]:
    """The lines of `fh` from byte `offset` (the start of line `line + 1`).

    A line longer than MAX_LINE_BYTES is skipped in chunks, never held in memory; it comes out marked
    `too_long` with its first bytes.
    """
    fh.seek(offset)
    position = offset
    number = line
    while True:
        chunk = fh.readline(MAX_LINE_BYTES + 1)
        if not chunk:
            return
        number += 1
        position += len(chunk)
        if position == len(chunk) and chunk.startswith(_BOM):
            chunk = chunk[len(_BOM) :]
        if chunk.endswith(b"\n") or len(chunk) <= MAX_LINE_BYTES:
            yield _Line(number, position, chunk)
            continue
        prefix = chunk[:_SHOWN_PREFIX]
        while not chunk.endswith(b"\n"):
            chunk = fh.readline(64 * 1024)
            if not chunk:
                break
            position += len(chunk)
        yield _Line(number, position, prefix, too_long=True)


_TOO_LONG = RowProblem(f"line longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB")


def _decode(content: bytes) -> tuple[str, RowProblem | None]:
    """The text of a line; with replacement characters and a problem when it is not UTF-8."""
    try:
        return content.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        problem = RowProblem(f"not valid UTF-8 (byte {exc.start + 1} of the line)")
        return content.decode("utf-8", "replace"), problem


def _shown(text: str) -> str:
    text = text.rstrip("\r\n")
    return text if len(text) <= _SHOWN_PREFIX else text[:_SHOWN_PREFIX] + "…"


# ----------------------------------------------------------------------------------------------------
# NDJSON


def _ndjson_rows(fh: BinaryIO, offset: int, line: int) -> Iterator[Row]:
    first = True
    for current in _lines(fh, offset, line):
        if current.too_long:
            text, _ = _decode(current.content)
            yield Row(current.number, current.end, current.number, None, _shown(text), _TOO_LONG)
            continue
        text, problem = _decode(current.content)
        if problem is not None:
            yield Row(current.number, current.end, current.number, None, _shown(text), problem)
            continue
        if not text.strip():
            continue
        if first and offset == 0 and text.lstrip().startswith("["):
            raise ImportFileError(
                "the file starts with a JSON array; expected NDJSON: one JSON object per line"
            )
        first = False
        yield _ndjson_row(current, text)


def _ndjson_row(current: _Line, text: str) -> Row:
    at = (current.number, current.end, current.number)
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return Row(*at, None, _shown(text), RowProblem(f"not valid JSON: {exc}"))
    if not isinstance(value, dict):
        return Row(*at, None, value, RowProblem(f"not a JSON object but {_json_type(value)}"))
    return Row(*at, value, value)


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a boolean" if isinstance(value, bool) else "a number"


# ----------------------------------------------------------------------------------------------------
# CSV


class _RecordTooLong(Exception):
    """The CSV record being read grew past the limit (most likely a quote that is never closed)."""


class _CsvLines:
    """Decoded lines for `csv.reader`, remembering the problems and the extent of the current record.

    A class rather than a generator: it must survive an exception raised through `csv.reader`.
    """

    def __init__(self, lines: Iterator[_Line], offset: int, line: int) -> None:
        self._lines = lines
        self.end = offset
        self.line = line
        self.problems: list[RowProblem] = []
        self.record_bytes = 0
        self.text: list[str] = []

    def start_record(self) -> None:
        self.problems = []
        self.record_bytes = 0
        self.text = []

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        current = next(self._lines)
        self.end = current.end
        self.line = current.number
        self.record_bytes += len(current.content)
        text, problem = _decode(current.content)
        if current.too_long:
            problem, text = _TOO_LONG, "\n"
        if problem is not None:
            self.problems.append(problem)
        if len(self.text) < 3:
            self.text.append(text)
        if self.record_bytes > MAX_LINE_BYTES:
            raise _RecordTooLong
        return text


def _delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_header(fh: BinaryIO) -> tuple[list[str], str, int, int]:
    """(column names, delimiter, byte offset after the header, its line number) of a CSV file."""
    for current in _lines(fh, 0, 0):
        if current.too_long:
            raise ImportFileError("the CSV header line is longer than 1 MiB")
        text, problem = _decode(current.content)
        if problem is not None:
            raise ImportFileError(f"the CSV header is {problem.reason}")
        if not text.strip():
            continue
        delimiter = _delimiter(text)
        try:
            cells = next(csv.reader([text], delimiter=delimiter, strict=True))
        except csv.Error as exc:
            raise ImportFileError(f"the CSV header cannot be read: {exc}{_header_hint(text)}") from None
        return [cell.strip() for cell in cells], delimiter, current.end, current.number
    raise ImportFileError("the CSV file is empty: it needs a header row")


def _header_hint(text: str) -> str:
    """Why a header line may be unreadable as CSV, in the two ways files commonly come wrong."""
    if "\x00" in text:
        return " (it holds NUL bytes: is the file UTF-16? Save it as UTF-8)"
    if "\r" in text.rstrip("\r\n"):
        return " (the lines end in CR alone: save the file with LF or CRLF line ends)"
    return ""


def _csv_rows(fh: BinaryIO, kind: Kind, offset: int, line: int) -> Iterator[Row]:
    header, delimiter, header_end, header_line = _read_header(fh)
    _check_header(kind, header)
    if offset < header_end:
        offset, line = header_end, header_line
    source = _CsvLines(_lines(fh, offset, line), offset, line)
    # Strict: a quote still open at the end of the file, or text after a closing quote, is a bad row, not
    # a cell that silently swallowed the rows after it.
    reader = csv.reader(source, delimiter=delimiter, strict=True)
    while True:
        source.start_record()
        number = source.line + 1
        problem: RowProblem | None = None
        try:
            cells = next(reader)
        except StopIteration:
            return
        except _RecordTooLong:
            problem = RowProblem("row longer than 1 MiB (a quote that is never closed?)")
        except csv.Error as exc:
            problem = _csv_problem(exc)
        if problem is not None:
            # The reader stopped mid-record; a new one starts clean at the next line.
            reader = csv.reader(source, delimiter=delimiter, strict=True)
        elif source.problems:
            problem = source.problems[0]
        elif not any(cell.strip() for cell in cells):
            continue
        at = (number, source.end, source.line)
        if problem is not None:
            yield Row(*at, None, _shown("".join(source.text)), problem)
        else:
            yield _csv_row(kind, header, cells, at)


def _csv_problem(exc: csv.Error) -> RowProblem:
    if "field larger than field limit" in str(exc):
        return RowProblem(
            f"a cell longer than {csv.field_size_limit():,} characters (a quote that is never closed?)"
        )
    return RowProblem(f"bad CSV: {exc}")


def _csv_row(kind: Kind, header: list[str], cells: list[str], at: tuple[int, int, int]) -> Row:
    raw: dict[str, Any] = dict(zip(header, cells, strict=False))
    if len(cells) > len(header):
        raw["(extra cells)"] = cells[len(header) :]
        problem = RowProblem(f"the row has {len(cells)} cells but the header {len(header)} columns")
        return Row(*at, None, raw, problem)
    # Empty cells are absent fields: the model's default applies, or the field is reported missing.
    present: dict[str, Any] = {name: cell.strip() for name, cell in raw.items() if cell.strip()}
    try:
        data = _CSV_SHAPERS[kind](present)
    except _CellError as exc:
        errors = [{"path": exc.path, "message": exc.message}]
        return Row(*at, None, raw, RowProblem(f"invalid row: {exc.path}", errors))
    return Row(*at, data, raw)


class _CellError(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _json_cell(cells: dict[str, Any], name: str) -> None:
    if name in cells:
        try:
            cells[name] = json.loads(cells[name])
        except json.JSONDecodeError as exc:
            raise _CellError(name, f"not valid JSON: {exc}") from None


def _shape_publication(cells: dict[str, Any]) -> dict[str, Any]:
    if "rubrics" in cells:
        cells["rubrics"] = [r.strip() for r in _RUBRIC_SEPARATORS.split(cells["rubrics"]) if r.strip()]
    _json_cell(cells, "persons")
    return cells


def _shape_bureau(cells: dict[str, Any]) -> dict[str, Any]:
    _json_cell(cells, "data")
    data = {name.removeprefix("data."): cells.pop(name) for name in list(cells) if name.startswith("data.")}
    if data or "data" not in cells:
        cells["data"] = data
    return cells


def _flat(cells: dict[str, Any]) -> dict[str, Any]:
    return cells


_CSV_SHAPERS: dict[Kind, Callable[[dict[str, Any]], dict[str, Any]]] = {
    Kind.publications: _shape_publication,
    Kind.bureau: _shape_bureau,
    Kind.orders: _flat,
    Kind.portfolio: _flat,
    # claims_director: pydantic reads true/false, 1/0 and yes/no; an empty cell is absent, so false.
    Kind.contacts: _flat,
}


# ----------------------------------------------------------------------------------------------------
# Public reading API


def detect_format(path: Path, explicit: Format | None = None) -> Format:
    """`explicit`, else the format of the file's extension; `ImportFileError` when it cannot tell."""
    if explicit is not None:
        return explicit
    found = _EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise ImportFileError(
            f"cannot tell the format of {path.name} from its extension "
            "(.ndjson, .jsonl, .json or .csv); give it with --format"
        )
    return found


def read_rows(fh: BinaryIO, kind: Kind, fmt: Format, *, offset: int = 0, line: int = 0) -> Iterator[Row]:
    """The rows of a file opened in binary mode, from byte `offset` (the start of line `line + 1`).

    Blank lines are skipped; unreadable rows come with their problem. A CSV file's header is read from the
    start of the file whatever the offset, so `offset` may be any row boundary returned in `Row.end`.
    """
    if fmt == Format.csv:
        return _csv_rows(fh, kind, offset, line)
    return _ndjson_rows(fh, offset, line)


def check_file(path: Path, kind: Kind, fmt: Format | None = None) -> Format:
    """The format of `path` once the checks of the file as a whole passed (format, CSV header, NDJSON
    that is not a JSON array); `ImportFileError` otherwise. Reads only the start of the file."""
    chosen = detect_format(path, fmt)
    with path.open("rb") as fh:
        next(read_rows(fh, kind, chosen), None)
    return chosen
