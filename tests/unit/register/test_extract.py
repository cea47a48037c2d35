"""An extract as a folder or a zip: its meta and its files, streamed."""

from __future__ import annotations

import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from services.register.extract import Extract, ExtractError, ExtractKind, parse_meta
from tests.harness.kbo import REAL_UPDATE, zip_extract


def test_the_meta_of_the_real_update() -> None:
    with Extract(REAL_UPDATE) as extract:
        meta = extract.meta
    assert (meta.number, meta.kind, meta.snapshot_date) == (147, ExtractKind.UPDATE, date(2025, 10, 11))
    # 07:40:18 in Brussels (summer time) is 05:40:18 UTC.
    assert meta.timestamp == datetime(2025, 10, 12, 5, 40, 18, tzinfo=UTC)
    assert meta.version == "1.0.0"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["ExtractType", "full"], ["SnapshotDate", "01-10-2025"]], "no ExtractNumber"),
        ([["ExtractNumber", "x"], ["ExtractType", "full"], ["SnapshotDate", "01-10-2025"]], "not understood"),
        (
            [["ExtractNumber", "3"], ["ExtractType", "weekly"], ["SnapshotDate", "01-10-2025"]],
            "not understood",
        ),
    ],
)
def test_a_meta_that_cannot_be_used(rows: list[list[str]], message: str) -> None:
    with pytest.raises(ExtractError, match=message):
        parse_meta(rows)


def test_a_meta_without_timestamp_is_dated_the_day_after_the_snapshot() -> None:
    meta = parse_meta([["ExtractNumber", "3"], ["ExtractType", "Full"], ["SnapshotDate", "01-10-2025"]])
    assert meta.timestamp == datetime(2025, 10, 2, tzinfo=UTC)


def rows_of(extract: Extract, name: str) -> list[list[str]]:
    file = extract.open(name)
    try:
        return [file.header, *file]
    finally:
        file.close()


@pytest.mark.parametrize("subfolder", [False, True])
def test_a_zip_reads_as_the_folder(tmp_path: Path, subfolder: bool) -> None:
    archive = zip_extract(REAL_UPDATE, tmp_path / "extract.zip", subfolder=subfolder)
    with Extract(REAL_UPDATE) as folder, Extract(archive) as zipped:
        assert zipped.meta == folder.meta
        assert zipped.files() == folder.files()
        for name in ("enterprise_insert.csv", "address_insert.csv", "code.csv"):
            assert rows_of(zipped, name) == rows_of(folder, name)
            assert zipped.size(name) == folder.size(name)


def test_reading_counts_lines_and_bytes() -> None:
    with Extract(REAL_UPDATE) as extract:
        file = extract.open("enterprise_insert.csv")
        rows = list(file)
        assert (len(rows), file.line) == (28, 29)
        assert file.position == extract.size("enterprise_insert.csv")
        file.close()


def test_a_byte_order_mark_is_not_part_of_the_header(tmp_path: Path) -> None:
    folder = tmp_path / "bom"
    folder.mkdir()
    (folder / "meta.csv").write_bytes(
        '\ufeff"Variable","Value"\n"ExtractNumber","5"\n"ExtractType","full"\n"SnapshotDate","01-10-2025"\n'.encode()
    )
    with Extract(folder) as extract:
        assert extract.meta.number == 5


def test_what_is_not_an_extract(tmp_path: Path) -> None:
    with pytest.raises(ExtractError, match="does not exist"):
        Extract(tmp_path / "nothing")
    (tmp_path / "file.txt").write_text("hello")
    with pytest.raises(ExtractError, match="neither a folder nor a zip"):
        Extract(tmp_path / "file.txt")
    with pytest.raises(ExtractError, match=r"no meta\.csv"):
        Extract(tmp_path)
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as archive:
        archive.writestr("readme.txt", "no csv here")
    with pytest.raises(ExtractError, match=r"no meta\.csv"):
        Extract(tmp_path / "empty.zip")
    with Extract(REAL_UPDATE) as extract, pytest.raises(ExtractError, match=r"has no nothing\.csv"):
        extract.open("nothing.csv")
