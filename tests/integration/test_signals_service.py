"""The signals service end to end in one process with ingest, on both buses.

Events are posted through the ingest API; the signals service consumes them from the real bus (embedded
on SQLite, or Kafka with PostgreSQL), and the tests read its API and the `ew.signals` topic. One app runs
per bus for the whole module (a Kafka consumer group takes seconds to join); every test works on
companies of its own, so tests do not see each other's signals.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.signals import store
from services.signals.outbox import OutboxRelay
from services.signals.store import OutboxEntry
from shared import topics
from shared.auth import Scope
from shared.bus import Record
from shared.cloudevents import CloudEvent, new_event
from shared.runtime import Infrastructure, open_infrastructure
from shared.schemas import Contact, RegisterEvent
from shared.settings import Settings
from shared.webhooks import sign
from tests.harness.app import check_scopes, serving, test_keys
from tests.harness.postgres import create_database, drop_database

ADMIN_KEY = "ew_test_admin_key_for_the_signals_tests_00"
BUREAU_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
T = TypeVar("T")

_references = iter(range(10**6))


def new_company() -> str:
    """A random valid Belgian enterprise number: tests never share a company."""
    first8 = f"0{random.randrange(10**7):07d}"
    return f"BE{first8}{97 - int(first8) % 97:02d}"


def new_reference() -> str:
    return f"T{random.randrange(10**9):09d}{next(_references)}"


@dataclass
class Env:
    client: httpx.AsyncClient
    infra: Infrastructure
    keys: dict[str, str]
    timeout: float

    def auth(self, who: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    async def post(self, path: str, body: Any) -> str:
        response = await self.client.post(path, json=body, headers=self.auth("ingest"))
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    async def publication(self, company: str, rubrics: list[str], published_on: str, **extra: Any) -> str:
        """Post a gazette publication; its reference (the id its evidence carries)."""
        reference = extra.pop("reference", None) or new_reference()
        body = {
            "reference": reference,
            "company_id": company,
            "published_on": published_on,
            "rubrics": rubrics,
            **extra,
        }
        await self.post("/v1/publications", body)
        return str(reference)

    async def bureau(self, company: str, type: str, occurred_at: str, data: dict[str, Any]) -> str:
        """Post a signed bureau webhook; the bureau's event id."""
        event_id = f"bur-{new_reference()}"
        body = {"id": event_id, "company_id": company, "type": type, "occurred_at": occurred_at, "data": data}
        raw = json.dumps(body).encode()
        now = int(time.time())
        headers = {
            "webhook-id": event_id,
            "webhook-timestamp": str(now),
            "webhook-signature": sign(BUREAU_SECRET, event_id, now, raw),
            "content-type": "application/json",
        }
        response = await self.client.post("/v1/bureau/events", content=raw, headers=headers)
        assert response.status_code == 202, response.text
        return event_id

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.client.get(path, params=params, headers=self.auth("read"))
        assert response.status_code == 200, response.text
        return response.json()

    async def signals(self, company: str, **params: Any) -> list[dict[str, Any]]:
        return list((await self.get("/v1/signals", company_id=company, limit=1000, **params))["items"])

    async def timeline(self, company: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"/v1/companies/{company}/timeline", params={"limit": 1000}, headers=self.auth("read")
        )
        return list(response.json()["items"]) if response.status_code == 200 else []

    async def until(
        self,
        probe: Callable[[], Awaitable[T]],
        ok: Callable[[T], bool],
        what: str,
        timeout: float | None = None,
    ) -> T:
        """Poll `probe` until `ok`; fail after the timeout (the env's unless given) with the last value."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            value = await probe()
            if ok(value):
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; last: {value!r}")
            await asyncio.sleep(0.05)

    async def processed(self, company: str, count: int) -> list[dict[str, Any]]:
        """Wait until the company's timeline holds `count` events: their effects are then committed."""
        return await self.until(
            lambda: self.timeline(company), lambda items: len(items) >= count, f"{count} events of {company}"
        )

    async def signal_events(self, company: str) -> list[tuple[CloudEvent, dict[str, Any]]]:
        """The events on `ew.signals` about `company`, in order."""
        found = []
        for message in await self.infra.bus.read(topics.SIGNALS, limit=1_000_000):
            if message.key == company:
                event = CloudEvent.from_message(message)
                assert event.subject == company
                found.append((event, json.loads(message.value)))
        return found

    async def signal_events_until(self, company: str, count: int) -> list[tuple[CloudEvent, dict[str, Any]]]:
        return await self.until(
            lambda: self.signal_events(company), lambda found: len(found) >= count, f"{count} signal events"
        )


