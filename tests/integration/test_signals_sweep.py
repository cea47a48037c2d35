"""The sweep judges companies as of the present: absence-based signals (churn, an expired window) appear
and go without any new event, and a later, older event does not undo what the sweep judged.

On SQLite and PostgreSQL, with the consumer's handler fed directly (the bus is not what is tested here),
and once through the running service, whose start-up sweep raises a signal nobody sent an event for.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.signals import store
from services.signals.consumer import IntakeHandler
from services.signals.rules import SourceEvent
from services.signals.sweep import SWEEP_LOCK_ID, Sweeper
from shared.auth import Scope
from shared.db import create_engine, exclusive, migrate
from shared.schemas import SignalStatus
from shared.settings import Settings
from tests.harness.app import serving, test_keys
from tests.unit.signals.builders import COMPANY, bureau, order

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ADMIN_KEY = "ew_test_admin_key_for_the_sweep_tests_0000"


@pytest.fixture
def engine(migrated_engine: AsyncEngine) -> AsyncEngine:
    return migrated_engine


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def feed(handler: IntakeHandler, engine: AsyncEngine, *events: SourceEvent) -> None:
    async with engine.begin() as conn:
        await handler.apply(conn, [], list(events), handler.clock())


async def signals(engine: AsyncEngine, name: str) -> list[store.SignalRecord]:
    async with engine.connect() as conn:
        return [s for s in (await store.signals_of(conn, [COMPANY])).get(COMPANY, []) if s.signal == name]


async def outbox(engine: AsyncEngine) -> list[tuple[str, str, str]]:
    """(type, signal, status) of every queued event, in order."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(store.signal_outbox).order_by(store.signal_outbox.c.seq))
        return [(r.type.rsplit(".", 1)[1], *_signal_status(r.payload)) for r in rows]


def _signal_status(payload: str) -> tuple[str, str]:
    data = json.loads(payload)
    return data["signal"], data["status"]


def monthly_orders(first: datetime, count: int) -> list[SourceEvent]:
    return [order(first + timedelta(days=30 * n), id=f"SO-{n}") for n in range(count)]


async def test_a_customer_that_stopped_ordering_is_found_by_the_sweep(engine: AsyncEngine) -> None:
    clock = Clock(NOW)
    handler = IntakeHandler(engine, clock=clock)
    sweeper = Sweeper(engine, handler, 3600, clock=clock)
    orders = monthly_orders(datetime(2022, 1, 3, tzinfo=UTC), 12)
    await feed(handler, engine, *orders)
    # Judged as of its last order, the customer is active: nothing on the bus says otherwise.
    assert await signals(engine, "churn_risk") == []

    assert await sweeper.sweep() == (1, 1)
    [churn] = await signals(engine, "churn_risk")
    assert churn.status is SignalStatus.OPEN
    assert churn.evidence_ids == {orders[-1].id}
    assert churn.raised_at < NOW  # since the condition first held, in event time
    async with engine.connect() as conn:
        company = await store.get_company(conn, COMPANY)
    assert company is not None
    assert company.as_of == NOW
    assert await outbox(engine) == [("raised", "churn_risk", "open")]

    # The same sweep again finds nobody due; a later one judges again and changes nothing.
    assert await sweeper.sweep() == (0, 0)
    clock.now = NOW + timedelta(hours=1)
    assert await sweeper.sweep() == (1, 0)


