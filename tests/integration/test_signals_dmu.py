"""The DMU analysis on a data set with known answers, on SQLite and PostgreSQL, and through the API.

Portfolio entries and contacts go through the signals consumer's handler (what the bus would deliver), so
the analysis reads the tables as the service maintains them: versions, removals and all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.signals import analytics
from services.signals.consumer import IntakeHandler, source_event
from shared.auth import Scope
from shared.schemas import Contact, PortfolioEntry
from shared.settings import Settings
from tests.harness.app import prepared_database, serving, test_keys

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ADMIN_KEY = "ew_test_admin_key_for_the_dmu_tests_000000"


def company(n: int) -> str:
    first = 7_000_000 + n * 7
    return f"BE{first:08d}{97 - first % 97:02d}"


A, B, C, D, E, F, G = (company(n) for n in range(7))
SEGMENTS = {A: "horeca", B: "horeca", C: "horeca", D: "retail", E: "retail", F: None}


def contact(
    who: str, contact_id: str, role: str, function: str | None = None, last: str | None = None, **extra: Any
) -> Contact:
    return Contact.model_validate(
        {
            "company_id": who,
            "contact_id": contact_id,
            "name": f"Person {contact_id}",
            "function": function,
            "dmu_role": role,
            "last_contact_at": last,
            "reporter": "rep@example.com",
            **extra,
        }
    )


CONTACTS = [
    contact(A, "a1", "decision_maker", "CFO", "2026-10-01T10:00:00Z"),
    contact(A, "a2", "influencer", "Head of purchasing"),
    contact(A, "a3", "user"),
    contact(A, "a4", "buyer"),
    contact(B, "b1", "decision_maker", "CEO", "2025-01-01T10:00:00Z"),
    contact(D, "d1", "buyer", "Buyer"),
    contact(D, "d2", "user"),
    contact(E, "e1", "decision_maker", " cfo ", None),
    contact(F, "f1", "user"),
    contact(G, "g1", "decision_maker", "CEO"),  # G is not in the portfolio: not counted
]
REMOVED = contact(A, "a4", "buyer", deleted=True)  # a later removal


@pytest.fixture
async def engine(migrated_engine: AsyncEngine) -> AsyncEngine:
    await load(migrated_engine)
    return migrated_engine


async def load(engine: AsyncEngine) -> None:
    handler = IntakeHandler(engine, clock=lambda: NOW)
    entries = [
        PortfolioEntry(company_id=who, name=f"Customer {who[-4:]}", segment=segment)
        for who, segment in SEGMENTS.items()
    ]
    async with engine.begin() as conn:
        await handler.apply(conn, entries, [source_event(c, NOW) for c in CONTACTS], NOW)
    async with engine.begin() as conn:
        await handler.apply(conn, [], [source_event(REMOVED, NOW.replace(hour=10))], NOW)


async def test_the_figures_per_segment_and_overall(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        report = await analytics.dmu_report(conn, NOW)
    figures = [
        (
            f.segment,
            f.customers,
            f.customers_with_contacts,
            f.average_dmu_size,
            f.decision_maker_known,
            f.decision_maker_known_share,
            f.single_threaded,
        )
        for f in [report.overall, *report.segments]
    ]
    assert figures == [
        (None, 6, 5, 1.6, 3, 0.6, 3),  # overall
        ("horeca", 3, 2, 2.0, 2, 1.0, 1),
        ("retail", 2, 2, 1.5, 1, 0.5, 1),
        (None, 1, 1, 1.0, 0, 0.0, 1),  # customers without a segment
    ]
    assert [(f.function, f.decision_makers) for f in report.deciding_functions] == [("cfo", 2), ("ceo", 1)]
    assert [(s.company_id, s.last_contact_at) for s in report.stale_decision_makers] == [
        (E, None),
        (B, datetime(2025, 1, 1, 10, 0, tzinfo=UTC)),
    ]
    assert report.stale_decision_makers_total == 2


async def test_one_segment(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        report = await analytics.dmu_report(conn, NOW, segment="retail")
    assert (report.overall.customers, report.overall.customers_with_contacts) == (2, 2)
    assert [s.segment for s in report.segments] == ["retail"]
    assert [s.company_id for s in report.stale_decision_makers] == [E]
    assert [f.function for f in report.deciding_functions] == ["cfo"]


async def test_the_company_summary(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert (await analytics.dmu_summary(conn, A)).model_dump() == {
            "size": 3,
            "decision_maker_known": True,
        }
        assert (await analytics.dmu_summary(conn, D)).model_dump() == {
            "size": 2,
            "decision_maker_known": False,
        }
        assert (await analytics.dmu_summary(conn, C)).model_dump() == {
            "size": 0,
            "decision_maker_known": False,
        }


async def test_the_api(sqlite_url: str) -> None:
    await prepared_database(sqlite_url, load)
    settings = Settings(_env_file=None, database_url=sqlite_url, admin_key=ADMIN_KEY, sweep_interval=0)
    async with serving(settings, ["signals"], base_url="http://ew") as (client, infra):
        keys = await test_keys(infra, ADMIN_KEY, revoked_scope=Scope.read)
        headers = {"Authorization": f"Bearer {keys['read']}"}
        response = await client.get("/v1/analytics/dmu", params={"segment": "horeca"}, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["overall"]["customers"] == 3
        assert [s["company_id"] for s in body["stale_decision_makers"]] == [B]
        company_view = await client.get(f"/v1/companies/{A}", headers=headers)
        assert company_view.json()["dmu"] == {"size": 3, "decision_maker_known": True}
        assert company_view.json()["register"] is None  # no register extract loaded
        assert (await client.get("/v1/analytics/dmu")).status_code == 401