@pytest.fixture(
    scope="module",
    params=["embedded", pytest.param("kafka", marks=[pytest.mark.kafka, pytest.mark.postgres])],
)
async def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    common: dict[str, Any] = {"admin_key": ADMIN_KEY, "bureau_secret": BUREAU_SECRET, "bus_partitions": 3}
    database = None
    if request.param == "embedded":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('signals') / 'ew.db'}"
        settings = Settings(_env_file=None, database_url=url, bus_poll_interval=0.05, **common)
        timeout = 15.0
    else:
        server = request.getfixturevalue("postgres_url")
        database = create_database(server)
        settings = Settings(
            _env_file=None,
            database_url=database,
            kafka_bootstrap=request.getfixturevalue("kafka_bootstrap"),
            **common,
        )
        timeout = 60.0
    try:
        async with serving(settings, ["ingest", "signals"], base_url="http://signals") as (client, infra):
            keys = await test_keys(infra, ADMIN_KEY, revoked_scope=Scope.read)
            yield Env(client, infra, keys, timeout)
    finally:
        if database is not None:
            drop_database(request.getfixturevalue("postgres_url"), database)


def open_signals(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["signal"]: item for item in items if item["status"] == "open"}


def contract_json(item: dict[str, Any]) -> dict[str, Any]:
    """The Signal JSON of the contract within an API item (which adds what the credit team did)."""
    extras = {"acknowledged_by", "acknowledged_at", "resolved_by", "resolved_at", "note"}
    return {key: value for key, value in item.items() if key not in extras}


# --- raising, updating, exactly once -----------------------------------------------------------------


async def test_bankruptcy_publication_raises_a_critical_signal(env: Env) -> None:
    company = new_company()
    await env.client.put(
        f"/v1/portfolio/{company}", json={"name": "Brouwerij Failliet NV"}, headers=env.auth("ingest")
    )
    reference = await env.publication(company, ["bankruptcy"], "2019-05-06")

    [signal] = await env.until(lambda: env.signals(company), lambda items: len(items) == 1, "bankruptcy")
    assert signal["signal"] == "bankruptcy"
    assert (signal["category"], signal["severity"], signal["status"]) == ("risk", "critical", "open")
    assert signal["company_name"] == "Brouwerij Failliet NV"
    assert (signal["risk_level"], signal["score"]) == ("critical", 40)
    assert signal["raised_at"] == "2019-05-06T00:00:00Z"  # event time: a 2019 publication is judged in 2019
    [evidence] = signal["evidence"]
    assert (evidence["source"], evidence["event_id"], evidence["type"]) == (
        "publication",
        reference,
        "bankruptcy",
    )
    assert signal["summary"].endswith(".")

    company_view = await env.get(f"/v1/companies/{company}")
    assert (company_view["risk_level"], company_view["score"]) == ("critical", 40)
    assert company_view["monitored"] is True
    assert company_view["portfolio"]["name"] == "Brouwerij Failliet NV"
    assert [s["id"] for s in company_view["open_signals"]] == [signal["id"]]

    [(event, data)] = await env.signal_events_until(company, 1)
    assert event.type == "earlywarning.signal.raised"
    assert event.source == "/earlywarning/signals"
    assert event.id.startswith("sev_")
    assert data == contract_json(signal)


async def metric(env: Env, name: str, **labels: str) -> float:
    """The value of one series on `/metrics` (0 when absent)."""
    response = await env.client.get("/metrics")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


async def test_signal_changes_are_counted_by_signal_severity_and_change(env: Env) -> None:
    series = {"signal": "bankruptcy", "severity": "critical", "change": "raised"}
    before = await metric(env, "ew_signal_changes_total", **series)
    company = new_company()
    await env.publication(company, ["bankruptcy"], "2024-05-06")
    await env.signal_events_until(company, 1)
    assert await metric(env, "ew_signal_changes_total", **series) == before + 1