async def test_an_older_event_after_a_sweep_is_judged_as_of_the_sweep(engine: AsyncEngine) -> None:
    clock = Clock(NOW)
    handler = IntakeHandler(engine, clock=clock)
    orders = monthly_orders(datetime(2022, 1, 3, tzinfo=UTC), 12)
    await feed(handler, engine, *orders)
    await Sweeper(engine, handler, 3600, clock=clock).sweep()

    # An order of 2022 that arrives late: judged as of the clock (2026), the customer is still gone. As of
    # the order's own time it would have looked active and the churn would have been resolved.
    late = order(orders[-1].at + timedelta(days=10), id="SO-late")
    await feed(handler, engine, late)
    [churn] = await signals(engine, "churn_risk")
    assert (churn.status, churn.evidence_ids) == (SignalStatus.OPEN, {late.id})

    # A new order resolves it.
    await feed(handler, engine, order(NOW + timedelta(days=1), id="SO-back"))
    [churn] = await signals(engine, "churn_risk")
    assert churn.status is SignalStatus.RESOLVED
    assert [kind for kind, *_ in await outbox(engine)] == ["raised", "updated", "resolved"]


async def test_a_window_that_ran_out_is_resolved_by_the_sweep(engine: AsyncEngine) -> None:
    clock = Clock(NOW)
    handler = IntakeHandler(engine, clock=clock)
    await feed(handler, engine, bureau("tax_debt", NOW - timedelta(days=300), amount_eur=25_000))
    [debt] = await signals(engine, "tax_debt")
    assert debt.status is SignalStatus.OPEN

    sweeper = Sweeper(engine, handler, 3600, clock=clock)
    assert await sweeper.sweep() == (1, 0)  # still within its year
    clock.now = NOW + timedelta(days=70)
    assert await sweeper.sweep() == (1, 1)
    [debt] = await signals(engine, "tax_debt")
    assert debt.status is SignalStatus.RESOLVED
    async with engine.connect() as conn:
        company = await store.get_company(conn, COMPANY)
    assert company is not None
    assert (company.risk_level, company.score) == (None, 100)


async def test_companies_are_swept_in_chunks(engine: AsyncEngine) -> None:
    clock = Clock(NOW)
    handler = IntakeHandler(engine, clock=clock)
    await feed(handler, engine, *monthly_orders(datetime(2022, 1, 3, tzinfo=UTC), 3))
    # Companies known only from the portfolio have no history: nothing to judge.
    async with engine.begin() as conn:
        await store.lock_companies(conn, ["BE0417497106"], NOW)
    assert await Sweeper(engine, handler, 3600, clock=clock, chunk=1).sweep() == (1, 1)


@pytest.mark.postgres
async def test_one_replica_sweeps_at_a_time(pg_database_url: str) -> None:
    engine = create_engine(pg_database_url)
    try:
        await migrate(engine)
        handler = IntakeHandler(engine, clock=Clock(NOW))
        await feed(handler, engine, *monthly_orders(datetime(2022, 1, 3, tzinfo=UTC), 3))
        sweeper = Sweeper(engine, handler, 3600, clock=Clock(NOW))
        async with exclusive(engine, SWEEP_LOCK_ID) as held:  # another replica sweeping
            assert held
            assert await sweeper.sweep() == (0, 0)
        assert await sweeper.sweep() == (1, 1)
    finally:
        await engine.dispose()


async def test_the_service_sweeps_at_start_up(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        await migrate(engine)
        await feed(IntakeHandler(engine), engine, *monthly_orders(datetime(2022, 1, 3, tzinfo=UTC), 6))
    finally:
        await engine.dispose()
    settings = Settings(_env_file=None, database_url=sqlite_url, admin_key=ADMIN_KEY, bus_poll_interval=0.05)
    async with serving(settings, ["signals"], base_url="http://signals") as (client, infra):
        keys = await test_keys(infra, ADMIN_KEY, revoked_scope=Scope.admin)
        headers = {"Authorization": f"Bearer {keys['read']}"}
        deadline = time.monotonic() + 15
        found: list[Any] = []
        while time.monotonic() < deadline and not found:
            response = await client.get("/v1/signals", params={"company_id": COMPANY}, headers=headers)
            assert response.status_code == 200, response.text
            found = [s for s in response.json()["items"] if s["signal"] == "churn_risk"]
            await asyncio.sleep(0.05)
        assert [s["status"] for s in found] == ["open"]
