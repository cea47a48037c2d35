"""Bulk imports on the embedded bus over SQLite: every kind in both formats, rejected rows, repeats,
interrupted imports that continue, and the `earlywarning import` command."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import services.ingest.importer as importer
from services.cli import _with_infrastructure
from services.ingest.import_cli import register
from services.ingest.importer import ImportResult, rejected_path_for, run_import, state_path_for
from services.ingest.intake import Intake
from services.ingest.rows import Format, ImportFileError, Kind
from services.ingest.store import IntakeStore
from shared import topics
from shared.cloudevents import CloudEvent
from shared.runtime import Infrastructure, open_infrastructure
from shared.settings import Settings

COMPANY = "BE0403170701"
TOPIC = {
    Kind.publications: topics.PUBLICATIONS,
    Kind.bureau: topics.BUREAU,
    Kind.orders: topics.ORDERS,
    Kind.portfolio: topics.PORTFOLIO,
    Kind.contacts: topics.CONTACTS,
}


def company(n: int) -> str:
    """A valid Belgian enterprise number, different for each `n`."""
    base = f"{4_000_000 + n:08d}"
    return f"BE{base}{97 - int(base) % 97:02d}"


# ------------------------------------------------------------------------------------------ sample rows


def publication(n: int, **change: Any) -> dict[str, Any]:
    return {
        "reference": f"25{n:06d}",
        "company_id": COMPANY,
        "company_name": "Acme Industries NV",
        "published_on": "2025-10-08",
        "rubrics": ["resignation", "appointment"],
        "persons": [{"name": "Peeters, Jan", "birth_year": 1971, "role": "director", "action": "appointed"}],
        "text": f"Publication {n}.\nSecond line.",
        **change,
    }


def bureau(n: int, **change: Any) -> dict[str, Any]:
    return {
        "id": f"evt_{n}",
        "company_id": COMPANY,
        "type": "score_change",
        "occurred_at": "2025-10-09T06:00:00Z",
        "data": {"from": 72, "to": 45 - n % 40},
        **change,
    }


def order(n: int, **change: Any) -> dict[str, Any]:
    return {
        "company_id": "0403.170.701",
        "order_id": f"SO-{n}",
        "ordered_at": "2025-10-07T13:45:00Z",
        "amount_eur": 100 + n,
        "product_line": "packaging",
        **change,
    }


def portfolio(n: int, **change: Any) -> dict[str, Any]:
    return {"company_id": company(n), "name": f"Company {n}", "segment": "horeca", "employees": n, **change}


def contact(n: int, **change: Any) -> dict[str, Any]:
    return {
        "company_id": "0403.170.701",
        "contact_id": f"crm-{n}",
        "name": f"Contact {n}",
        "function": "CFO",
        "dmu_role": "decision_maker",
        "claims_director": True,
        "last_contact_at": "2025-09-30T14:00:00Z",
        "reporter": "jan@example.com",
        **change,
    }


VALID: dict[Kind, Callable[..., dict[str, Any]]] = {
    Kind.publications: publication,
    Kind.bureau: bureau,
    Kind.orders: order,
    Kind.portfolio: portfolio,
    Kind.contacts: contact,
}

# One invalid row per kind, and the path of the error it must be rejected with.
INVALID: dict[Kind, tuple[dict[str, Any], str]] = {
    Kind.publications: (publication(99, rubrics=["weather"]), "rubrics.0"),
    Kind.bureau: (bureau(99, data={"from": 72, "to": 145}), "data.to"),
    Kind.orders: (order(99, amount_eur=-5), "amount_eur"),
    Kind.portfolio: (portfolio(99, company_id="0403.170.702"), "company_id"),
    Kind.contacts: (contact(99, dmu_role="ceo"), "dmu_role"),
}

EVENT_TYPES = {
    Kind.publications: "earlywarning.publication",
    Kind.bureau: "earlywarning.bureau.score_change",
    Kind.orders: "earlywarning.order",
    Kind.portfolio: "earlywarning.portfolio.updated",
    Kind.contacts: "earlywarning.contact.updated",
}


def _csv_cells(kind: Kind, row: dict[str, Any]) -> dict[str, str]:
    cells: dict[str, str] = {}
    for name, value in row.items():
        if kind is Kind.publications and name == "rubrics":
            cells[name] = "|".join(value)
        elif kind is Kind.publications and name == "persons":
            cells[name] = json.dumps(value)
        elif kind is Kind.bureau and name == "data":
            cells.update({f"data.{k}": str(v) for k, v in value.items()})
        else:
            cells[name] = str(value)
    return cells


def write(path: Path, kind: Kind, rows: list[dict[str, Any]]) -> Path:
    """`rows` as NDJSON or CSV, by the extension of `path`."""
    if path.suffix == ".csv":
        flat = [_csv_cells(kind, row) for row in rows]
        names = list(dict.fromkeys(name for cells in flat for name in cells))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat)
        path.write_text(buffer.getvalue(), encoding="utf-8")
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def rejected_entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture
async def infra(sqlite_url: str) -> AsyncIterator[Infrastructure]:
    settings = Settings(_env_file=None, database_url=sqlite_url, kafka_bootstrap=None)
    async with open_infrastructure(settings) as opened:
        yield opened


@pytest.fixture
def intake(infra: Infrastructure) -> Intake:
    return Intake(infra.bus, IntakeStore(infra.engine), source="/earlywarning/import")


async def events(infra: Infrastructure, kind: Kind) -> list[CloudEvent]:
    return [CloudEvent.from_message(m) for m in await infra.bus.read(TOPIC[kind], limit=1_000_000)]


class Interrupted(Exception):
    pass


def stop_after_rows(rows: int) -> Callable[[int, int, int], None]:
    """A progress callback that interrupts the import once `rows` rows were done."""

    def progress(_done: int, _total: int, rows_done: int) -> None:
        if rows_done >= rows:
            raise Interrupted

    return progress


# ------------------------------------------------------------------------------------------ every kind


@pytest.mark.parametrize("suffix", [".ndjson", ".csv"])
@pytest.mark.parametrize("kind", list(Kind))
async def test_import_every_kind(
    kind: Kind, suffix: str, tmp_path: Path, infra: Infrastructure, intake: Intake
) -> None:
    bad, bad_path = INVALID[kind]
    rows = [VALID[kind](1), VALID[kind](2), bad, VALID[kind](3)]
    path = write(tmp_path / f"{kind.value}{suffix}", kind, rows)
    reports: list[tuple[int, int, int]] = []

    result = await run_import(intake, kind, path, progress=lambda *a: reports.append(a))

    assert (result.accepted, result.duplicates, result.rejected) == (3, 0, 1)
    assert result.resumed_from_line is None
    assert reports[0][0] == 0
    assert reports[-1] == (path.stat().st_size, path.stat().st_size, 4)
    found = await events(infra, kind)
    assert [e.type for e in found] == [EVENT_TYPES[kind]] * 3
    assert {e.source for e in found} == {"/earlywarning/import"}
    # The rejected row, with its line in the file: the CSV header is line 1, and a CSV publication
    # spans two lines (its text has a newline).
    assert result.rejected_path == rejected_path_for(path)
    [entry] = rejected_entries(result.rejected_path)
    lines_per_row = 2 if (kind, suffix) == (Kind.publications, ".csv") else 1
    assert entry["line"] == (2 + 2 * lines_per_row if suffix == ".csv" else 3)
    assert entry["reason"].startswith("invalid row")
    assert bad_path in [error["path"] for error in entry["errors"]]
    assert isinstance(entry["row"], dict)
    assert not state_path_for(path).exists()

    # The same file again: rows with a natural key are duplicates, no new event.
    again = await run_import(intake, kind, path)
    assert again.rejected == 1
    if kind in (Kind.portfolio, Kind.contacts):
        # A portfolio or contact row is a state: setting the same state again is harmless.
        assert (again.accepted, again.duplicates) == (3, 0)
    else:
        assert (again.accepted, again.duplicates) == (0, 3)
        assert len(await events(infra, kind)) == 3


async def test_publication_fields_survive_csv(tmp_path: Path, infra: Infrastructure, intake: Intake) -> None:
    path = write(tmp_path / "p.csv", Kind.publications, [publication(1)])
    await run_import(intake, Kind.publications, path)
    [event] = await events(infra, Kind.publications)
    data = json.loads(event.data)
    assert data["rubrics"] == ["resignation", "appointment"]
    assert data["persons"][0]["birth_year"] == 1971
    assert data["text"] == "Publication 1.\nSecond line."
    assert event.subject == COMPANY


async def test_portfolio_rows_are_stored_like_the_put_endpoint(
    tmp_path: Path, infra: Infrastructure, intake: Intake
) -> None:
    rows = [portfolio(1), portfolio(2), portfolio(1, name="Company 1 renamed")]
    path = write(tmp_path / "portfolio.csv", Kind.portfolio, rows)
    result = await run_import(intake, Kind.portfolio, path)
    assert result.accepted == 3
    store = IntakeStore(infra.engine)
    first = await store.get_portfolio(company(1))
    assert first is not None
    assert first.entry["name"] == "Company 1 renamed"
    assert first.entry["employees"] == 1
    assert await store.get_portfolio(company(2)) is not None
    assert await store.get_portfolio(company(3)) is None


CONTACTS_CSV = """company_id;contact_id;name;function;dmu_role;claims_director;last_contact_at;reporter
0403.170.701;crm-1;Sofie Maes;CFO;decision_maker;yes;2025-09-30T14:00:00Z;jan@example.com
0403.170.701;crm-2;Tom Claes;;buyer;0;;jan@example.com
0403.170.701;crm-3;An Peeters;;ceo;TRUE;;jan@example.com
0403.170.701;crm-4;;CEO;user;;;jan@example.com
0403.170.702;crm-5;Els Wouters;;user;;;jan@example.com
BE 0417 497 106;crm-1;Bart Janssens;;gatekeeper;;;an@example.com
0403.170.701;crm-6;Lies Goossens;;influencer;;;jan@example.com
0403.170.701;crm-2;Tom Claes;Buyer;buyer;false;;jan@example.com
"""


def contacts_ndjson() -> str:
    rows: list[dict[str, Any]] = [
        contact(1, name="Sofie Maes", claims_director=True),
        contact(2, name="Tom Claes", function=None, dmu_role="buyer", claims_director=False),
        contact(3, dmu_role="ceo"),
        {k: v for k, v in contact(4).items() if k != "name"},
        contact(5, company_id="0403.170.702"),
        contact(1, company_id="BE 0417 497 106", name="Bart Janssens", dmu_role="gatekeeper"),
        contact(6, claims_director=False),
        contact(2, name="Tom Claes", function="Buyer", dmu_role="buyer", claims_director=False),
    ]
    for row in rows[5:]:
        row.pop("last_contact_at")
    return "".join(json.dumps(row) + "\n" for row in rows)


@pytest.mark.parametrize("suffix", [".csv", ".ndjson"])
async def test_contact_rows_are_stored_like_the_put_endpoint(
    suffix: str, tmp_path: Path, infra: Infrastructure, intake: Intake
) -> None:
    path = tmp_path / f"contacts{suffix}"
    path.write_text(CONTACTS_CSV if suffix == ".csv" else contacts_ndjson(), encoding="utf-8")
    result = await run_import(intake, Kind.contacts, path, batch_size=3)

    assert (result.accepted, result.rejected) == (5, 3)
    assert result.rejected_path is not None
    rejected = rejected_entries(result.rejected_path)
    line = 1 if suffix == ".csv" else 0  # the CSV header is line 1
    assert [(e["line"], [error["path"] for error in e["errors"]]) for e in rejected] == [
        (3 + line, ["dmu_role"]),
        (4 + line, ["name"]),
        (5 + line, ["company_id"]),
    ]
    assert all(e["reason"].startswith("invalid row") for e in rejected)

    store = IntakeStore(infra.engine)
    stored = {
        (r.company_id, r.contact_id): r.entry
        for company_id in (COMPANY, "BE0417497106")
        for r in await store.contact_page(company_id, None, 100)
    }
    assert set(stored) == {
        (COMPANY, "crm-1"),
        (COMPANY, "crm-2"),
        (COMPANY, "crm-6"),
        ("BE0417497106", "crm-1"),
    }
    first = stored[(COMPANY, "crm-1")]
    assert (first["name"], first["claims_director"], first["last_contact_at"]) == (
        "Sofie Maes",
        True,
        "2025-09-30T14:00:00Z",
    )
    # The last row of a contact wins; an empty cell is an absent field (claims_director: false).
    assert (stored[(COMPANY, "crm-2")]["function"], stored[(COMPANY, "crm-2")]["claims_director"]) == (
        "Buyer",
        False,
    )
    assert stored[(COMPANY, "crm-6")]["claims_director"] is False
    assert stored[("BE0417497106", "crm-1")]["name"] == "Bart Janssens"
    found = await events(infra, Kind.contacts)
    assert [e.type for e in found] == ["earlywarning.contact.updated"] * 5


async def test_another_content_under_the_same_key_is_rejected(tmp_path: Path, intake: Intake) -> None:
    await run_import(intake, Kind.orders, write(tmp_path / "a.ndjson", Kind.orders, [order(1)]))
    changed = write(tmp_path / "b.ndjson", Kind.orders, [order(2), order(1, amount_eur=999), order(2)])
    result = await run_import(intake, Kind.orders, changed)
    assert (result.accepted, result.duplicates, result.rejected) == (1, 1, 1)
    [entry] = rejected_entries(rejected_path_for(changed))
    assert entry["line"] == 2
    assert "already received with another content" in entry["reason"]


async def test_unreadable_lines_are_rejected_rows(
    tmp_path: Path, infra: Infrastructure, intake: Intake
) -> None:
    path = tmp_path / "orders.ndjson"
    path.write_bytes(
        json.dumps(order(1)).encode()
        + b"\n\n{not json\n[1]\n"
        + b'{"order_id": "caf\xe9"}\n'
        + json.dumps(order(2)).encode()
    )
    result = await run_import(intake, Kind.orders, path)
    assert (result.accepted, result.rejected) == (2, 3)
    entries = rejected_entries(rejected_path_for(path))
    assert [(e["line"], e["reason"].split(":")[0].split(" (")[0]) for e in entries] == [
        (3, "not valid JSON"),
        (4, "not a JSON object but an array"),
        (5, "not valid UTF-8"),
    ]
    assert len(await events(infra, Kind.orders)) == 2


async def test_file_errors_stop_before_anything_is_imported(
    tmp_path: Path, infra: Infrastructure, intake: Intake
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("company_id,order_id,colour\nBE0403170701,1,red\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="unknown column"):
        await run_import(intake, Kind.orders, path)
    with pytest.raises(ImportFileError, match="--format"):
        await run_import(intake, Kind.orders, tmp_path / "orders.txt")
    assert await events(infra, Kind.orders) == []


# ------------------------------------------------------------------------------------------ resuming


async def test_interrupted_import_continues_from_its_checkpoint(
    tmp_path: Path, infra: Infrastructure, intake: Intake
) -> None:
    rows = [order(n) for n in range(1, 26)]
    rows[21] = order(22, amount_eur="lots")
    path = write(tmp_path / "orders.ndjson", Kind.orders, rows)

    with pytest.raises(Interrupted):
        await run_import(intake, Kind.orders, path, batch_size=10, progress=stop_after_rows(20))
    state = json.loads(state_path_for(path).read_text())
    assert (state["line"], state["accepted"]) == (20, 20)
    assert len(await events(infra, Kind.orders)) == 20

    result = await run_import(intake, Kind.orders, path, batch_size=10)
    assert result.resumed_from_line == 21
    assert (result.accepted, result.duplicates, result.rejected) == (24, 0, 1)
    assert result.rows_this_run == 5
    found = await events(infra, Kind.orders)
    assert len(found) == 24
    assert len({e.id for e in found}) == 24
    assert [e["line"] for e in rejected_entries(rejected_path_for(path))] == [22]
    assert not state_path_for(path).exists()


async def test_crash_after_publishing_before_the_checkpoint_repeats_no_event(
    tmp_path: Path, infra: Infrastructure, intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [order(n) for n in range(1, 26)]
    rows[14] = order(15, ordered_at="yesterday")
    path = write(tmp_path / "orders.ndjson", Kind.orders, rows)
    save = importer._save_checkpoint
    calls: list[int] = []

    def failing_second_save(state: Path, checkpoint: Any) -> None:
        calls.append(checkpoint.line)
        if len(calls) == 2:
            raise OSError("disk full")
        save(state, checkpoint)

    monkeypatch.setattr(importer, "_save_checkpoint", failing_second_save)
    with pytest.raises(OSError, match="disk full"):
        await run_import(intake, Kind.orders, path, batch_size=10)
    # The second batch was published, and its rejected row written, but not checkpointed.
    assert len(await events(infra, Kind.orders)) == 19
    assert len(rejected_entries(rejected_path_for(path))) == 1
    monkeypatch.setattr(importer, "_save_checkpoint", save)

    result = await run_import(intake, Kind.orders, path, batch_size=10)
    assert result.resumed_from_line == 11
    assert (result.accepted, result.duplicates, result.rejected) == (15, 9, 1)
    found = await events(infra, Kind.orders)
    assert len(found) == 24
    assert len({e.id for e in found}) == 24
    # The rejected row of the repeated batch is in the file once.
    assert [e["line"] for e in rejected_entries(rejected_path_for(path))] == [15]


async def test_changed_file_starts_over(tmp_path: Path, infra: Infrastructure, intake: Intake) -> None:
    path = write(tmp_path / "orders.ndjson", Kind.orders, [order(n) for n in range(1, 26)])
    with pytest.raises(Interrupted):
        await run_import(intake, Kind.orders, path, batch_size=10, progress=stop_after_rows(10))
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(order(26)) + "\n")

    result = await run_import(intake, Kind.orders, path, batch_size=10)
    assert result.restarted is not None
    assert "changed" in result.restarted
    assert result.resumed_from_line is None
    assert (result.accepted, result.duplicates, result.rejected) == (16, 10, 0)
    assert len(await events(infra, Kind.orders)) == 26


async def test_restart_ignores_the_checkpoint(tmp_path: Path, intake: Intake) -> None:
    path = write(tmp_path / "orders.ndjson", Kind.orders, [order(n) for n in range(1, 26)])
    with pytest.raises(Interrupted):
        await run_import(intake, Kind.orders, path, batch_size=10, progress=stop_after_rows(10))
    result = await run_import(intake, Kind.orders, path, batch_size=10, restart=True)
    assert result.restarted is not None
    assert "--restart" in result.restarted
    assert (result.accepted, result.duplicates, result.resumed_from_line) == (15, 10, None)


async def test_csv_with_multi_line_rows_continues_at_the_right_line(
    tmp_path: Path, infra: Infrastructure, intake: Intake
) -> None:
    # Every row spans two lines (its text has a newline): row n starts at line 2n.
    rows = [publication(n) for n in range(1, 11)]
    rows[8] = publication(9, published_on="someday")
    path = write(tmp_path / "publications.csv", Kind.publications, rows)
    with pytest.raises(Interrupted):
        await run_import(intake, Kind.publications, path, batch_size=4, progress=stop_after_rows(8))

    result = await run_import(intake, Kind.publications, path, batch_size=4)
    assert result.resumed_from_line == 18
    assert (result.accepted, result.rejected) == (9, 1)
    assert [e["line"] for e in rejected_entries(rejected_path_for(path))] == [18]
    assert len(await events(infra, Kind.publications)) == 9


async def test_unreadable_checkpoint_starts_over(tmp_path: Path, intake: Intake) -> None:
    path = write(tmp_path / "orders.ndjson", Kind.orders, [order(1)])
    state_path_for(path).write_text("{half a checkp", encoding="utf-8")
    result = await run_import(intake, Kind.orders, path)
    assert result.restarted is not None
    assert "cannot be read" in result.restarted
    assert result.accepted == 1


# ------------------------------------------------------------------------------------------ the command


def cli_app() -> typer.Typer:
    app = typer.Typer()
    register(app, _with_infrastructure)
    return app


async def invoke(args: list[str], sqlite_url: str) -> Any:
    # The command runs its own event loop (asyncio.run), so it must not run on this test's loop thread.
    runner = CliRunner()
    env = {"EW_DATABASE_URL": sqlite_url, "EW_KAFKA_BOOTSTRAP": "", "COLUMNS": "200"}
    return await asyncio.to_thread(runner.invoke, cli_app(), args, env=env)


async def test_command_imports_and_summarises(tmp_path: Path, sqlite_url: str, infra: Infrastructure) -> None:
    clean = write(tmp_path / "orders.csv", Kind.orders, [order(1), order(2)])
    result = await invoke(["import", "orders", str(clean)], sqlite_url)
    assert result.exit_code == 0, result.output
    assert "accepted (new events)" in result.output
    assert "│ 2" in result.output
    assert len(await events(infra, Kind.orders)) == 2

    dirty = write(tmp_path / "more.ndjson", Kind.orders, [order(3), order(4, amount_eur=-1)])
    rejected = tmp_path / "bad-rows.ndjson"
    result = await invoke(
        ["import", "orders", str(dirty), "--rejected", str(rejected), "--batch-size", "1"], sqlite_url
    )
    assert result.exit_code == 1, result.output
    assert str(rejected) in result.output.replace("\n", "")
    assert [e["line"] for e in rejected_entries(rejected)] == [2]
    assert len(await events(infra, Kind.orders)) == 3


async def test_command_usage_errors(tmp_path: Path, sqlite_url: str) -> None:
    missing = await invoke(["import", "orders", str(tmp_path / "nope.csv")], sqlite_url)
    assert missing.exit_code == 2
    header = tmp_path / "orders.csv"
    header.write_text("order_id,colour\n1,red\n", encoding="utf-8")
    bad_header = await invoke(["import", "orders", str(header)], sqlite_url)
    assert bad_header.exit_code == 2
    assert "unknown column" in bad_header.output
    wrong_format = await invoke(["import", "orders", str(header), "--format", "xml"], sqlite_url)
    assert wrong_format.exit_code == 2


async def test_command_help_explains_formats_and_columns(sqlite_url: str) -> None:
    result = await invoke(["import", "--help"], sqlite_url)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for expected in ("NDJSON", "CSV", "data.<field>", "rejected", "2 for a usage error"):
        assert expected in text
    bureau_help = await invoke(["import", "bureau", "--help"], sqlite_url)
    assert "data.days_beyond_terms" in " ".join(bureau_help.output.split())
    contacts_help = " ".join((await invoke(["import", "contacts", "--help"], sqlite_url)).output.split())
    for expected in ("contact_id*", "dmu_role*", "claims_director", "yes/no"):
        assert expected in contacts_help


async def test_command_imports_contacts(tmp_path: Path, sqlite_url: str, infra: Infrastructure) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text(CONTACTS_CSV, encoding="utf-8")
    result = await invoke(["import", "contacts", str(path)], sqlite_url)
    assert result.exit_code == 1, result.output
    assert "accepted (new events)" in result.output
    assert [e["line"] for e in rejected_entries(rejected_path_for(path))] == [4, 5, 6]
    stored = await IntakeStore(infra.engine).contact_page(COMPANY, None, 100)
    assert [r.contact_id for r in stored] == ["crm-1", "crm-2", "crm-6"]


def test_result_rows_adds_up() -> None:
    result = ImportResult(3, 2, 1, None, None, 0.1)
    assert result.rows == 6
    assert Format("csv") is Format.csv
