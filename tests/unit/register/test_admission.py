"""Which extracts may load onto the register, and the order their files are applied in."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.register.extract import ExtractKind, ExtractMeta
from services.register.load import ExtractRefused, admit, plan
from services.register.store import ExtractRecord

STAMP = datetime(2025, 10, 12, tzinfo=UTC)


def meta(number: int, kind: ExtractKind = ExtractKind.UPDATE) -> ExtractMeta:
    return ExtractMeta(number, kind, date(2025, 10, 11), STAMP)


def record(number: int, status: str = "done", kind: str = "update") -> ExtractRecord:
    return ExtractRecord(number, kind, date(2025, 10, 1), STAMP, status, STAMP if status == "done" else None)


def test_an_update_applies_deletes_before_inserts_table_by_table() -> None:
    files = [step.file for step in plan(ExtractKind.UPDATE)]
    assert files[:3] == ["code.csv", "enterprise_delete.csv", "enterprise_insert.csv"]
    for table in ("denomination", "address", "activity", "establishment"):
        assert files.index(f"{table}_delete.csv") + 1 == files.index(f"{table}_insert.csv")


def test_a_full_extract_replaces_each_table() -> None:
    steps = plan(ExtractKind.FULL)
    assert [s.file for s in steps] == [
        "code.csv",
        "enterprise.csv",
        "denomination.csv",
        "address.csv",
        "activity.csv",
        "establishment.csv",
    ]
    assert {s.action for s in steps} == {"load"}


def test_the_next_extract_loads() -> None:
    assert admit(meta(148), [record(140, kind="full"), record(147)]).notes == ()


def test_an_extract_loaded_before_changes_nothing() -> None:
    assert admit(meta(147), [record(140, kind="full"), record(147)]).already_loaded


def test_an_interrupted_extract_continues() -> None:
    assert not admit(meta(147), [record(140, kind="full"), record(147, "loading")]).already_loaded


@pytest.mark.parametrize("kind", list(ExtractKind))
def test_an_older_extract_is_refused(kind: ExtractKind) -> None:
    with pytest.raises(ExtractRefused, match="older than extract 147"):
        admit(meta(146, kind), [record(140, kind="full"), record(147)])


def test_another_extract_must_finish_first() -> None:
    with pytest.raises(ExtractRefused, match=r"extract 147 .* was interrupted"):
        admit(meta(148), [record(140, kind="full"), record(147, "loading")])


def test_notes_for_an_update_without_a_full_extract_or_after_a_gap() -> None:
    assert "no full extract" in admit(meta(147), []).notes[0]
    assert "141-146 were not loaded" in admit(meta(147), [record(140, kind="full")]).notes[0]
    assert admit(meta(141, ExtractKind.FULL), [record(140, kind="full")]).notes == ()
