"""The ingest HTTP API on both buses: every endpoint, every auth case, validation and idempotency.

The app runs with its real lifespan (migrations, bus, topics) and is called over ASGI; the events are
read back from the real bus (embedded on SQLite, or Kafka with PostgreSQL).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared import topics
from shared.auth import Scope
from shared.cloudevents import CloudEvent, InvalidEnvelope
from shared.runtime import Infrastructure
from shared.settings import Settings
from shared.webhooks import sign
from tests.harness.app import serving, test_keys

ADMIN_KEY = "ew_test_admin_key_for_the_ingest_tests_000"
BUREAU_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
COMPANY = "BE0403170701"
OTHER = "BE0417497106"


@dataclass
class Env:
    client: httpx.AsyncClient
    infra: Infrastructure
    keys: dict[str, str]

    def auth(self, who: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    async def events(self, topic: str, event_id: str) -> list[tuple[CloudEvent, dict[str, Any]]]:
        """The events with this id on the topic (a shared Kafka broker holds other tests' events too)."""
        found = []
        for message in await self.infra.bus.read(topic, limit=1_000_000):
            try:
                event = CloudEvent.from_message(message)
            except InvalidEnvelope:
                continue  # another test's poison message
            if event.id == event_id:
                assert message.key == event.subject
                found.append((event, json.loads(message.value)))
        return found


@pytest.fixture(params=["embedded", pytest.param("kafka", marks=[pytest.mark.kafka, pytest.mark.postgres])])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    common: dict[str, Any] = {"admin_key": ADMIN_KEY, "bureau_secret": BUREAU_SECRET, "bus_partitions": 3}
    if request.param == "embedded":
        settings = Settings(
            _env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'ew.db'}", **common
        )  # type: ignore[call-arg]
    else:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=request.getfixturevalue("pg_database_url"),
            kafka_bootstrap=request.getfixturevalue("kafka_bootstrap"),
            **common,
        )
    async with serving(settings, ["ingest"], base_url="http://ingest") as (client, infra):
        yield Env(client, infra, await test_keys(infra, ADMIN_KEY, revoked_scope=Scope.ingest))


def observation(**change: Any) -> dict[str, Any]:
    return {
        "company_id": "0403.170.701",
        "kind": "late_payment_suppliers",
        "reporter": "jan@example.com",
        **change,
    }


def publication(**change: Any) -> dict[str, Any]:
    return {
        "reference": "25123456",
        "company_id": "BE 0403 170 701",
        "published_on": "2025-01-02",
        "rubrics": ["resignation"],
        "persons": [{"name": "Jan Peeters", "birth_year": 1970, "role": "director", "action": "resigned"}],
        **change,
    }


def bureau_event(**change: Any) -> dict[str, Any]:
    return {
        "id": "evt_001",
        "company_id": COMPANY,
        "type": "score_change",
        "occurred_at": "2025-03-01T10:00:00Z",
        "data": {"from": 70, "to": 40},
        **change,
    }


def order(**change: Any) -> dict[str, Any]:
    return {
        "company_id": COMPANY,
        "order_id": "SO-1",
        "ordered_at": "2025-02-01T08:00:00Z",
        "amount_eur": "1250.50",
        "product_line": "kegs",
        **change,
    }


def signed(
    body: dict[str, Any], *, msg_id: str = "msg_1", at: int | None = None, secret: str = BUREAU_SECRET
) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    timestamp = int(time.time()) if at is None else at
    return raw, {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, raw),
        "content-type": "application/json",
    }


# --- auth: every endpoint, every case ---------------------------------------------------------------

