"""Properties of the import file readers (`services.ingest.rows`) on generated good, broken and hostile files.

- Whatever the bytes, reading raises nothing but `ImportFileError`, the documented error of a whole file,
  and `build_item` nothing but pydantic's `ValidationError`.
- Every good row written comes out exactly once, with its data and the number of its first line; every
  broken row comes out as a rejected row with its line number and a reason; nothing else comes out.
- Line numbers and byte offsets only grow, each row's end is a line boundary, and reading on from any
  row's end gives exactly the rows after it (what a resumed import relies on).
- A line over the limit is never held in memory, whatever its length.
- Files in another encoding (latin-1, UTF-16 with or without BOM) never come out as good rows.
"""

from __future__ import annotations

import io
import json
import tempfile
import tracemalloc
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.ingest.rows import (
    MAX_LINE_BYTES,
    Format,
    ImportFileError,
    Kind,
    Row,
    build_item,
    columns,
    read_rows,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Byte sequences that are not UTF-8 whatever follows them at a character boundary: a latin-1 letter, a
# lead byte without its continuation, an overlong form, an encoded surrogate, bytes UTF-8 never uses.
BAD_UTF8 = [b"\xe9", b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xe2\x82", b"\xff"]
# What a shown (rejected) unreadable line may keep: a prefix, never the line.
SHOWN_LIMIT = 250


def rows(data: bytes, kind: Kind, fmt: Format, **at: int) -> list[Row]:
    return list(read_rows(io.BytesIO(data), kind, fmt, **at))


def check_rows(data: bytes, found: list[Row], kind: Kind, fmt: Format) -> None:
    """What holds of the rows of ANY file: ordered, on line boundaries, each good or rejected with a reason,
    and the same rows when reading goes on from any row's end."""
    last_end, last_line = 0, 0
    for row in found:
        assert last_line < row.line <= row.end_line, row
        assert last_end < row.end <= len(data), row
        done = data[: row.end]
        assert done.endswith(b"\n") or row.end == len(data), "a row ends at a line boundary"
        # The end offset and the end line agree: as many line breaks before the end as lines ended.
        assert done.count(b"\n") + (0 if done.endswith(b"\n") else 1) == row.end_line, row
        assert (row.data is None) == (row.problem is not None), row
        if row.problem is not None:
            assert row.problem.reason.strip()
        else:
            assert isinstance(row.data, dict)
        last_end, last_line = row.end, row.end_line
    for index, row in enumerate(found):
        assert rows(data, kind, fmt, offset=row.end, line=row.end_line) == found[index + 1 :]


def read_any(data: bytes, kind: Kind, fmt: Format) -> list[Row] | None:
    """The rows, checked; None when the file as a whole is refused (the only error allowed)."""
    try:
        found = rows(data, kind, fmt)
    except ImportFileError as exc:
        refused: ImportFileError = exc
    else:
        check_rows(data, found, kind, fmt)
        return found
    assert str(refused), "the file error says what is wrong"
    return None


# ---------------------------------------------------------------------------------------------- any bytes

INTERESTING = st.sampled_from(
    [
        b'"',
        b",",
        b";",
        b"\t",
        b"\n",
        b"\r",
        b"\r\n",
        b"\x00",
        b"\xff",
        b"\xef\xbb\xbf",
        b"[",
        b"{",
        b"}",
        b"\\",
    ]
)
VALID_CSV = (
    b"company_id,order_id,ordered_at,amount_eur,product_line\r\n"
    b'0403.170.701,SO-1,2025-10-07T13:45:00Z,12480.75,"pack, ""aging"""\r\n'
    b'0403.170.701,SO-2,2025-10-08T10:00:00Z,10,"two\nlines"\r\n'
)
VALID_NDJSON = (
    b'{"company_id": "0403.170.701", "order_id": "SO-1", "amount_eur": 1}\n'
    b'{"company_id": "0403.170.701", "order_id": "SO-2", "note": "caf\\u00e9 \\"q\\""}\r\n'
)


@st.composite
def mutated(draw: st.DrawFn, valid: bytes) -> bytes:
    """`valid` with a few bytes inserted, removed or replaced, mostly ones that mean something to a reader."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        piece = draw(st.one_of(INTERESTING, st.binary(min_size=1, max_size=3)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        if action == "insert":
            data[at:at] = piece
        elif action == "delete":
            del data[at : at + len(piece)]
        else:
            data[at : at + len(piece)] = piece
    return bytes(data)


@SETTINGS
@given(
    st.one_of(
        st.binary(max_size=600),
        st.lists(INTERESTING | st.binary(max_size=8), max_size=60).map(b"".join),
        mutated(VALID_CSV),
        mutated(VALID_NDJSON),
    ),
    st.sampled_from(list(Kind)),
    st.sampled_from(list(Format)),
)
def test_any_bytes_give_checked_rows_or_the_file_error(data: bytes, kind: Kind, fmt: Format) -> None:
    read_any(data, kind, fmt)


# A JSON value of any kind, as bodies hold them; and strings that look like the values fields expect.
TRICKY = st.sampled_from(
    [
        "1e999999999",
        "-0",
        "NaN",
        "Infinity",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+01:00",
        "2025-10-07T13:45:00",
        "2025-02-30",
        "0403.170.701",
        "BE 0403 170 701",
        "\x00",
        "\u202e",
        "' OR 1=1 --",
    ]
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    TRICKY,
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def bodies(draw: st.DrawFn, kind: Kind) -> dict[str, Any]:
    """A row's fields: the kind's columns (and now and then another name) with any JSON values."""
    names, _ = columns(kind)
    wanted = [*names, "data", "persons", "unknown"]
    chosen = draw(st.lists(st.sampled_from(wanted), unique=True, max_size=len(wanted)))
    return {name: draw(JSON_VALUES) for name in chosen}


@SETTINGS
@given(st.sampled_from(list(Kind)), st.data())
def test_building_an_item_raises_only_validation_errors(kind: Kind, data: st.DataObject) -> None:
    body = data.draw(bodies(kind))
    try:
        item = build_item(kind, body)
    except ValidationError as exc:
        invalid: ValidationError = exc
    else:
        assert item.company_id.startswith(("BE", "NL"))
        return
    assert invalid.errors(), "a validation error names the bad fields"


# ---------------------------------------------------------------------------------------------- NDJSON


@dataclass(frozen=True)
class Line:
    """One line of a generated file: what it holds and what reading it must give."""

    content: bytes
    """Without its line ending."""
    data: dict[str, Any] | None = None
    """The data of a good row."""
    reason: str | None = None
    """How the rejection reason of a broken row starts; neither: a blank line, skipped."""

    @property
    def blank(self) -> bool:
        return self.data is None and self.reason is None


JSON_OBJECTS = st.dictionaries(
    st.text(max_size=12),
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**53), 2**53),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=60),
    ),
    max_size=5,
)
BLANKS = st.sampled_from([b"", b" ", b"\t", b"  \t "]).map(Line)
LINE_ENDS = st.sampled_from([b"\n", b"\r\n"])


@st.composite
def good_ndjson(draw: st.DrawFn) -> Line:
    value = draw(JSON_OBJECTS)
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    padding = draw(st.sampled_from(["", " ", "\t"]))
    return Line((padding + text + padding).encode(), data=value)


@st.composite
def broken_ndjson(draw: st.DrawFn) -> Line:
    value = draw(JSON_OBJECTS.filter(bool))
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    how = draw(
        st.sampled_from(["utf8", "utf16", "truncated", "nul", "unclosed", "scalar", "crlf-inside", "huge"])
    )
    if how == "utf8":
        at = draw(st.integers(0, len(text)))
        bad = draw(st.sampled_from(BAD_UTF8))
        return Line(text[:at].encode() + bad + text[at:].encode(), reason="not valid UTF-8")
    if how == "utf16":
        # An object as a UTF-16 exporter writes it: with a BOM not UTF-8, without one full of NULs.
        codec = draw(st.sampled_from(["utf-16", "utf-16-le", "utf-16-be"]))
        ascii_text = json.dumps(value)  # ASCII: no byte of it is a line feed
        reason = "not valid UTF-8" if codec == "utf-16" else "not valid JSON"
        return Line(ascii_text.encode(codec), reason=reason)
    if how == "truncated":
        return Line(text[: draw(st.integers(1, len(text) - 1))].encode(), reason="not valid JSON")
    if how == "nul":
        at = draw(st.integers(0, len(text)))
        return Line((text[:at] + "\x00" + text[at:]).encode(), reason="not valid JSON")
    if how == "unclosed":
        note = draw(st.text(st.characters(exclude_characters='"\\\n\r'), max_size=30))
        return Line(f'{{"note": "{note}}}'.encode(), reason="not valid JSON")
    if how == "scalar":
        scalar = draw(st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=20)))
        return Line(json.dumps(scalar).encode(), reason="not a JSON object")
    if how == "crlf-inside":
        # A lone CR does not end a line: two objects on one line are one bad line, not two rows.
        return Line(text.encode() + b"\r" + text.encode(), reason="not valid JSON")
    extra = draw(st.integers(1, 3 * MAX_LINE_BYTES))
    return Line(b'{"note": "' + b"x" * (MAX_LINE_BYTES + extra) + b'"}', reason="line longer than 1 MiB")


@st.composite
def files(draw: st.DrawFn, lines: st.SearchStrategy[Line]) -> tuple[bytes, list[Line]]:
    """A file of the drawn lines, each with its own line ending, the last one perhaps without."""
    drawn = draw(st.lists(lines, max_size=12))
    data = b""
    for index, line in enumerate(drawn):
        last = index == len(drawn) - 1
        data += line.content + (b"" if last and draw(st.booleans()) else draw(LINE_ENDS))
    return data, drawn


def check_against(found: list[Row], lines: list[Line], first_line: int = 1) -> None:
    """Each good line once with its data, each broken one rejected with its reason, at its number."""
    expected = [(number, line) for number, line in enumerate(lines, first_line) if not line.blank]
    assert [row.line for row in found] == [number for number, _ in expected]
    for row, (_, line) in zip(found, expected, strict=True):
        if line.data is not None:
            assert row.problem is None, row.problem
            assert row.data == line.data
        else:
            assert row.data is None
            assert row.problem is not None
            assert line.reason is not None
            assert row.problem.reason.startswith(line.reason), (row.problem.reason, line.reason)
            if line.reason.startswith("line longer"):
                assert len(str(row.raw)) < SHOWN_LIMIT, "an over-long line is shown by its start only"


@SETTINGS
@given(files(st.one_of(good_ndjson(), good_ndjson(), broken_ndjson(), BLANKS)), st.sampled_from(list(Kind)))
def test_ndjson_good_rows_once_broken_rows_rejected(file: tuple[bytes, list[Line]], kind: Kind) -> None:
    data, lines = file
    found = read_any(data, kind, Format.ndjson)
    assert found is not None, "no line starts with '[': the file as a whole is fine"
    check_against(found, lines)
    assert all(row.line == row.end_line for row in found)


@SETTINGS
@given(st.lists(JSON_OBJECTS | st.none(), max_size=12), st.sampled_from(["utf-16", "utf-16-le", "utf-16-be"]))
def test_ndjson_in_utf16_never_gives_a_good_row(objects: list[dict[str, Any] | None], codec: str) -> None:
    # ASCII JSON (None: a blank line): no UTF-16 code unit of it holds a line-feed byte but the newlines.
    text = "".join(json.dumps(value) + "\n" if value is not None else "\n" for value in objects)
    encoded = text.encode(codec)
    found = read_any(encoded, Kind.orders, Format.ndjson)
    assert found is not None
    assert all(row.data is None for row in found)
    assert len(found) >= sum(value is not None for value in objects)


LATIN1_WORDS = st.text(st.sampled_from("abcXYZ 019-éèçüñÖÄß"), min_size=1, max_size=20).filter(str.strip)


@SETTINGS
@given(
    st.lists(st.tuples(LATIN1_WORDS, LATIN1_WORDS), min_size=1, max_size=10), st.sampled_from(list(Format))
)
def test_latin1_rows_with_accents_are_rejected_and_ascii_rows_read(
    cells: list[tuple[str, str]], fmt: Format
) -> None:
    # Every letter beyond ASCII here is a byte from 0xC0 up in latin-1: never valid UTF-8 after ASCII or
    # another such byte, so the reader must notice (it cannot guess the encoding).
    if fmt is Format.csv:
        text = "company_id;name\n" + "".join(f"{a};{b}\n" for a, b in cells)
        first = 2
    else:
        text = "".join(json.dumps({"company_id": a, "name": b}, ensure_ascii=False) + "\n" for a, b in cells)
        first = 1
    found = read_any(text.encode("latin-1"), Kind.portfolio, fmt)
    assert found is not None
    expected: list[Line] = []
    for a, b in cells:
        if (a + b).isascii():
            data = (
                {"company_id": a.strip(), "name": b.strip()}
                if fmt is Format.csv
                else {"company_id": a, "name": b}
            )
            expected.append(Line(b"", data=data))
        else:
            expected.append(Line(b"", reason="not valid UTF-8"))
    check_against(found, expected, first)
    for row in found:
        if row.problem is not None:
            assert "\ufffd" in str(row.raw)  # shown with the bad bytes replaced, so the file stays UTF-8


def test_ndjson_a_file_that_starts_with_an_array_is_the_file_error() -> None:
    with pytest.raises(ImportFileError, match="JSON array"):
        rows(b"\r\n  \n  [" + VALID_NDJSON, Kind.orders, Format.ndjson)


# ---------------------------------------------------------------------------------------------- CSV

CSV_COLUMNS = ["company_id", "name", "segment"]
CELLS = st.text(max_size=40) | st.sampled_from(
    ["'); DROP TABLE source_events; --", '" OR 1=1 --', "<script>alert(1)</script>", "\u202eevil", "a\x00b"]
)
LONG_CELL = st.integers(1, 10_000).map(lambda n: "é" * n)


def csv_cell(value: str, delimiter: str, quote_anyway: bool) -> str:
    """A cell as a spreadsheet writes it: quoted (quotes doubled) when it must be, or when it likes."""
    if quote_anyway or any(c in value for c in (delimiter, '"', "\r", "\n")):
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def good_csv(draw: st.DrawFn, delimiter: str) -> Line:
    company = draw(st.text(min_size=1, max_size=20).filter(str.strip))
    rest = draw(st.lists(CELLS | LONG_CELL, max_size=len(CSV_COLUMNS) - 1))
    cells = [company, *rest]
    text = delimiter.join(csv_cell(cell, delimiter, draw(st.booleans())) for cell in cells)
    data = {name: cell.strip() for name, cell in zip(CSV_COLUMNS, cells, strict=False) if cell.strip()}
    return Line(text.encode(), data=data)


@st.composite
def broken_csv(draw: st.DrawFn, delimiter: str) -> Line:
    word = draw(st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=10))
    how = draw(st.sampled_from(["utf8", "cells", "cr", "after-quote", "huge"]))
    if how == "utf8":
        bad = draw(st.sampled_from(BAD_UTF8))
        return Line(f"{word}{delimiter}caf".encode() + bad + b" central", reason="not valid UTF-8")
    if how == "cells":
        count = len(CSV_COLUMNS) + draw(st.integers(1, 3))
        return Line(delimiter.join([word] * count).encode(), reason=f"the row has {count} cells")
    if how == "cr":
        # A CR alone inside an unquoted cell: no reader can tell whether it ends a line.
        return Line(f"{word}{delimiter}ab\rcd".encode(), reason="bad CSV")
    if how == "after-quote":
        return Line(f'{word}{delimiter}"closed"then more'.encode(), reason="bad CSV")
    extra = draw(st.integers(1, 2 * MAX_LINE_BYTES))
    return Line(
        f"{word}{delimiter}".encode() + b"n" * (MAX_LINE_BYTES + extra), reason="line longer than 1 MiB"
    )


@dataclass(frozen=True)
class CsvFile:
    data: bytes
    rows: list[Line]
    """The lines written after the header."""
    header_line: int
    delimiter: str


@st.composite
def csv_files(draw: st.DrawFn, with_broken: bool = True) -> CsvFile:
    """A CSV file: perhaps a BOM and blank lines, the header, then rows."""
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    lead = draw(st.lists(st.sampled_from([b"", b"  "]), max_size=2))
    header = delimiter.join(CSV_COLUMNS).encode()
    blanks = st.sampled_from([b"", b" ", delimiter.encode() * (len(CSV_COLUMNS) - 1)]).map(Line)
    kinds = [good_csv(delimiter), good_csv(delimiter), blanks]
    if with_broken:
        kinds.append(broken_csv(delimiter))
    drawn = draw(st.lists(st.one_of(kinds), max_size=10))
    data = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    for content in [*lead, header]:
        data += content + draw(LINE_ENDS)
    for index, line in enumerate(drawn):
        last = index == len(drawn) - 1
        data += line.content + (b"" if last and draw(st.booleans()) else draw(LINE_ENDS))
    return CsvFile(data, drawn, len(lead) + 1, delimiter)


def after_header(file: CsvFile) -> list[Line]:
    """One entry per physical line after the header, so that the numbers count the line breaks inside
    quoted cells."""
    out: list[Line] = []
    for line in file.rows:
        out.append(line)
        out.extend([Line(b"")] * line.content.count(b"\n"))
    return out


@SETTINGS
@given(csv_files())
def test_csv_good_rows_once_broken_rows_rejected(file: CsvFile) -> None:
    found = read_any(file.data, Kind.portfolio, Format.csv)
    assert found is not None
    check_against(found, after_header(file), first_line=file.header_line + 1)
    # A row ends on its own last line: its first line plus the line breaks inside its quoted cells.
    written = [line for line in file.rows if not line.blank]
    for row, line in zip(found, written, strict=True):
        assert row.end_line == row.line + line.content.count(b"\n")


@SETTINGS
@given(csv_files(with_broken=False), st.data())
def test_csv_a_quote_never_closed_is_one_rejected_row_to_the_end(file: CsvFile, data: st.DataObject) -> None:
    before = file.data if file.data.endswith(b"\n") else file.data + b"\n"
    sep = file.delimiter
    # What follows the open quote (plain rows here, no quotes) is inside the cell: it must neither come out
    # as rows nor be taken as the cell's text when the file ends with the quote still open.
    plain = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=10)
    after = data.draw(st.lists(st.tuples(plain, plain), max_size=5))
    tail = "".join(f"\n{a}{sep}{b}" for a, b in after) + data.draw(st.sampled_from(["", "\n"]))
    whole = before + f'0403.170.701{sep}"never closed{tail}'.encode()
    found = read_any(whole, Kind.portfolio, Format.csv)
    assert found is not None
    check_against(found[:-1], after_header(file), first_line=file.header_line + 1)
    rejected = found[-1]
    assert rejected.line == before.count(b"\n") + 1
    assert rejected.data is None
    assert rejected.problem is not None
    assert rejected.problem.reason.startswith("bad CSV")
    assert rejected.end == len(whole)


@SETTINGS
@given(csv_files(with_broken=False), st.sampled_from(["utf-16", "utf-16-le", "utf-16-be"]))
def test_csv_in_utf16_is_the_file_error(file: CsvFile, codec: str) -> None:
    encoded = file.data.decode("utf-8-sig").encode(codec)
    with pytest.raises(ImportFileError):
        rows(encoded, Kind.portfolio, Format.csv)


@pytest.mark.parametrize("ending", [b"\r", b"\r\r"])
def test_csv_with_cr_line_ends_is_the_file_error_not_a_crash(ending: bytes) -> None:
    # Old Mac spreadsheets end lines with CR alone: the header line then holds the whole file.
    data = ending.join([b"company_id,name", b"0403.170.701,Acme", b"0417.497.106,Other"]) + ending
    with pytest.raises(ImportFileError, match="CR"):
        rows(data, Kind.portfolio, Format.csv)


# ---------------------------------------------------------------------------------------------- memory


@FEW
@given(
    st.integers(2 * MAX_LINE_BYTES, 24 * MAX_LINE_BYTES),
    st.sampled_from(list(Format)),
    st.booleans(),
)
def test_a_huge_line_is_skipped_in_bounded_memory(size: int, fmt: Format, newline_at_end: bool) -> None:
    head = b"company_id,name\n0403.170.701,before\n" if fmt is Format.csv else b'{"name": "before"}\n'
    huge = b"0403.170.701," + b"n" * size if fmt is Format.csv else b'{"name": "' + b"n" * size + b'"}'
    tail = b"0417.497.106,after" if fmt is Format.csv else b'{"name": "after"}'
    with tempfile.TemporaryFile() as source:
        source.write(head + huge + b"\n" + tail + (b"\n" if newline_at_end else b""))
        del huge
        tracemalloc.start()
        try:
            found = list(read_rows(source, Kind.portfolio, fmt))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # The buffered reader's line of at most the limit (it may hold it twice while joining its chunks) and
    # small change, however long the line: never the line itself.
    assert peak < 3 * MAX_LINE_BYTES, f"peak {peak:,} bytes for a line of {size:,}"
    assert [row.problem is None for row in found] == [True, False, True]
    assert found[1].problem is not None
    assert found[1].problem.reason == "line longer than 1 MiB"
    assert len(str(found[1].raw)) < SHOWN_LIMIT
    assert found[2].data is not None
    assert "after" in found[2].data.values()
