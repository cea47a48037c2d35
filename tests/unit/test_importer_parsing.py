"""Reading import files: NDJSON and CSV rows, offsets, and every way a row can be unreadable."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.ingest.importer import rejected_path_for, state_path_for
from services.ingest.rows import (
    MAX_LINE_BYTES,
    Format,
    ImportFileError,
    Kind,
    Row,
    build_item,
    check_file,
    columns,
    detect_format,
    read_rows,
)
from shared import topics

COMPANY = "BE0403170701"


def rows(data: bytes, kind: Kind = Kind.orders, fmt: Format = Format.ndjson, **at: int) -> list[Row]:
    return list(read_rows(io.BytesIO(data), kind, fmt, **at))


def ndjson(*objects: Any) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objects)


def order(**change: Any) -> dict[str, Any]:
    return {
        "company_id": "0403.170.701",
        "order_id": "SO-1",
        "ordered_at": "2025-10-07T13:45:00Z",
        "amount_eur": 12480.75,
        "product_line": "packaging",
        **change,
    }


# ---------------------------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.ndjson", Format.ndjson),
        ("a.JSONL", Format.ndjson),
        ("a.json", Format.ndjson),
        ("a.csv", Format.csv),
    ],
)
def test_format_from_extension(name: str, expected: Format) -> None:
    assert detect_format(Path(name)) is expected


def test_explicit_format_wins_and_unknown_extension_is_a_file_error() -> None:
    assert detect_format(Path("export.txt"), Format.csv) is Format.csv
    with pytest.raises(ImportFileError, match="--format"):
        detect_format(Path("export.txt"))


def test_check_file_finds_problems_of_the_whole_file(tmp_path: Path) -> None:
    good = tmp_path / "orders.csv"
    good.write_text("company_id,order_id,ordered_at,amount_eur,product_line\n", encoding="utf-8")
    assert check_file(good, Kind.orders) is Format.csv
    with pytest.raises(ImportFileError, match="missing required column"):
        check_file(good, Kind.portfolio)
    array = tmp_path / "orders.json"
    array.write_text('[{"order_id": "1"}]\n', encoding="utf-8")
    with pytest.raises(ImportFileError, match="JSON array"):
        check_file(array, Kind.orders)


def test_default_side_files() -> None:
    assert rejected_path_for(Path("/d/orders.csv")) == Path("/d/orders.csv.rejected.ndjson")
    assert state_path_for(Path("/d/orders.csv")) == Path("/d/orders.csv.import-state.json")


# ---------------------------------------------------------------------------------------------- NDJSON


def test_ndjson_rows_with_line_numbers_and_offsets() -> None:
    data = ndjson(order(order_id="1")) + b"\n   \n" + ndjson(order(order_id="2"))
    found = rows(data)
    assert [r.line for r in found] == [1, 4]
    assert [r.data["order_id"] for r in found if r.data] == ["1", "2"]
    assert found[-1].end == len(data)
    # Reading on from a row's end gives the rows after it, numbered as in the whole file.
    rest = rows(data, offset=found[0].end, line=found[0].end_line)
    assert [(r.line, r.data["order_id"] if r.data else None) for r in rest] == [(4, "2")]


def test_ndjson_last_line_without_newline() -> None:
    found = rows(ndjson(order()) + json.dumps(order(order_id="2")).encode())
    assert [r.data["order_id"] for r in found if r.data] == ["SO-1", "2"]


def test_ndjson_byte_order_mark_is_tolerated() -> None:
    found = rows(b"\xef\xbb\xbf" + ndjson(order()))
    assert found[0].problem is None
    assert found[0].data == order()


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"company_id": "caf\xe9"}', "not valid UTF-8 (byte 20 of the line)"),
        (b'{"company_id": ', "not valid JSON"),
        (b"[1, 2]", "not a JSON object but an array"),
        (b'"text"', "not a JSON object but a string"),
        (b"42", "not a JSON object but a number"),
        (b"null", "not a JSON object but null"),
    ],
)
def test_ndjson_unreadable_lines_are_rejected_rows(line: bytes, reason: str) -> None:
    found = rows(ndjson(order()) + line + b"\n" + ndjson(order(order_id="3")))
    assert len(found) == 3
    bad = found[1]
    assert bad.line == 2
    assert bad.data is None
    assert bad.problem is not None
    assert bad.problem.reason.startswith(reason)
    assert found[2].data is not None


def test_ndjson_line_longer_than_the_limit_is_rejected_without_being_kept() -> None:
    huge = b'{"note": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}\n'
    data = huge + ndjson(order())
    found = rows(data)
    assert found[0].problem is not None
    assert "longer than 1 MiB" in found[0].problem.reason
    assert len(found[0].raw) < 1000
    assert found[0].end == len(huge)
    assert found[1].line == 2
    assert found[1].data == order()


def test_ndjson_line_of_exactly_the_limit_is_read() -> None:
    filler = "y" * (MAX_LINE_BYTES - len(json.dumps({"n": ""})))
    line = json.dumps({"n": filler}).encode()
    assert len(line) == MAX_LINE_BYTES
    found = rows(line + b"\n")
    assert found[0].problem is None


def test_ndjson_file_that_is_a_json_array_is_a_file_error() -> None:
    with pytest.raises(ImportFileError, match="JSON array"):
        rows(b"[\n" + json.dumps(order()).encode() + b"\n]\n")


# ---------------------------------------------------------------------------------------------- CSV


def test_csv_orders_are_flat_and_blank_lines_skipped() -> None:
    data = (
        b"company_id,order_id,ordered_at,amount_eur,product_line\r\n"
        b"0403.170.701,SO-1,2025-10-07T13:45:00Z,12480.75,packaging\r\n"
        b"\r\n"
        b" , , , , \r\n"
        b"0403.170.701,SO-2,2025-10-08T10:00:00+02:00,10,labels\r\n"
    )
    found = rows(data, Kind.orders, Format.csv)
    assert [r.line for r in found] == [2, 5]
    assert found[0].data == {
        "company_id": "0403.170.701",
        "order_id": "SO-1",
        "ordered_at": "2025-10-07T13:45:00Z",
        "amount_eur": "12480.75",
        "product_line": "packaging",
    }
    item = build_item(Kind.orders, found[1].data or {})
    assert item.topic == topics.ORDERS
    assert item.company_id == COMPANY


def test_csv_semicolon_delimiter_and_bom() -> None:
    data = "\ufeffcompany_id;name;credit_limit_eur;employees\n0403.170.701;Acme NV;50000;42\n".encode()
    found = rows(data, Kind.portfolio, Format.csv)
    assert found[0].data == {
        "company_id": "0403.170.701",
        "name": "Acme NV",
        "credit_limit_eur": "50000",
        "employees": "42",
    }
    item = build_item(Kind.portfolio, found[0].data or {})
    assert item.topic == topics.PORTFOLIO
    assert item.payload.model_dump(mode="json")["credit_limit_eur"] == 50000
    assert item.payload.model_dump(mode="json")["employees"] == 42


def test_csv_blank_cells_are_absent() -> None:
    data = b"company_id,name,segment,employees\nBE0403170701,Acme,,\n"
    found = rows(data, Kind.portfolio, Format.csv)
    assert found[0].data == {"company_id": "BE0403170701", "name": "Acme"}
    entry = build_item(Kind.portfolio, found[0].data or {}).payload.model_dump()
    assert entry["segment"] is None
    assert entry["employees"] is None


def test_csv_blank_required_cell_is_reported_missing() -> None:
    found = rows(b"company_id,name\nBE0403170701,\n", Kind.portfolio, Format.csv)
    with pytest.raises(ValidationError) as exc:
        build_item(Kind.portfolio, found[0].data or {})
    assert [e["loc"] for e in exc.value.errors()] == [("name",)]


@pytest.mark.parametrize("separator", ["|", ";", " | "])
def test_csv_publication_rubrics_and_persons(separator: str) -> None:
    persons = json.dumps(
        [{"name": "Peeters, Jan", "birth_year": 1971, "role": "director", "action": "appointed"}]
    )
    cell = separator.join(["resignation", "appointment"])
    text = f'reference,company_id,published_on,rubrics,persons,text\n25123456,{COMPANY},2025-10-08,"{cell}","{persons.replace(chr(34), chr(34) * 2)}",Ontslag\n'
    found = rows(text.encode(), Kind.publications, Format.csv)
    assert found[0].data is not None
    assert found[0].data["rubrics"] == ["resignation", "appointment"]
    assert found[0].data["persons"][0]["name"] == "Peeters, Jan"
    payload = build_item(Kind.publications, found[0].data).payload.model_dump(mode="json")
    assert payload["rubrics"] == ["resignation", "appointment"]
    assert payload["persons"][0]["birth_year"] == 1971


def test_csv_publication_persons_not_json_is_a_row_error() -> None:
    data = f"reference,company_id,published_on,rubrics,persons\n1,{COMPANY},2025-10-08,other,[oops\n".encode()
    found = rows(data, Kind.publications, Format.csv)
    assert found[0].data is None
    assert found[0].problem is not None
    assert found[0].problem.errors[0]["path"] == "persons"
    assert "not valid JSON" in found[0].problem.errors[0]["message"]


def test_csv_quoted_cell_spanning_lines() -> None:
    data = (
        b"reference,company_id,published_on,rubrics,text\n"
        b'1,BE0403170701,2025-10-08,other,"first line\nsecond line"\n'
        b"2,BE0403170701,2025-10-08,other,short\n"
    )
    found = rows(data, Kind.publications, Format.csv)
    assert [(r.line, r.end_line) for r in found] == [(2, 3), (4, 4)]
    assert found[0].data is not None
    assert found[0].data["text"] == "first line\nsecond line"
    # Reading on after the multi-line row keeps the header and the line numbers.
    rest = rows(data, Kind.publications, Format.csv, offset=found[0].end, line=found[0].end_line)
    assert [(r.line, r.data["reference"] if r.data else None) for r in rest] == [(4, "2")]


def test_csv_bureau_data_columns_make_up_data() -> None:
    data = (
        b"id,company_id,type,occurred_at,data.from,data.to,data.days_beyond_terms\n"
        b"e1,BE0403170701,score_change,2025-10-09T06:00:00Z,72,45,\n"
        b"e2,BE0403170701,payment_behaviour,2025-10-09T06:00:00Z,,,45\n"
        b"e3,BE0403170701,ubo_change,2025-10-09T06:00:00Z,,,\n"
    )
    found = rows(data, Kind.bureau, Format.csv)
    assert [r.data["data"] if r.data else None for r in found] == [
        {"from": "72", "to": "45"},
        {"days_beyond_terms": "45"},
        {},
    ]
    payloads = [build_item(Kind.bureau, r.data or {}).payload.model_dump(mode="json") for r in found]
    assert payloads[0]["data"] == {"from": 72, "to": 45}
    assert payloads[1]["data"] == {"days_beyond_terms": 45}


def test_csv_bureau_data_as_json_cell() -> None:
    data = b'id,company_id,type,occurred_at,data\ne1,BE0403170701,tax_debt,2025-10-09T06:00:00Z,"{""amount_eur"": 18250.5}"\n'
    found = rows(data, Kind.bureau, Format.csv)
    assert found[0].data is not None
    assert found[0].data["data"] == {"amount_eur": 18250.5}


def test_csv_bureau_bad_data_is_located_in_data() -> None:
    data = b"id,company_id,type,occurred_at,data.from,data.to\ne1,BE0403170701,score_change,2025-10-09T06:00:00Z,72,145\n"
    found = rows(data, Kind.bureau, Format.csv)
    with pytest.raises(ValidationError) as exc:
        build_item(Kind.bureau, found[0].data or {})
    assert [e["loc"] for e in exc.value.errors()] == [("data", "to")]


def test_csv_bad_utf8_in_a_row_is_a_rejected_row() -> None:
    data = b"company_id,name\nBE0403170701,Caf\xe9 Central\nBE0417497106,Fine\n"
    found = rows(data, Kind.portfolio, Format.csv)
    assert found[0].problem is not None
    assert found[0].problem.reason.startswith("not valid UTF-8")
    assert "Caf\ufffd Central" in found[0].raw
    assert found[1].data == {"company_id": "BE0417497106", "name": "Fine"}


def test_csv_huge_line_is_a_rejected_row() -> None:
    data = b"company_id,name\n" + b"BE0403170701," + b"n" * (MAX_LINE_BYTES + 1) + b"\nBE0417497106,Fine\n"
    found = rows(data, Kind.portfolio, Format.csv)
    assert found[0].problem is not None
    assert "longer than 1 MiB" in found[0].problem.reason
    assert found[1].line == 3
    assert found[1].data == {"company_id": "BE0417497106", "name": "Fine"}


def test_csv_unclosed_quote_rejects_a_bounded_row_and_reading_goes_on() -> None:
    line = b"BE0417497106,filler " + b"z" * 1000 + b"\n"
    count = MAX_LINE_BYTES // len(line) + 5
    data = b'company_id,name\nBE0403170701,"never closed\n' + line * count
    found = rows(data, Kind.portfolio, Format.csv)
    assert found[0].problem is not None
    assert "a quote that is never closed?" in found[0].problem.reason
    assert len(found[0].raw) < 1000
    # The lines after the runaway row are read as rows again.
    assert any(r.data is not None for r in found[1:])
    assert found[-1].end == len(data)


def test_csv_too_many_cells_is_a_rejected_row() -> None:
    found = rows(b"company_id,name\nBE0403170701,Acme,extra\n", Kind.portfolio, Format.csv)
    assert found[0].problem is not None
    assert "3 cells" in found[0].problem.reason
    assert found[0].raw["(extra cells)"] == ["extra"]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"company_id,order_id,ordered_at,amount_eur,product_line,colour\n", "unknown column"),
        (b"company_id,order_id,ordered_at,amount_eur\n", "missing required column(s): product_line"),
        (
            b"company_id,order_id,order_id,ordered_at,amount_eur,product_line\n",
            "duplicated column(s): order_id",
        ),
        (b"", "empty"),
    ],
)
def test_csv_header_problems_are_file_errors(header: bytes, message: str) -> None:
    with pytest.raises(ImportFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        rows(header, Kind.orders, Format.csv)


def test_csv_bureau_data_in_both_forms_is_a_file_error() -> None:
    with pytest.raises(ImportFileError, match="not both"):
        rows(b"id,company_id,type,occurred_at,data,data.to\n", Kind.bureau, Format.csv)


def test_columns_of_each_kind() -> None:
    names, required = columns(Kind.portfolio)
    assert names[:2] == ["company_id", "name"]
    assert required == {"company_id", "name"}
    names, required = columns(Kind.bureau)
    assert "data.from" in names
    assert "data" not in required
    assert columns(Kind.publications)[1] == {"reference", "company_id", "published_on", "rubrics"}


def test_portfolio_row_needs_a_valid_company_id() -> None:
    with pytest.raises(ValidationError) as exc:
        build_item(Kind.portfolio, {"company_id": "0403.170.702", "name": "Acme"})
    assert [e["loc"] for e in exc.value.errors()] == [("company_id",)]


def test_csv_row_spanning_more_than_the_limit_is_rejected_and_reading_goes_on() -> None:
    names, _ = columns(Kind.portfolio)
    cell = '"' + "ab\n" * 40_000 + '"'  # 120,000 characters: each cell is within the csv module's limit
    data = (",".join(names) + "\n" + ",".join([cell] * len(names)) + "\nBE0417497106,Fine\n").encode()
    found = rows(data, Kind.portfolio, Format.csv)
    assert found[0].problem is not None
    assert "row longer than 1 MiB" in found[0].problem.reason
    assert len(found[0].raw) < 1000
    # Reading goes on to the end (what follows a broken row is read as well as it can be).
    assert found[-1].end == len(data)
