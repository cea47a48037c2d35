"""`earlywarning import kbo`: the real update extract and generated ones, on SQLite and PostgreSQL.

Full then update, a replay, broken rows, a zip, interrupted imports that continue, the events announced
on ew.register for monitored companies, the register's view of a company, and a bankruptcy signal raised
end to end from an update extract.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from services.cli import app as cli_app
from services.register import store as register_store
from services.register.load import DEFAULT_BATCH_SIZE, ExtractRefused, LoadResult, load_extract
from services.register.rows import office_key
from services.register.view import register_view
from services.signals.consumer import IntakeHandler
from services.signals.rules import register_event_id
from shared import topics
from shared.cloudevents import decode
from shared.db import utcnow
from shared.runtime import Infrastructure, open_infrastructure
from shared.schemas import PortfolioEntry, RegisterEvent
from shared.settings import Settings
from tests.harness.app import serving
from tests.harness.kbo import (
    REAL_UPDATE,
    Enterprise,
    Office,
    company_id,
    enterprise_number,
    write_full,
    write_update,
    zip_extract,
)
from tests.integration.test_console_pages import login, text_of

FULL_SNAPSHOT = date(2025, 10, 3)
GENT = office_key("9000", "Gent", "Veldstraat", "1", None, None)
"""The key of the harness's default registered office."""
UPDATE_SNAPSHOT = date(2025, 10, 11)
OLD = date(1998, 5, 1)
RECENT = date(2023, 2, 1)


def number(n: int) -> str:
    return enterprise_number(n)


