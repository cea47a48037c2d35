"""The portfolio analyses on a data set with known answers, on SQLite and PostgreSQL.

Portfolio entries, orders and annual accounts go through the signals consumer's handler (what the bus
would deliver), so the analyses read the facts as the service keeps them.

    customer  segment  orders (euro, product line)                                   accounts 2024 -> 2025
    A         horeca   2025-10-15 300 pack., 2026-06-01 500 labels, 2026-10-01 1000 p.  1.0 M -> 1.1 M (growing)
    B         horeca   2024-01-10 2000 packaging                                       -
    C         horeca   2025-09-01 200 film, 2026-11-01 800 packaging                  500 k -> 490 k (stable)
    D         retail   2025-10-01 400 boxes                                            500 k -> 400 k (shrinking)
    E         retail   -                                                               -
    F         -        2026-11-20 100 packaging                                        -
    H         horeca   -                                                               1.0 M -> 1.2 M, risk high
    G         (not monitored) 2026-11-01 9999 packaging
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.register.store import register_activities, register_offices
from services.signals.analytics.churn import churn_report
from services.signals.analytics.cross_sell import cross_sell_report
from services.signals.analytics.profile import profile_report
from services.signals.analytics.rfm import rfm_report
from services.signals.analytics.value import value_report
from services.signals.bands import RfmSegment
from services.signals.consumer import IntakeHandler, source_event
from services.signals.rules import rules_from_mapping
from services.signals.store import companies, signals
from services.signals.sweep import Sweeper
from services.signals.wallet import wallet_gaps
from shared.auth import Scope
from shared.schemas import BureauEvent, Order, PortfolioEntry
from shared.settings import Settings
from tests.harness.app import check_scopes, prepared_database, serving, test_keys

AS_OF = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LATER = AS_OF + timedelta(hours=1)


def company(n: int) -> str:
    first = 8_000_000 + n * 7
    return f"BE{first:08d}{97 - first % 97:02d}"


A, B, C, D, E, F, G, H = (company(n) for n in range(8))
SEGMENTS = {A: "horeca", B: "horeca", C: "horeca", D: "retail", E: "retail", F: None, H: "horeca"}
ORDERS = [
    (A, "2025-10-15", 300, "packaging"),
    (A, "2026-06-01", 500, "labels"),
    (A, "2026-10-01", 1000, "packaging"),
    (B, "2024-01-10", 2000, "packaging"),
    (C, "2025-09-01", 200, "film"),
    (C, "2026-11-01", 800, "packaging"),
    (D, "2025-10-01", 400, "boxes"),
    (F, "2026-11-20", 100, "packaging"),
    (G, "2026-11-01", 9999, "packaging"),
]
FIRMOGRAPHICS: dict[str, dict[str, Any]] = {
    A: {"employees": 12, "nace": "56.10", "region": "Flanders", "customer_since": "2019-01-01"},
    C: {"employees": 300, "nace": "46.69", "region": "Wallonia", "customer_since": "2026-06-01"},
    D: {"employees": 5, "nace": "47.11", "region": "Brussels", "customer_since": "2023-01-01"},
}
ACCOUNTS = [
    (A, 1_000_000, 1_100_000),
    (C, 500_000, 490_000),
    (D, 500_000, 400_000),
    (H, 1_000_000, 1_200_000),
]


def order(n: int, who: str, day: str, euro: int, line: str) -> Any:
    payload = Order.model_validate(
        {
            "company_id": who,
            "order_id": f"SO-{n}",
            "ordered_at": f"{day}T10:00:00Z",
            "amount_eur": euro,
            "product_line": line,
        }
    )
    return source_event(payload, AS_OF)


def accounts(who: str, year: int, revenue: int) -> Any:
    payload = BureauEvent.model_validate(
        {
            "id": f"acc-{who}-{year}",
            "company_id": who,
            "type": "annual_accounts_filed",
            "occurred_at": f"{year + 1}-07-01T00:00:00Z",
            "data": {
                "fiscal_year": year,
                "filed_on": f"{year + 1}-07-01",
                "equity_eur": 100000,
                "revenue_eur": revenue,
            },
        }
    )
    return source_event(payload, AS_OF)


ADMIN_KEY = "ew_test_admin_key_for_the_analytics_tests_0"


@pytest.fixture
async def engine(migrated_engine: AsyncEngine) -> AsyncEngine:
    await load(migrated_engine)
    return migrated_engine


async def load(engine: AsyncEngine) -> None:
    handler = IntakeHandler(engine, clock=lambda: AS_OF)
    entries = [
        PortfolioEntry.model_validate(
            {"company_id": who, "name": f"Customer {who[-4:]}", "segment": seg, **FIRMOGRAPHICS.get(who, {})}
        )
        for who, seg in SEGMENTS.items()
    ]
    events = [order(n, *row) for n, row in enumerate(ORDERS)]
    events += [accounts(who, 2024, first) for who, first, _ in ACCOUNTS]
    events += [accounts(who, 2025, second) for who, _, second in ACCOUNTS]
    async with engine.begin() as conn:
        await handler.apply(conn, entries, events, AS_OF)
        # H has an open high risk signal (the analyses read the company's risk level).
        await conn.execute(update(companies).where(companies.c.company_id == H).values(risk_level="high"))
        # E gave no firmographics: the public register has them (office in Gent, a restaurant).
        await conn.execute(register_offices.insert().values(company_id=E, zipcode="9000", office_key="k-e"))
        await conn.execute(
            register_activities.insert().values(
                company_id=E, activity_group="001", nace_version="2008", nace_code="56101"
            )
        )


async def test_customer_value(engine: AsyncEngine) -> None:
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    async with engine.connect() as conn:
        report = await value_report(conn, start, end)
    assert [
        (s.segment, s.customers, s.buying_customers, s.revenue_eur, s.orders) for s in report.segments
    ] == [
        ("horeca", 4, 2, Decimal("2300.00"), 3),
        (None, 1, 1, Decimal("100.00"), 1),
        ("retail", 2, 0, Decimal("0.00"), 0),
    ]
    top = [(c.company_id, c.revenue_eur, c.orders) for c in report.customers[:3]]
    assert top == [(A, Decimal("1500.00"), 2), (C, Decimal("800.00"), 1), (F, Decimal("100.00"), 1)]
    assert G not in {c.company_id for c in report.customers}
    by_id = {c.company_id: c for c in report.customers}
    assert by_id[H].risk_level == "high"
    async with engine.connect() as conn:
        retail = await value_report(conn, start, end, segment="retail", limit=1)
    assert len(retail.customers) == 1
    assert [s.segment for s in retail.segments] == ["retail"]


async def test_profile(engine: AsyncEngine) -> None:
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    async with engine.connect() as conn:
        report = await profile_report(conn, start, end)
    found = [(g.dimension, g.group, g.customers, g.revenue_eur) for g in report.groups]
    assert found == [
        ("size", "small (10-49)", 1, Decimal("1500.00")),
        ("size", "large (250+)", 1, Decimal("800.00")),
        ("size", "unknown", 4, Decimal("100.00")),
        ("size", "micro (<10)", 1, Decimal("0.00")),
        ("sector", "I", 2, Decimal("1500.00")),  # A, and E from the register
        ("sector", "G", 2, Decimal("800.00")),
        ("sector", "unknown", 3, Decimal("100.00")),
        ("region", "Flanders", 2, Decimal("1500.00")),  # A, and E from the register
        ("region", "Wallonia", 1, Decimal("800.00")),
        ("region", "unknown", 3, Decimal("100.00")),
        ("region", "Brussels", 1, Decimal("0.00")),
        ("trend", "growing", 2, Decimal("1500.00")),
        ("trend", "stable", 1, Decimal("800.00")),
        ("trend", "unknown", 3, Decimal("100.00")),
        ("trend", "shrinking", 1, Decimal("0.00")),
        ("tenure", "5-10 years", 1, Decimal("1500.00")),
        ("tenure", "<1 year", 1, Decimal("800.00")),
        ("tenure", "unknown", 4, Decimal("100.00")),
        ("tenure", "3-5 years", 1, Decimal("0.00")),
    ]
    assert [(g.dimension, g.group) for g in report.top] == [
        ("size", "small (10-49)"),
        ("sector", "I"),
        ("region", "Flanders"),
        ("trend", "growing"),
        ("tenure", "5-10 years"),
    ]


async def test_rfm(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        report = await rfm_report(conn, AS_OF)
    scored = {c.company_id: (c.r, c.f, c.m, c.rfm_segment) for c in report.customers}
    assert scored == {
        A: (3, 5, 4, RfmSegment.LOYAL),
        B: (1, 1, 5, RfmSegment.LOST),
        C: (4, 4, 3, RfmSegment.LOYAL),
        D: (2, 2, 2, RfmSegment.HIBERNATING),
        F: (5, 3, 1, RfmSegment.POTENTIAL_LOYALISTS),
    }
    assert {s.rfm_segment: s.customers for s in report.segments}[RfmSegment.LOYAL] == 2
    assert sum(cell.customers for cell in report.grid) == 5
    assert [(x.company_id, x.revenue_last_year_eur) for x in report.lapsed] == [(D, Decimal("400.00"))]
    by_id = {c.company_id: c for c in report.customers}
    assert (by_id[B].recency_days, by_id[A].revenue_eur) == (
        (AS_OF - datetime(2024, 1, 10, 10, tzinfo=UTC)).days,
        Decimal("1800.00"),
    )
    async with engine.connect() as conn:
        loyal = await rfm_report(conn, AS_OF, only=RfmSegment.LOYAL)
        none = await rfm_report(conn, AS_OF, only=RfmSegment.CHAMPIONS)
    assert {c.company_id for c in loyal.customers} == {A, C}
    assert none.customers == []


async def test_churn(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        report = await churn_report(conn, AS_OF)
        one_year = await churn_report(conn, AS_OF, years=1)
    assert [(c.company_id, c.lifetime_revenue_eur) for c in report.customers] == [(B, Decimal("2000.00"))]
    assert (report.total, report.lost_revenue_eur) == (1, Decimal("2000.00"))
    assert {c.company_id for c in one_year.customers} == {B, D}


async def test_cross_sell(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        report = await cross_sell_report(conn, AS_OF)
    # Horeca buyers over the year: A (packaging, labels) and C (packaging). Labels is typical (1 of 2).
    # C lacks it; A has both; H lacks both but has an open high risk; D shrinks; B has no accounts.
    assert [
        (s.company_id, s.product_line, s.peers_buying_share, s.potential_eur) for s in report.suggestions
    ] == [(C, "labels", 0.5, Decimal("500.00"))]
    assert (report.total, report.potential_eur) == (1, Decimal("500.00"))
    async with engine.connect() as conn:
        strict = await cross_sell_report(conn, AS_OF, min_share=0.6)
    assert strict.suggestions == []


async def test_the_sweep_turns_the_cross_sell_into_growth_opportunity(engine: AsyncEngine) -> None:
    handler = IntakeHandler(engine, clock=lambda: AS_OF)
    assert await Sweeper(engine, handler, 3600, clock=lambda: AS_OF).sweep() != (0, 0)
    async with engine.connect() as conn:
        found = await conn.execute(
            select(signals.c.company_id, signals.c.status, signals.c.summary, signals.c.evidence).where(
                signals.c.signal == "growth_opportunity"
            )
        )
        opportunities = found.all()
    # C only, as the analysis says; its evidence is its latest order, what the analysis read.
    [(company_id, status, summary, evidence)] = opportunities
    assert (company_id, status) == (C, "open")
    assert summary == (
        "Customers of its segment also buy labels (50% of them, about €500 a year), which it does not, "
        "and no risk signal is open."
    )
    assert [item["event_id"] for item in json.loads(evidence)] == ["SO-5"]

    # Turned off in the rules: the next sweep finds no gap and resolves it.
    off = IntakeHandler(
        engine, clock=lambda: LATER, config=rules_from_mapping({"growth_opportunity": {"wallet_share": 0}})
    )
    await Sweeper(engine, off, 3600, clock=lambda: LATER).sweep()
    async with engine.connect() as conn:
        status = await conn.scalar(select(signals.c.status).where(signals.c.signal == "growth_opportunity"))
        assert status == "resolved"
        assert await conn.scalar(select(func.count()).select_from(wallet_gaps)) == 0


async def test_the_api(sqlite_url: str) -> None:
    await prepared_database(sqlite_url, load)
    settings = Settings(_env_file=None, database_url=sqlite_url, admin_key=ADMIN_KEY, sweep_interval=0)
    async with serving(settings, ["signals"], base_url="http://ew") as (client, infra):
        keys = await test_keys(infra, ADMIN_KEY, revoked_scope=Scope.read)
        headers = {"Authorization": f"Bearer {keys['read']}"}
        at = {"as_of": AS_OF.isoformat()}

        async def get(path: str, **params: Any) -> Any:
            response = await client.get(path, params=params, headers=headers)
            assert response.status_code == 200, response.text
            return response.json()

        value = await get(
            "/v1/analytics/value", **{"from": "2026-01-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}
        )
        assert value["customers"][0]["company_id"] == A
        assert value["customers"][0]["revenue_eur"] == 1500.0
        rfm = await get("/v1/analytics/rfm", **at, rfm_segment="loyal")
        assert {c["company_id"] for c in rfm["customers"]} == {A, C}
        churn = await get("/v1/analytics/churn", **at)
        assert [c["company_id"] for c in churn["customers"]] == [B]
        profile = await get(
            "/v1/analytics/profile", **{"from": "2026-01-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}
        )
        assert profile["top"][0] == {
            "dimension": "size",
            "group": "small (10-49)",
            "customers": 1,
            "revenue_eur": 1500,
        }
        cross = await get("/v1/analytics/cross-sell", **at)
        assert [(s["company_id"], s["product_line"]) for s in cross["suggestions"]] == [(C, "labels")]
        bad = await client.get(
            "/v1/analytics/value",
            params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
            headers=headers,
        )
        assert bad.status_code == 422
        for path in (
            "/v1/analytics/value",
            "/v1/analytics/rfm",
            "/v1/analytics/churn",
            "/v1/analytics/cross-sell",
        ):
            await check_scopes(client, keys, "GET", path, Scope.read)
