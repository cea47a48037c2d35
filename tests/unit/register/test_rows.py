"""Rows of the real update extract and broken rows, mapped to register rows."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest

from services.register.rows import (
    DELETE_KEYS,
    SPECS,
    MissingColumns,
    RowError,
    enterprise_id,
    office_key,
    office_text,
    parse_date,
)
from tests.harness.kbo import REAL_UPDATE


def read(name: str) -> tuple[list[str], list[list[str]]]:
    with (REAL_UPDATE / name).open(encoding="utf-8", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    return header, rows


def mapped(table: str, name: str) -> list[tuple[object, ...]]:
    header, rows = read(name)
    mapper = SPECS[table].mapper(header)
    return [row for row in (mapper(fields) for fields in rows) if row is not None]


@pytest.mark.parametrize(
    ("table", "kept"),
    [("enterprise", 28), ("denomination", 28), ("address", 12), ("activity", 5), ("establishment", 22)],
)
def test_every_row_of_the_real_update_maps(table: str, kept: int) -> None:
    rows = mapped(table, f"{table}_insert.csv")
    assert len(rows) == kept
    assert all(len(row) == len(SPECS[table].columns) for row in rows)


def test_an_enterprise_row() -> None:
    rows = {row[0]: row for row in mapped("enterprise", "enterprise_insert.csv")}
    assert rows["BE0872480059"] == ("BE0872480059", "AC", "000", "2", "610", None, date(2005, 3, 14))
    assert rows["BE0552627113"][4:] == (None, None, date(2025, 9, 15))


def test_only_enterprises_names_offices_and_main_activities_are_kept() -> None:
    assert {row[0][:2] for row in mapped("denomination", "denomination_insert.csv")} == {"BE"}
    offices = {row[0]: row for row in mapped("address", "address_insert.csv")}
    office = offices["BE1029028161"]
    assert office[1:5] == ("1080", "Sint-Jans-Molenbeek", "Molenbeek-Saint-Jean", "Louis Mettewielaan")
    assert office[6:8] == ("60", "15")
    activities = mapped("activity", "activity_insert.csv")
    assert ("BE0717947577", "001", "2008", "43910") in activities
    assert ("BE0717947577", "001", "2025", "43410") in activities
    assert all(row[2] in ("2008", "2025") for row in activities)


def test_establishments_map_to_their_enterprise() -> None:
    rows = {row[0]: row for row in mapped("establishment", "establishment_insert.csv")}
    assert rows["2190171611"] == ("2190171611", "BE0859001118", date(2010, 8, 4))


@pytest.mark.parametrize("table", sorted(DELETE_KEYS))
def test_every_key_of_the_real_delete_files_maps(table: str) -> None:
    header, rows = read(f"{table}_delete.csv")
    key = DELETE_KEYS[table](header)
    keys = [key(fields) for fields in rows]
    assert keys
    if table == "establishment":
        assert all(k is not None and k[0] in "2345678" for k in keys)
    else:
        # Establishments' names, addresses and activities are not kept: their keys are None.
        assert all(k is None or k.startswith("BE") for k in keys)
        assert any(k is not None for k in keys)


ENTERPRISE = SPECS["enterprise"].mapper(read("enterprise_insert.csv")[0])
ADDRESS = SPECS["address"].mapper(read("address_insert.csv")[0])
ACTIVITY = SPECS["activity"].mapper(read("activity_insert.csv")[0])
NAME = SPECS["denomination"].mapper(read("denomination_insert.csv")[0])


@pytest.mark.parametrize(
    ("mapper", "fields", "reason"),
    [
        (ENTERPRISE, ["0872.480.059", "AC", "000", "2", "610", ""], "6 fields where the header has 7"),
        (ENTERPRISE, ["0872.480.058", "AC", "000", "2", "610", "", "14-03-2005"], "check digits"),
        (ENTERPRISE, ["2.190.171.611", "AC", "000", "2", "610", "", "14-03-2005"], "establishment"),
        (ENTERPRISE, ["0872.480.059", "AC", "000", "2", "610", "", "2005-03-14"], "StartDate"),
        (ENTERPRISE, ["0872.480.059", "AC", "000", "2", "610", "", "31-02-2005"], "StartDate"),
        (ENTERPRISE, ["0872.480.059", "AC", "", "2", "610", "", "14-03-2005"], "JuridicalSituation is empty"),
        (ENTERPRISE, ["0872.480.059", "AC", "0480", "2", "610", "", "14-03-2005"], "longer than 3"),
        (NAME, ["0552.627.113", "0", "001", "x" * 321], "Denomination"),
        (NAME, ["0552.627.113", "0", "001", ""], "Denomination is empty"),
        (NAME, ["9.999.999.999", "0", "001", "Naam"], "neither an enterprise"),
        (ACTIVITY, ["0717.947.577", "001", "2008", "43.910", "MAIN"], "NaceCode"),
        (
            ADDRESS,
            ["1029.025.290", "REGO", "", "", "2240", "Zandhoven", "Zandhoven", "Vierselbaan"],
            "fields",
        ),
    ],
)
def test_a_broken_row_says_what_is_wrong(mapper: object, fields: Sequence[str], reason: str) -> None:
    with pytest.raises(RowError, match=reason):
        mapper(fields)  # type: ignore[operator]


def test_rows_not_kept_are_skipped_before_being_checked() -> None:
    assert ACTIVITY(["0717.947.577", "001", "2008", "not checked", "SECO"]) is None
    assert ACTIVITY(["0717.947.577", "001", "2003", "52330", "MAIN"]) is None
    assert ADDRESS(["2.022.529.875", "BAET", "", "", "8370", "", "", "", "", "", "", "", ""]) is None


def test_a_file_without_the_columns_is_refused() -> None:
    with pytest.raises(MissingColumns, match="JuridicalSituation"):
        SPECS["enterprise"].mapper(["EnterpriseNumber", "Status"])


def test_enterprise_numbers_in_other_forms() -> None:
    assert enterprise_id("0403.170.701") == "BE0403170701"
    assert enterprise_id("403170701") == "BE0403170701"
    with pytest.raises(RowError):
        enterprise_id("NL12345678")


@pytest.mark.parametrize(("raw", "expected"), [("15-09-2025", date(2025, 9, 15)), ("", None)])
def test_dates(raw: str, expected: date | None) -> None:
    assert parse_date(raw) == expected


def test_an_address_keeps_its_key_however_it_is_written() -> None:
    key = office_key("2000", "Antwerpen", "Leuvenstraat", "3", "22", None)
    assert office_key("2000", "ANTWERPEN ", "Leuvenstraat", "3", "22", "") == key
    assert office_key("2000", "Antwerpen", "Leuvenstraat", "5", "22", None) != key
    assert len(key) == 16
    assert office_text("2000", "Antwerpen", "Leuvenstraat", "3", "22", None) == (
        "Leuvenstraat 3 bus 22, 2000 Antwerpen"
    )
    assert office_text(None, "Paris", "Rue de Rivoli", "1", None, "Frankrijk") == (
        "Rue de Rivoli 1, Paris, Frankrijk"
    )


def test_the_real_test_data_is_where_the_harness_says() -> None:
    assert Path(REAL_UPDATE / "meta.csv").is_file()