def cid(n: int) -> str:
    return company_id(enterprise_number(n))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def infra(request: pytest.FixtureRequest) -> AsyncIterator[Infrastructure]:
    """The database and the embedded bus, as `earlywarning import` opens them: SQLite, then PostgreSQL."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_database_url")
    settings = Settings(database_url=url, kafka_bootstrap=None)
    async with open_infrastructure(settings, start_timeout=30) as opened:
        yield opened


async def monitor(engine: AsyncEngine, *ns: int, **entry: Any) -> None:
    """Companies `ns` in the portfolio, as the signals service records a portfolio entry."""
    entries = [PortfolioEntry(company_id=cid(n), name=f"Klant {n}", **entry) for n in ns]
    async with engine.begin() as conn:
        await IntakeHandler(engine).apply(conn, entries, [], utcnow())


async def load(infra: Infrastructure, path: Path, **options: Any) -> LoadResult:
    return await load_extract(infra.engine, infra.bus, path, **options)


async def announced(infra: Infrastructure) -> list[tuple[str, RegisterEvent]]:
    """Every message on ew.register: (CloudEvent id, payload), partition by partition."""
    found = []
    for message in await infra.bus.read(topics.REGISTER, limit=100_000):
        event, payload = decode(message, RegisterEvent)
        found.append((event.id, payload))
    return found


async def count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def counts(engine: AsyncEngine) -> dict[str, int]:
    s = register_store
    tables = [
        s.register_enterprises,
        s.register_denominations,
        s.register_offices,
        s.register_activities,
        s.register_establishments,
        s.register_departed,
    ]
    return {table.name.removeprefix("register_"): await count(engine, table) for table in tables}


def step(result: LoadResult, name: str) -> Any:
    return next(s for s in result.steps if s.step == name)


# --- the real update extract ---------------------------------------------------------------------------


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
async def test_the_real_update_extract_loads_once(
    infra: Infrastructure, tmp_path: Path, as_zip: bool
) -> None:
    path = (
        zip_extract(REAL_UPDATE, tmp_path / "KboOpenData_0147.zip", subfolder=True) if as_zip else REAL_UPDATE
    )
    result = await load(infra, path)
    assert (result.meta.number, result.already_loaded, result.rejected) == (147, False, 0)
    assert "no full extract" in result.notes[0]
    expected = {
        "enterprises": 28,
        "denominations": 28,
        "offices": 12,
        "activities": 5,
        "establishments": 22,
        "departed": 0,
    }
    assert await counts(infra.engine) == expected
    assert step(result, "enterprise_delete.csv").rows == 162
    assert step(result, "activity_insert.csv").rows == 425

    async with infra.engine.connect() as conn:
        view = await register_view(conn, "BE1029028161")
        roofer = await register_view(conn, "BE0717947577")
        assert await register_view(conn, "BE0403170701") is None
    assert view is not None
    assert roofer is not None
    assert (view.name, view.status, view.start_date) == ("Cap Horizons ASBL", "active", date(2025, 10, 11))
    assert view.legal_form is not None
    assert view.legal_form.description == "Vereniging zonder winstoogmerk"
    assert view.juridical_situation is not None
    assert view.juridical_situation.description == "Normale toestand"
    assert view.registered_office is not None
    assert (view.registered_office.postal_code, view.registered_office.region) == ("1080", "Brussels")
    assert (view.extract_number, view.extract_date) == (147, date(2025, 10, 11))
    assert roofer.main_activity is not None
    assert (roofer.main_activity.nace_code, roofer.main_activity.section) == ("43910", "F")
    assert roofer.main_activity.description == "Dakwerkzaamheden"
    assert [(a.nace_version, a.nace_code) for a in roofer.main_activities] == [
        ("2008", "43910"),
        ("2025", "43410"),
    ]

    again = await load(infra, path)
    assert again.already_loaded
    assert await counts(infra.engine) == expected


# --- full, then update, then the same update again -------------------------------------------------------


def register_at_full() -> list[Enterprise]:
    return [
        Enterprise(number(1), names=["Alfa BV"]),
        Enterprise(number(2), names=["Bravo NV"], form="014"),
        Enterprise(number(3), names=["Charlie CommV"], form="612"),
        Enterprise(number(4), situation="048", start=OLD, names=["Delta BV"]),
        Enterprise(number(5), situation="012", start=RECENT, names=["Echo BV"]),
        Enterprise(number(6), situation="048", start=RECENT, names=["Foxtrot BV"]),
        Enterprise(number(8), names=["Hotel BV"], start=OLD),
    ]


async def test_full_then_update_then_the_same_update(infra: Infrastructure, tmp_path: Path) -> None:
    await monitor(infra.engine, 1, 2, 3, 4, 5, 7, 99)  # 6 is not monitored, 99 is in no register
    full = write_full(tmp_path / "full", 140, FULL_SNAPSHOT, register_at_full())
    first = await load(infra, full)
    assert first.notes == ()
    assert first.rejected == 0
    # Only the dissolution of the young Echo is announced: Delta's bankruptcy may be decades old.
    assert [(i, e.company_id, e.code, e.previous_code) for i, e in await announced(infra)] == [
        (f"kbo-{cid(5)}-140-juridical_situation", cid(5), "012", None)
    ]
    assert (await counts(infra.engine))["enterprises"] == 7

    await monitor(infra.engine, 8)  # monitored from now on: its next change is a change
    update = write_update(
        tmp_path / "update",
        141,
        UPDATE_SNAPSHOT,
        changed=[
            Enterprise(number(1), situation="048", names=["Alfa BV"]),
            Enterprise(
                number(2), names=["Bravo NV"], form="014", office=Office("2000", "Antwerpen", "Meir", "1")
            ),
            Enterprise(number(4), situation="048", start=OLD, names=["Delta BV"]),
            Enterprise(number(7), situation="049", start=RECENT, names=["Golf BV"]),
            Enterprise(number(8), situation="091", names=["Hotel BV"], start=OLD),
        ],
        removed=[number(3)],
    )
    second = await load(infra, update)
    assert second.rejected == 0
    events = [(i, e) for i, e in await announced(infra) if e.extract_number == 141]
    assert sorted((e.company_id, e.kind.value, e.code, e.previous_code) for _, e in events) == sorted(
        [
            (cid(1), "juridical_situation", "048", "000"),
            (cid(2), "registered_office", office_key("2000", "Antwerpen", "Meir", "1", None, None), GENT),
            (cid(3), "struck_off", None, "000"),
            (cid(7), "juridical_situation", "049", None),
            (cid(8), "juridical_situation", "091", "000"),
        ]
    )
    assert all(i == register_event_id(e) and e.extract_number == 141 for i, e in events)
    assert second.events == {"juridical_situation": 3, "registered_office": 1, "struck_off": 1}
    moved = next(e for _, e in events if e.kind.value == "registered_office")
    assert moved.description == "Meir 1, 2000 Antwerpen"
    bankrupt = next(e for _, e in events if e.company_id == cid(1))
    assert bankrupt.description == "Opening faillissement met verschoonbaarheid"
    assert bankrupt.observed_at == datetime(2025, 10, 11, 5, 40, 18, tzinfo=UTC)

    assert await counts(infra.engine) == {
        "enterprises": 7,  # 3 left, 7 came
        "denominations": 7,
        "offices": 7,
        "activities": 14,
        "establishments": 0,
        "departed": 1,
    }
    async with infra.engine.connect() as conn:
        charlie = await register_view(conn, cid(3))
        alfa = await register_view(conn, cid(1))
    assert charlie is not None
    assert alfa is not None
    assert (charlie.status, charlie.struck_off_extract, charlie.struck_off_snapshot) == (
        "struck_off",
        141,
        UPDATE_SNAPSHOT,
    )
    assert charlie.legal_form is not None
    assert charlie.legal_form.code == "612"
    assert alfa.juridical_situation is not None
    assert alfa.juridical_situation.code == "048"
    assert (alfa.status, alfa.extract_number) == ("active", 141)

    replay = await load(infra, update)
    assert replay.already_loaded
    assert len(await announced(infra)) == 6
    assert (await load(infra, full)).already_loaded
    older = write_update(tmp_path / "older", 139, FULL_SNAPSHOT, changed=[Enterprise(number(1))])
    with pytest.raises(ExtractRefused, match="older than extract 141"):
        await load(infra, older)


async def test_an_enterprise_coming_back_leaves_the_departed(infra: Infrastructure, tmp_path: Path) -> None:
    await load(infra, write_full(tmp_path / "full", 140, FULL_SNAPSHOT, register_at_full()))
    await load(infra, write_update(tmp_path / "u1", 141, UPDATE_SNAPSHOT, removed=[number(3)]))
    assert (await counts(infra.engine))["departed"] == 1
    back = write_update(tmp_path / "u2", 142, UPDATE_SNAPSHOT, changed=[Enterprise(number(3))])
    await load(infra, back)
    assert (await counts(infra.engine))["departed"] == 0
    # A full extract that no longer has an enterprise strikes it off too.
    fewer = [e for e in register_at_full() if e.number != number(8)]
    await load(infra, write_full(tmp_path / "full2", 143, UPDATE_SNAPSHOT, fewer))
    async with infra.engine.connect() as conn:
        hotel = await register_view(conn, cid(8))
    assert hotel is not None
    assert (hotel.status, hotel.struck_off_extract) == ("struck_off", 143)
    assert (await counts(infra.engine))["enterprises"] == 6


# --- broken rows -----------------------------------------------------------------------------------------


async def test_broken_rows_are_reported_not_fatal(infra: Infrastructure, tmp_path: Path) -> None:
    await load(infra, write_full(tmp_path / "full", 140, FULL_SNAPSHOT, register_at_full()))
    update = write_update(
        tmp_path / "update",
        141,
        UPDATE_SNAPSHOT,
        changed=[Enterprise(number(10), names=["Kilo BV"]), Enterprise(number(11), names=["Lima BV"])],
        extra={
            "enterprise": [
                ["0200.000.999", "AC", "000", "2", "610", None, OLD],  # wrong check digits
                [number(12), "AC", "000", "2", "610", None, "2020-01-01"],  # not dd-mm-yyyy
                [number(13), "AC"],  # too few fields
            ],
            "address": [
                [number(10), "REGO", None, None, "9000", "Gent", "Gand", "x" * 201, "x", "1", "", "", None]
            ],
        },
    )
    result = await load(infra, update)
    assert result.rejected == 4
    enterprise = step(result, "enterprise_insert.csv")
    assert (enterprise.rows, enterprise.written, enterprise.rejected) == (5, 2, 3)
    assert enterprise.examples[0].startswith("line 4: enterprise number '0200.000.999'")
    assert "StartDate '2020-01-01'" in enterprise.examples[1]
    assert "2 fields where the header has 7" in enterprise.examples[2]
    assert "StreetNL" in step(result, "address_insert.csv").examples[0]
    assert (await counts(infra.engine))["enterprises"] == 9


# --- interrupted imports ---------------------------------------------------------------------------------


class Interrupt(Exception):
    pass


def interrupt_at(step_name: str, after_rows: int) -> Any:
    def progress(step: str, done: int, total: int, rows: int) -> None:
        if step == step_name and rows >= after_rows:
            raise Interrupt(step)

    return progress


def many(first: int, count: int, **fields: Any) -> list[Enterprise]:
    return [
        Enterprise(
            number(n),
            names=[f"Onderneming {n}", f"Entreprise {n}"],
            establishments=[f"2.000.000.{n:03d}"],
            **fields,
        )
        for n in range(first, first + count)
    ]


async def test_an_interrupted_full_load_continues_where_it_stopped(
    infra: Infrastructure, tmp_path: Path
) -> None:
    await monitor(infra.engine, 20, 21)
    enterprises = many(20, 40)
    enterprises[1].situation, enterprises[1].start = "050", RECENT
    full = write_full(tmp_path / "full", 140, FULL_SNAPSHOT, enterprises)
    with pytest.raises(Interrupt):
        await load(infra, full, batch_size=10, progress=interrupt_at("denomination.csv", 30))
    async with infra.engine.connect() as conn:
        [record] = await register_store.extracts(conn)
        done = await register_store.progress(conn, 140)
    assert record.status == "loading"
    assert done["enterprise.csv"].done
    assert not done["denomination.csv"].done
    assert 30 <= done["denomination.csv"].rows < 120

    result = await load(infra, full, batch_size=10)
    assert result.resumed
    assert step(result, "denomination.csv").resumed_at == done["denomination.csv"].rows + 1
    assert step(result, "enterprise.csv").resumed_at is None
    assert await counts(infra.engine) == {
        "enterprises": 40,
        "denominations": 80,
        "offices": 40,
        "activities": 80,
        "establishments": 40,
        "departed": 0,
    }
    assert [(e.company_id, e.code) for _, e in await announced(infra)] == [(cid(21), "050")]


async def test_an_interrupted_update_continues_and_announces_once(
    infra: Infrastructure, tmp_path: Path
) -> None:
    await monitor(infra.engine, *range(20, 30))
    await load(infra, write_full(tmp_path / "full", 140, FULL_SNAPSHOT, many(20, 20)))
    changed = many(20, 10, situation="091")
    update = write_update(tmp_path / "update", 141, UPDATE_SNAPSHOT, changed=changed, removed=[number(35)])
    with pytest.raises(Interrupt):
        await load(infra, update, batch_size=4, progress=interrupt_at("denomination_insert.csv", 8))
    with pytest.raises(Interrupt):
        await load(infra, update, batch_size=4, progress=interrupt_at("activity_delete.csv", 4))
    result = await load(infra, update, batch_size=4)
    assert result.resumed
    assert result.events == {"juridical_situation": 10}
    assert step(result, "denomination_insert.csv").written == 20
    assert await counts(infra.engine) == {
        "enterprises": 19,
        "denominations": 38,
        "offices": 19,
        "activities": 38,
        "establishments": 20,  # the harness does not delete the establishment of a removed enterprise
        "departed": 1,
    }
    ids = [i for i, _ in await announced(infra)]
    assert sorted(ids) == sorted(f"kbo-{cid(n)}-141-juridical_situation" for n in range(20, 30))


async def test_a_crash_between_publishing_and_recording_publishes_the_same_ids(
    infra: Infrastructure, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await monitor(infra.engine, 1, 2)
    await load(infra, write_full(tmp_path / "full", 140, FULL_SNAPSHOT, register_at_full()))
    update = write_update(
        tmp_path / "update",
        141,
        UPDATE_SNAPSHOT,
        changed=[Enterprise(number(1), situation="049"), Enterprise(number(2), situation="013")],
    )
    save_watch = register_store.save_watch

    async def crash(*args: Any) -> None:
        raise Interrupt("after publishing")

    monkeypatch.setattr(register_store, "save_watch", crash)
    with pytest.raises(Interrupt):
        await load(infra, update)
    monkeypatch.setattr(register_store, "save_watch", save_watch)
    await load(infra, update)
    ids = [i for i, _ in await announced(infra)]
    expected = {f"kbo-{cid(1)}-141-juridical_situation", f"kbo-{cid(2)}-141-juridical_situation"}
    assert len(ids) == 4
    assert set(ids) == expected


# --- firmographics ---------------------------------------------------------------------------------------


async def test_firmographics_take_the_users_values_first(infra: Infrastructure, tmp_path: Path) -> None:
    await monitor(infra.engine, 1)
    await monitor(infra.engine, 2, nace="62.01", region="Wallonia")
    await load(infra, write_full(tmp_path / "full", 140, FULL_SNAPSHOT, register_at_full()))
    async with infra.engine.connect() as conn:
        alfa = await register_view(conn, cid(1))
        bravo = await register_view(conn, cid(2))
        charlie = await register_view(conn, cid(3))  # not in the portfolio
    assert alfa is not None
    assert bravo is not None
    assert charlie is not None
    assert alfa.firmographics.model_dump() == {
        "name": "Klant 1",
        "legal_form": "Besloten Vennootschap",
        "sector": "G",
        "sector_title": "Wholesale and retail trade; repair of motor vehicles",
        "nace": "46693",
        "region": "Flanders",
        "start_date": date(2010, 3, 1),
        "from_register": ["legal_form", "sector", "nace", "region", "start_date"],
    }
    assert (bravo.firmographics.sector, bravo.firmographics.nace, bravo.firmographics.region) == (
        "J",
        "62.01",
        "Wallonia",
    )
    assert bravo.firmographics.legal_form == "Naamloze vennootschap"
    assert "region" not in bravo.firmographics.from_register
    assert (charlie.firmographics.name, charlie.firmographics.from_register[0]) == ("Charlie CommV", "name")


# --- the command -----------------------------------------------------------------------------------------


async def invoke(args: list[str], sqlite_url: str) -> Any:
    # The command runs its own event loop (asyncio.run), so it must not run on this test's loop thread.
    env = {"EW_DATABASE_URL": sqlite_url, "EW_KAFKA_BOOTSTRAP": "", "COLUMNS": "200"}
    return await asyncio.to_thread(CliRunner().invoke, cli_app, args, env=env)


async def test_the_command(tmp_path: Path, sqlite_url: str) -> None:
    full = write_full(tmp_path / "full", 140, FULL_SNAPSHOT, register_at_full())
    loaded = await invoke(["import", "kbo", str(full)], sqlite_url)
    assert loaded.exit_code == 0, loaded.output
    assert "extract 140 (full, snapshot 03-10-2025)" in loaded.output
    assert "enterprise.csv" in loaded.output
    assert "events published" in loaded.output
    again = await invoke(["import", "kbo", str(full)], sqlite_url)
    assert again.exit_code == 0
    assert "already loaded, nothing changed" in again.output
    older = write_update(tmp_path / "older", 139, FULL_SNAPSHOT)
    refused = await invoke(["import", "kbo", str(older)], sqlite_url)
    assert refused.exit_code == 1
    assert "older than extract 140" in refused.output
    missing = await invoke(["import", "kbo", str(tmp_path / "nothing")], sqlite_url)
    assert missing.exit_code == 2
    assert "does not exist" in missing.output
    (older / "activity_insert.csv").unlink()
    incomplete = await invoke(["import", "kbo", str(older)], sqlite_url)
    assert incomplete.exit_code == 2
    assert "no activity_insert.csv" in incomplete.output
    help_text = " ".join((await invoke(["import", "kbo", "--help"], sqlite_url)).output.split())
    assert "EW_REGISTER_HORIZON_YEARS" in help_text
    assert DEFAULT_BATCH_SIZE == 20_000


# --- end to end: an update extract raises a bankruptcy ---------------------------------------------------

ADMIN_KEY = "ew_test_admin_key_for_the_register_tests_0"


async def test_a_bankruptcy_in_an_update_extract_raises_the_signal(sqlite_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=sqlite_url, kafka_bootstrap=None, admin_key=ADMIN_KEY, sweep_interval=0)
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    company = cid(1)
    async with serving(settings, ["ingest", "signals"]) as (client, infra):
        put = await client.put(f"/v1/portfolio/{company}", json={"name": "Alfa"}, headers=auth)
        assert put.status_code == 202, put.text
        await until(lambda: monitored(infra.engine, company))
        await load(infra, write_full(tmp_path / "full", 140, FULL_SNAPSHOT, register_at_full()))
        update = write_update(
            tmp_path / "update", 141, UPDATE_SNAPSHOT, changed=[Enterprise(number(1), situation="048")]
        )
        result = await load(infra, update)
        assert result.events == {"juridical_situation": 1}

        async def bankruptcy() -> dict[str, Any] | None:
            response = await client.get("/v1/signals", params={"company_id": company}, headers=auth)
            items = response.json()["items"]
            return next((s for s in items if s["signal"] == "bankruptcy"), None)

        signal = await until(bankruptcy)
        assert signal["severity"] == "critical"
        [evidence] = signal["evidence"]
        assert (evidence["source"], evidence["event_id"]) == (
            "register",
            f"kbo-{company}-141-juridical_situation",
        )
        assert "048" in evidence["summary"]

        # The company page (API and console) shows the register and its extract.
        shown = (await client.get(f"/v1/companies/{company}", headers=auth)).json()["register"]
        assert (shown["extract_number"], shown["juridical_situation"]["code"]) == (141, "048")
        await login(client, ADMIN_KEY, f"/companies/{company}")
        page = text_of((await client.get(f"/companies/{company}")).text)
        assert "Public register (KBO/BCE)" in page
        assert "(048)" in page
        assert f"no. 141 of {UPDATE_SNAPSHOT.isoformat()}" in page


async def monitored(engine: AsyncEngine, company: str) -> bool:
    from services.signals.store import companies

    async with engine.connect() as conn:
        entry = await conn.scalar(select(companies.c.portfolio).where(companies.c.company_id == company))
    return entry is not None


async def until(check: Any, timeout: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await check()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{check.__name__} did not happen within {timeout} s")
        await asyncio.sleep(0.1)