async def test_later_evidence_updates_the_signal_instead_of_raising_it_twice(env: Env) -> None:
    company = new_company()
    reference = await env.publication(company, ["bankruptcy"], "2025-03-03")
    [first] = await env.until(lambda: env.signals(company), lambda items: len(items) == 1, "bankruptcy")
    bureau_id = await env.bureau(
        company, "bankruptcy", "2025-03-04T09:00:00Z", {"court": "Gent", "declared_on": "2025-03-01"}
    )

    [signal] = await env.until(
        lambda: env.signals(company), lambda items: len(items[0]["evidence"]) == 2, "the update"
    )
    assert signal["id"] == first["id"]
    assert {e["event_id"] for e in signal["evidence"]} == {reference, bureau_id}
    events = await env.signal_events_until(company, 2)
    assert [e.type for e, _ in events] == ["earlywarning.signal.raised", "earlywarning.signal.updated"]
    assert {data["id"] for _, data in events} == {first["id"]}
    assert len({e.id for e, _ in events}) == 2


async def test_a_repeated_event_changes_nothing(env: Env) -> None:
    company = new_company()
    reference = await env.publication(company, ["bankruptcy"], "2025-02-03")
    # The same publication again: the intake answers with the same id and publishes nothing...
    await env.publication(company, ["bankruptcy"], "2025-02-03", reference=reference)
    [before] = await env.until(lambda: env.signals(company), lambda items: len(items) == 1, "bankruptcy")
    # ...and a redelivery of the same message (as after a crash before the offset commit) is a no-op.
    [original] = [
        m for m in await env.infra.bus.read(topics.PUBLICATIONS, limit=1_000_000) if m.key == company
    ]
    await env.infra.bus.publish([Record(original.topic, company, original.value, original.headers)])
    # A later event of the same company, on the same partition, proves the redelivery was consumed.
    await env.publication(company, ["capital_increase"], "2025-02-10")
    await env.processed(company, 2)

    assert len(await env.timeline(company)) == 2
    [after] = await env.signals(company)
    assert after == before
    await asyncio.sleep(0.3)  # the relay would have published anything queued by now
    assert [e.type for e, _ in await env.signal_events(company)] == ["earlywarning.signal.raised"]


async def test_out_of_order_events_end_in_the_same_signals_as_in_order(env: Env) -> None:
    in_order, reversed_order = new_company(), new_company()

    def steps(company: str) -> list[Callable[[], Awaitable[str]]]:
        director = [{"name": "Jan Peeters", "birth_year": 1970, "role": "director", "action": "appointed"}]
        gone = [{"name": "Jan Peeters", "birth_year": 1970, "role": "director", "action": "resigned"}]
        return [
            lambda: env.publication(company, ["appointment"], "2024-01-10", persons=director),
            lambda: env.bureau(company, "score_change", "2025-03-01T10:00:00Z", {"from": 80, "to": 40}),
            lambda: env.bureau(company, "tax_debt", "2025-04-01T10:00:00Z", {"amount_eur": 12000}),
            lambda: env.bureau(company, "score_change", "2025-05-01T10:00:00Z", {"from": 40, "to": 85}),
            lambda: env.bureau(
                company, "payment_behaviour", "2025-06-01T10:00:00Z", {"days_beyond_terms": 45}
            ),
            lambda: env.publication(company, ["resignation"], "2025-06-15", persons=gone),
        ]

    for step in steps(in_order):
        await step()
        await asyncio.sleep(0.05)  # give the consumer a chance to judge each state in turn
    for step in reversed(steps(reversed_order)):
        await step()
    await env.processed(in_order, 6)
    await env.processed(reversed_order, 6)

    def shape(items: list[dict[str, Any]]) -> dict[str, tuple[str, list[tuple[str, str, str]]]]:
        return {
            name: (s["severity"], sorted((e["source"], e["type"], e["at"]) for e in s["evidence"]))
            for name, s in open_signals(items).items()
        }

    expected = shape(await env.signals(in_order))
    assert shape(await env.signals(reversed_order)) == expected
    assert set(expected) >= {"tax_debt", "payment_behaviour", "management_churn"}
    assert "score_drop" not in expected  # the score recovered by May
    a = await env.get(f"/v1/companies/{in_order}")
    b = await env.get(f"/v1/companies/{reversed_order}")
    assert (a["risk_level"], a["score"]) == (b["risk_level"], b["score"])