ENDPOINTS = [
    ("PUT", f"/v1/portfolio/{COMPANY}", Scope.ingest),
    ("DELETE", f"/v1/portfolio/{COMPANY}", Scope.ingest),
    ("GET", f"/v1/portfolio/{COMPANY}", Scope.read),
    ("POST", "/v1/observations", Scope.ingest),
    ("POST", "/v1/observations:batch", Scope.ingest),
    ("POST", "/v1/publications", Scope.ingest),
    ("POST", "/v1/orders", Scope.ingest),
    ("POST", "/v1/orders:batch", Scope.ingest),
]


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
async def test_auth_on_every_endpoint(env: Env, method: str, path: str, scope: Scope) -> None:
    body = {"json": {}} if method in ("PUT", "POST") else {}
    cases = {
        "missing": ({}, 401),
        "unknown": ({"Authorization": "Bearer ew_not_a_key"}, 401),
        "not bearer": ({"Authorization": f"Basic {ADMIN_KEY}"}, 401),
        "revoked": (env.auth("revoked"), 401),
        "wrong scope": (env.auth("read" if scope is Scope.ingest else "ingest"), 403),
    }
    for case, (headers, status) in cases.items():
        response = await env.client.request(method, path, headers=headers, **body)
        assert response.status_code == status, (case, response.text)
        assert response.json()["error"] == ("unauthorized" if status == 401 else "forbidden")
        if status == 401:
            assert response.headers["www-authenticate"] == "Bearer"
    # With the scope (or admin) the request gets past auth: whatever it says next, it is not 401/403.
    for who in (scope.value, "admin"):
        response = await env.client.request(method, path, headers=env.auth(who), **body)
        assert response.status_code not in (401, 403), (who, response.text)


# --- portfolio ---------------------------------------------------------------------------------------


async def test_portfolio_put_get_delete(env: Env) -> None:
    body = {
        "name": "Brouwerij Test NV",
        "segment": "horeca",
        "credit_limit_eur": "50000",
        "customer_since": "2018-03-01",
    }
    put = await env.client.put("/v1/portfolio/0403.170.701", json=body, headers=env.auth("ingest"))
    assert put.status_code == 202, put.text
    [(event, data)] = await env.events(topics.PORTFOLIO, put.json()["id"])
    assert event.subject == COMPANY
    assert event.type == "earlywarning.portfolio.updated"
    assert data["name"] == "Brouwerij Test NV"
    assert data["credit_limit_eur"] == 50000
    assert data["deleted"] is False

    got = await env.client.get(f"/v1/portfolio/{COMPANY}", headers=env.auth("read"))
    assert got.status_code == 200
    assert got.json()["company_id"] == COMPANY
    assert got.json()["segment"] == "horeca"

    deleted = await env.client.delete("/v1/portfolio/0403170701", headers=env.auth("ingest"))
    assert deleted.status_code == 202
    [(event, data)] = await env.events(topics.PORTFOLIO, deleted.json()["id"])
    assert event.type == "earlywarning.portfolio.removed"
    assert data["deleted"] is True
    assert (await env.client.get(f"/v1/portfolio/{COMPANY}", headers=env.auth())).status_code == 404
    assert (await env.client.delete(f"/v1/portfolio/{COMPANY}", headers=env.auth())).status_code == 404


# --- observations and idempotency --------------------------------------------------------------------


async def test_observation_is_published_with_a_cloudevent_envelope(env: Env) -> None:
    response = await env.client.post(
        "/v1/observations", json=observation(note="heard at the fair"), headers=env.auth()
    )
    assert response.status_code == 202
    event_id = response.json()["id"]
    [(event, data)] = await env.events(topics.OBSERVATIONS, event_id)
    assert event.type == "earlywarning.observation"
    assert event.source == "/earlywarning/ingest"
    assert data["id"] == event_id
    assert data["company_id"] == COMPANY
    assert data["note"] == "heard at the fair"
    assert data["observed_at"] == data["received_at"]  # not given: the intake time