# --- the credit team ---------------------------------------------------------------------------------


async def test_acknowledge_and_resolve(env: Env) -> None:
    company = new_company()
    await env.bureau(company, "tax_debt", "2025-04-01T10:00:00Z", {"amount_eur": 5000})
    [signal] = await env.until(lambda: env.signals(company), lambda items: len(items) == 1, "tax_debt")
    path = f"/v1/signals/{signal['id']}"

    acknowledged = await env.client.post(
        f"{path}/acknowledge",
        json={"by": "an.peeters@example.com", "note": "calling them"},
        headers=env.auth(),
    )
    assert acknowledged.status_code == 200, acknowledged.text
    body = acknowledged.json()
    assert (body["status"], body["acknowledged_by"], body["note"]) == (
        "open",
        "an.peeters@example.com",
        "calling them",
    )
    assert body["acknowledged_at"] is not None

    resolved = await env.client.post(
        f"{path}/resolve", json={"by": "an.peeters@example.com"}, headers=env.auth()
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert (body["status"], body["resolved_by"], body["note"]) == (
        "resolved",
        "an.peeters@example.com",
        "calling them",
    )
    assert (body["risk_level"], body["score"]) == (None, 100)
    company_view = await env.get(f"/v1/companies/{company}")
    assert (company_view["risk_level"], company_view["score"], company_view["open_signals"]) == (
        None,
        100,
        [],
    )

    events = await env.signal_events_until(company, 2)
    assert [e.type for e, _ in events] == ["earlywarning.signal.raised", "earlywarning.signal.resolved"]
    assert events[1][1]["status"] == "resolved"
    assert events[1][1]["score"] == 100

    again = await env.client.post(f"{path}/resolve", json={"by": "someone else"}, headers=env.auth())
    assert again.status_code == 200
    assert again.json()["resolved_by"] == "an.peeters@example.com"

    # Nothing new: the resolution holds. New evidence: the signal is raised again, as a new signal.
    await env.bureau(company, "ubo_change", "2025-04-02T10:00:00Z", {})
    await env.processed(company, 2)
    assert open_signals(await env.signals(company)) == {}
    await env.bureau(company, "tax_debt", "2025-05-01T10:00:00Z", {"amount_eur": 7000})
    raised = await env.until(
        lambda: env.signals(company, status="open"), lambda items: len(items) == 1, "a new tax_debt"
    )
    assert raised[0]["id"] != signal["id"]
    assert len(raised[0]["evidence"]) == 2

    missing = await env.client.post("/v1/signals/sig_nope/resolve", json={"by": "x"}, headers=env.auth())
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    invalid = await env.client.post(f"{path}/acknowledge", json={"by": ""}, headers=env.auth())
    assert invalid.status_code == 422
    assert invalid.json()["details"][0]["path"] == "body.by"


# --- reading -----------------------------------------------------------------------------------------


async def test_signals_are_paged_and_filtered(env: Env) -> None:
    company, other = new_company(), new_company()
    await env.publication(company, ["bankruptcy"], "2025-01-06")  # critical
    await env.bureau(company, "tax_debt", "2025-02-01T10:00:00Z", {"amount_eur": 100})  # high
    await env.bureau(
        company, "payment_behaviour", "2025-03-01T10:00:00Z", {"days_beyond_terms": 35}
    )  # medium
    await env.bureau(other, "tax_debt", "2025-02-01T10:00:00Z", {"amount_eur": 100})
    await env.processed(company, 3)
    await env.processed(other, 1)
    everything = await env.signals(company)
    assert [s["signal"] for s in everything] == [
        "payment_behaviour",
        "tax_debt",
        "bankruptcy",
    ]  # newest first

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"company_id": company, "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = await env.get("/v1/signals", **params)
        assert len(page["items"]) == 1
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [s["id"] for s in everything]

    async def names(**params: Any) -> list[str]:
        return [s["signal"] for s in await env.signals(company, **params)]

    assert await names(min_severity="high") == ["tax_debt", "bankruptcy"]
    assert await names(min_severity="critical") == ["bankruptcy"]
    assert await names(category="risk") == ["payment_behaviour", "tax_debt", "bankruptcy"]
    assert await names(category="opportunity") == []
    assert await names(since="2025-02-01T00:00:00Z") == ["payment_behaviour", "tax_debt"]
    assert await names(since="2025-02-01T12:00:00+01:00") == ["payment_behaviour"]
    await env.client.post(f"/v1/signals/{everything[0]['id']}/resolve", json={"by": "an"}, headers=env.auth())
    assert await names(status="open") == ["tax_debt", "bankruptcy"]
    assert await names(status="resolved") == ["payment_behaviour"]
    both = await env.get("/v1/signals", company_id=other.removeprefix("BE"), limit=1000)
    assert [s["company_id"] for s in both["items"]] == [other]

    for params in (
        {"limit": 0},
        {"limit": 1001},
        {"cursor": "nonsense"},
        {"min_severity": "huge"},
        {"since": "2025-01-01T00:00:00"},
    ):
        response = await env.client.get("/v1/signals", params=params, headers=env.auth("read"))
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"] == "validation_error"
    timeline_cursor = (await env.get(f"/v1/companies/{company}/timeline", limit=1))["next_cursor"]
    wrong_list = await env.client.get(
        "/v1/signals", params={"cursor": timeline_cursor}, headers=env.auth("read")
    )
    assert wrong_list.status_code == 422


async def test_timeline_is_newest_first_and_paged(env: Env) -> None:
    company = new_company()
    # Sent out of order: the timeline is in event time.
    for day in ("2025-01-03", "2025-01-01", "2025-01-05", "2025-01-02", "2025-01-04"):
        await env.publication(company, ["other"], day)
    await env.post(
        "/v1/observations",
        {
            "company_id": company,
            "kind": "growth",
            "reporter": "jan@example.com",
            "observed_at": "2025-01-03T12:00:00Z",
        },
    )
    items = await env.processed(company, 6)
    assert [item["at"][:10] for item in items] == [
        "2025-01-05",
        "2025-01-04",
        "2025-01-03",
        "2025-01-03",
        "2025-01-02",
        "2025-01-01",
    ]
    assert items[2]["source"] == "observation"
    assert items[2]["data"]["kind"] == "growth"

    seen = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = await env.get(f"/v1/companies/{company}/timeline", **params)
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == items

    missing = await env.client.get(f"/v1/companies/{new_company()}/timeline", headers=env.auth("read"))
    assert missing.status_code == 404
    unknown = await env.client.get(f"/v1/companies/{new_company()}", headers=env.auth("read"))
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "not_found"
    bad_id = await env.client.get("/v1/companies/0403170702", headers=env.auth("read"))
    assert bad_id.status_code == 422


async def test_an_undecodable_message_is_dead_lettered(env: Env) -> None:
    company = new_company()
    await env.infra.bus.publish([Record(topics.PUBLICATIONS, company, b"{not json", (("ce_id", b"x"),))])
    await env.publication(company, ["bankruptcy"], "2025-01-06")
    await env.processed(company, 1)  # the consumer went on past the poison message
    dead = await env.until(
        lambda: env.infra.bus.read(topics.dlq_topic(topics.PUBLICATIONS), limit=1_000_000),
        lambda found: any(m.key == company for m in found),
        "the dead letter",
    )
    [letter] = [m for m in dead if m.key == company]
    assert letter.value == b"{not json"
    assert b"CloudEvents" in (letter.header("ew_error") or b"")


# --- auth --------------------------------------------------------------------------------------------

ENDPOINTS = [
    ("GET", "/v1/companies/BE0403170701", Scope.read),
    ("GET", "/v1/companies/BE0403170701/timeline", Scope.read),
    ("GET", "/v1/signals", Scope.read),
    ("POST", "/v1/signals/sig_x/acknowledge", Scope.admin),
    ("POST", "/v1/signals/sig_x/resolve", Scope.admin),
]


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
async def test_auth_on_every_endpoint(env: Env, method: str, path: str, scope: Scope) -> None:
    body = {"by": "an"} if method == "POST" else None
    await check_scopes(env.client, env.keys, method, path, scope, body)


# --- the outbox relay --------------------------------------------------------------------------------


async def test_a_crash_between_publish_and_mark_publishes_the_same_ids_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}")
    company = new_company()
    now = datetime.now(UTC)
    entries = [
        OutboxEntry(f"sev_{n}", company, "earlywarning.signal.raised", json.dumps({"n": n}), now)
        for n in ("a", "b")
    ]
    async with open_infrastructure(settings) as infra:
        async with infra.engine.begin() as conn:
            await store.add_outbox(conn, entries)
            await store.add_outbox(conn, entries[:1])  # queued twice: one row
        relay = OutboxRelay(infra.engine, infra.bus)

        async def killed(*_args: object) -> None:
            raise RuntimeError("killed before marking")

        with monkeypatch.context() as patch:
            patch.setattr(store, "mark_published", killed)
            with pytest.raises(RuntimeError):
                await relay.flush()
        assert await relay.flush() == 2
        assert await relay.flush() == 0
        published = [CloudEvent.from_message(m) for m in await infra.bus.read(topics.SIGNALS)]
        assert [e.id for e in published] == ["sev_a", "sev_b", "sev_a", "sev_b"]
        assert {e.subject for e in published} == {company}
        async with infra.engine.begin() as conn:  # published rows are pruned after their retention
            assert await store.prune_outbox(conn, now - timedelta(days=1)) == 0
            assert await store.prune_outbox(conn, datetime.now(UTC) + timedelta(seconds=1)) == 2


# --- topics without an HTTP intake yet, and the portfolio --------------------------------------------


async def test_contacts_register_changes_and_portfolio_removal(env: Env) -> None:
    company = new_company()

    def contact(last_contact_at: str, function: str) -> Record:
        payload = Contact.model_validate(
            {
                "company_id": company,
                "contact_id": "c-1",
                "name": "Els Janssens",
                "function": function,
                "dmu_role": "decision_maker",
                "last_contact_at": last_contact_at,
                "reporter": "an@example.com",
            }
        )
        return new_event("earlywarning.contact.updated", "/test", company, payload).to_record(topics.CONTACTS)

    # Versions of one contact, the newer first: the timeline keeps the newer one only.
    await env.infra.bus.publish([contact("2025-04-01T10:00:00Z", "CFO")])
    await env.infra.bus.publish([contact("2025-03-01T10:00:00Z", "buyer")])
    register = RegisterEvent.model_validate(
        {
            "company_id": company,
            "extract_number": 140,
            "kind": "juridical_situation",
            "code": "048",
            "effective_on": "2025-05-02",
            "observed_at": "2025-05-03T06:00:00Z",
        }
    )
    await env.infra.bus.publish(
        [new_event("earlywarning.register.changed", "/test", company, register).to_record(topics.REGISTER)]
    )
    await env.processed(company, 2)
    await asyncio.sleep(0.3)  # the older contact version, if it were to replace the newer one
    items = await env.timeline(company)
    assert [(i["source"], i["type"]) for i in items] == [
        ("register", "juridical_situation"),
        ("contact", "contact"),
    ]
    assert items[1]["data"]["function"] == "CFO"
    [bankruptcy] = await env.signals(company)
    assert (bankruptcy["signal"], bankruptcy["evidence"][0]["source"]) == ("bankruptcy", "register")

    put = await env.client.put(
        f"/v1/portfolio/{company}", json={"name": "Register NV"}, headers=env.auth("ingest")
    )
    assert put.status_code == 202
    await env.until(
        lambda: env.get(f"/v1/companies/{company}"), lambda c: c["monitored"], "the portfolio entry"
    )
    assert (
        await env.client.delete(f"/v1/portfolio/{company}", headers=env.auth("ingest"))
    ).status_code == 202
    removed = await env.until(
        lambda: env.get(f"/v1/companies/{company}"), lambda c: not c["monitored"], "the removal"
    )
    assert (removed["name"], removed["portfolio"], removed["risk_level"]) == ("Register NV", None, "critical")