async def test_idempotency_key(env: Env) -> None:
    headers = {**env.auth("ingest"), "Idempotency-Key": "crm-42"}
    first = await env.client.post("/v1/observations", json=observation(), headers=headers)
    again = await env.client.post("/v1/observations", json=observation(), headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert len(await env.events(topics.OBSERVATIONS, first.json()["id"])) == 1

    other = await env.client.post("/v1/observations", json=observation(kind="growth"), headers=headers)
    assert other.status_code == 409
    assert other.json()["error"] == "conflict"

    # Keys belong to a client: another API key with the same Idempotency-Key is another observation.
    elsewhere = await env.client.post(
        "/v1/observations", json=observation(), headers={**env.auth("admin"), "Idempotency-Key": "crm-42"}
    )
    assert elsewhere.status_code == 202
    assert elsewhere.json()["id"] != first.json()["id"]


async def test_observation_batch_answers_per_item(env: Env) -> None:
    items = [
        observation(),
        observation(company_id="0403.170.702"),
        observation(kind="growth"),
        {"nonsense": 1},
    ]
    response = await env.client.post("/v1/observations:batch", json=items, headers=env.auth("ingest"))
    assert response.status_code == 202
    result = response.json()
    assert (result["accepted"], result["rejected"]) == (2, 2)
    by_index = {item["index"]: item for item in result["items"]}
    assert by_index[1]["error"]["details"] == [
        {
            "path": "company_id",
            "message": "invalid company id: check digits do not match: expected 01, got 02",
        }
    ]
    assert {d["path"] for d in by_index[3]["error"]["details"]} >= {
        "company_id",
        "kind",
        "reporter",
        "nonsense",
    }
    for index in (0, 2):
        assert len(await env.events(topics.OBSERVATIONS, by_index[index]["id"])) == 1


async def test_batch_limit(env: Env) -> None:
    response = await env.client.post(
        "/v1/observations:batch", json=[observation()] * 10_001, headers=env.auth()
    )
    assert response.status_code == 422
    assert response.json()["details"][0]["path"] == "body"


# --- validation ---------------------------------------------------------------------------------------

INVALID = [
    ("/v1/observations", observation(company_id="0403.170.702"), "body.company_id", "check digits"),
    ("/v1/observations", observation(company_id="2.190.171.611"), "body.company_id", "establishment unit"),
    ("/v1/observations", observation(kind="rumour"), "body.kind", "Input should be"),
    (
        "/v1/observations",
        observation(observed_at="2100-01-01T00:00:00Z"),
        "body",
        "observed_at is in the future",
    ),
    ("/v1/observations", observation(observed_at="2025-01-01T10:00:00"), "body.observed_at", "timezone"),
    ("/v1/observations", observation(reporter=""), "body.reporter", "at least 1"),
    (
        "/v1/observations",
        observation(observed_at="0001-01-01T00:00:00+01:00"),
        "body.observed_at",
        "between 1900",
    ),
    ("/v1/observations", observation(observed_at="1899-12-31T00:00:00Z"), "body.observed_at", "between 1900"),
    ("/v1/publications", publication(rubrics=["gossip"]), "body.rubrics.0", "Input should be"),
    ("/v1/publications", publication(rubrics=[]), "body.rubrics", "at least 1"),
    ("/v1/publications", publication(published_on="2999-01-01"), "body", "published_on is in the future"),
    ("/v1/orders", order(amount_eur="-5"), "body.amount_eur", "greater than or equal to 0"),
    ("/v1/orders", order(ordered_at="2100-01-01T00:00:00Z"), "body", "ordered_at is in the future"),
    ("/v1/orders", order(amount_eur="NaN"), "body.amount_eur", ""),
]


@pytest.mark.parametrize(("path", "body", "field", "reason"), INVALID)
async def test_validation_names_the_field_and_the_reason(
    env: Env, path: str, body: Any, field: str, reason: str
) -> None:
    response = await env.client.post(path, json=body, headers=env.auth())
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["error"] == "validation_error"
    matching = [d for d in error["details"] if d["path"] == field]
    assert matching, error["details"]
    assert any(reason in d["message"] for d in matching), matching


async def test_portfolio_validation(env: Env) -> None:
    bad_id = await env.client.put("/v1/portfolio/0403170702", json={"name": "X"}, headers=env.auth())
    assert bad_id.status_code == 422
    assert bad_id.json()["details"][0]["path"] == "path.company_id"
    negative = await env.client.put(
        f"/v1/portfolio/{COMPANY}", json={"name": "X", "credit_limit_eur": -1}, headers=env.auth()
    )
    assert negative.status_code == 422
    assert negative.json()["details"][0]["path"] == "body.credit_limit_eur"
    unknown = await env.client.put(
        f"/v1/portfolio/{COMPANY}", json={"name": "X", "colour": "red"}, headers=env.auth()
    )
    assert unknown.status_code == 422
    assert unknown.json()["details"][0]["path"] == "body.colour"


async def test_malformed_json_is_400_and_oversized_is_413(env: Env) -> None:
    malformed = await env.client.post(
        "/v1/observations",
        content=b'{"company_id": ',
        headers={**env.auth(), "content-type": "application/json"},
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"] == "bad_request"
    huge = observation(note="x" * 2_000_000)
    oversized = await env.client.post("/v1/observations", json=huge, headers=env.auth())
    assert oversized.status_code == 413
    assert oversized.json()["error"] == "payload_too_large"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit applies while reading
        yield b'{"note": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    chunked = await env.client.post(
        "/v1/observations", content=chunks(), headers={**env.auth(), "content-type": "application/json"}
    )
    assert chunked.status_code == 413


# --- publications ---------------------------------------------------------------------------------------


async def test_publication_one_and_list_and_reference_dedup(env: Env) -> None:
    one = await env.client.post("/v1/publications", json=publication(), headers=env.auth("ingest"))
    assert one.status_code == 202
    [(_event, data)] = await env.events(topics.PUBLICATIONS, one.json()["id"])
    assert data["company_id"] == COMPANY
    assert data["persons"][0]["action"] == "resigned"

    again = await env.client.post(
        "/v1/publications", json=[publication(), publication(reference="25123457")], headers=env.auth()
    )
    assert again.status_code == 202
    ids = [item["id"] for item in again.json()["items"]]
    assert ids[0] == one.json()["id"]
    assert ids[1] != ids[0]
    assert len(await env.events(topics.PUBLICATIONS, ids[0])) == 1
    assert len(await env.events(topics.PUBLICATIONS, ids[1])) == 1

    changed = await env.client.post(
        "/v1/publications", json=publication(rubrics=["bankruptcy"]), headers=env.auth()
    )
    assert changed.status_code == 409


async def test_a_list_with_one_bad_publication_publishes_nothing(env: Env) -> None:
    response = await env.client.post(
        "/v1/publications",
        json=[publication(reference="R-ok"), publication(reference="R-bad", company_id="1")],
        headers=env.auth(),
    )
    assert response.status_code == 422
    assert any(d["path"].endswith("1.company_id") for d in response.json()["details"])
    ok_id = (
        await env.client.post("/v1/publications", json=publication(reference="R-ok"), headers=env.auth())
    ).json()["id"]
    assert (
        len(await env.events(topics.PUBLICATIONS, ok_id)) == 1
    )  # only the second, valid request published it


# --- bureau webhook -------------------------------------------------------------------------------------


async def test_bureau_webhook_signature_and_event_id(env: Env) -> None:
    raw, headers = signed(bureau_event())
    response = await env.client.post("/v1/bureau/events", content=raw, headers=headers)
    assert response.status_code == 202, response.text
    [(event, data)] = await env.events(topics.BUREAU, response.json()["id"])
    assert event.type == "earlywarning.bureau.score_change"
    assert data["data"] == {"from": 70, "to": 40}

    # A retry by the bureau (same event id, new delivery) is the same event.
    raw, headers = signed(bureau_event(), msg_id="msg_2")
    retry = await env.client.post("/v1/bureau/events", content=raw, headers=headers)
    assert retry.json() == response.json()
    assert len(await env.events(topics.BUREAU, response.json()["id"])) == 1


@pytest.mark.parametrize(
    "tamper",
    ["no headers", "wrong secret", "changed body", "old timestamp", "future timestamp", "api key instead"],
)
async def test_bureau_webhook_refuses(env: Env, tamper: str) -> None:
    raw, headers = signed(bureau_event(id="evt_forged"))
    if tamper == "no headers":
        headers = {"content-type": "application/json"}
    elif tamper == "wrong secret":
        raw, headers = signed(bureau_event(id="evt_forged"), secret="whsec_" + "A" * 32)
    elif tamper == "changed body":
        raw = raw.replace(b"40", b"41")
    elif tamper == "old timestamp":
        raw, headers = signed(bureau_event(id="evt_forged"), at=int(time.time()) - 400)
    elif tamper == "future timestamp":
        raw, headers = signed(bureau_event(id="evt_forged"), at=int(time.time()) + 400)
    else:
        headers = {**env.auth(), "content-type": "application/json"}
    response = await env.client.post("/v1/bureau/events", content=raw, headers=headers)
    assert response.status_code == 401
    assert not [
        m for m in await env.infra.bus.read(topics.BUREAU, limit=1_000_000) if b"evt_forged" in m.value
    ]


async def test_bureau_webhook_validates_data_by_type(env: Env) -> None:
    raw, headers = signed(bureau_event(type="tax_debt", data={"amount_eur": -3}))
    response = await env.client.post("/v1/bureau/events", content=raw, headers=headers)
    assert response.status_code == 422
    assert response.json()["details"][0]["path"] == "body.data.amount_eur"


# --- orders -------------------------------------------------------------------------------------------


async def test_orders_single_and_batch(env: Env) -> None:
    one = await env.client.post("/v1/orders", json=order(), headers=env.auth("ingest"))
    assert one.status_code == 202
    [(_, data)] = await env.events(topics.ORDERS, one.json()["id"])
    assert data["amount_eur"] == 1250.5
    assert data["product_line"] == "kegs"

    batch = await env.client.post(
        "/v1/orders:batch",
        json=[order(), order(order_id="SO-2"), order(order_id="SO-1", amount_eur="1")],
        headers=env.auth("ingest"),
    )
    result = batch.json()
    assert batch.status_code == 202
    assert (result["accepted"], result["rejected"]) == (2, 1)
    assert result["items"][0]["id"] == one.json()["id"]  # the same order again: the same event
    assert result["items"][2]["error"]["error"] == "conflict"
    assert len(await env.events(topics.ORDERS, one.json()["id"])) == 1


async def test_openapi_has_an_example_for_every_body(env: Env) -> None:
    spec = (await env.client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    for name in ("ObservationIn", "PublicationIn", "BureauEventIn", "OrderIn", "PortfolioIn"):
        assert schemas[name].get("examples"), name
    for path in ("/v1/observations:batch", "/v1/orders:batch", "/v1/publications"):
        body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"].get("examples") or body.get("examples"), path


async def test_concurrent_first_requests_with_one_key_and_different_bodies(env: Env) -> None:
    # The key is reserved atomically before publishing: one body wins, the others are conflicts.
    bodies = [publication(reference="R-race", text=f"version {n}") for n in range(6)]
    responses = await asyncio.gather(
        *(env.client.post("/v1/publications", json=body, headers=env.auth()) for body in bodies)
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [202, 409, 409, 409, 409, 409], [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 202).json()["id"]
    [(_, data)] = await env.events(topics.PUBLICATIONS, winner)
    assert data["text"] == bodies[[r.status_code for r in responses].index(202)]["text"]
