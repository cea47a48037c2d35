"""The credit-bureau webhook against forgery and replay (contract sections 3 and 4, Standard Webhooks).

- A delivery is accepted only with a `v1` HMAC-SHA256 signature, made with the bureau secret, of exactly
  `{webhook-id}.{webhook-timestamp}.{body}`: a wrong secret, another body (even re-serialised), a
  truncated signature, another scheme or encoding, a signature of another id or timestamp is a 401 and
  publishes nothing. Signatures are compared with `hmac.compare_digest`, for every entry of the header.
- The timestamp must be within 5 minutes of the server's clock, either way: a captured delivery replayed
  later is a 401 even though its signature is right.
- A replay within the tolerance (the same request again, also many at once) is the same event: the same
  id, nothing new for the signals service (one timeline event, evidence cited once). The same bureau event
  id with another body is a 409.

One app (ingest + signals, embedded bus) per database for the module: SQLite, then PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import httpx
import pytest

from shared import topics, webhooks
from shared.auth import Scope
from shared.cloudevents import CloudEvent, InvalidEnvelope
from shared.runtime import Infrastructure
from shared.settings import Settings
from shared.webhooks import sign
from tests.harness.app import serving, test_keys
from tests.harness.postgres import create_database, drop_database

ADMIN_KEY = "ew_test_admin_key_for_the_bureau_signatures"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_" + base64.b64encode(b"another bureau's secret, 32 b!!").decode()
T = TypeVar("T")


def new_company() -> str:
    """A random valid enterprise number: the tests of a module share one app, never a company."""
    first8 = f"0{random.randrange(10**7):07d}"
    return f"BE{first8}{97 - int(first8) % 97:02d}"


def bureau_event(**change: Any) -> dict[str, Any]:
    return {
        "id": f"evt-{uuid.uuid4().hex}",
        "company_id": new_company(),
        "type": "score_change",
        "occurred_at": "2025-03-01T10:00:00Z",
        "data": {"from": 70, "to": 40},
        **change,
    }


@dataclass(frozen=True)
class Delivery:
    """One signed webhook request, as the bureau sends it (and as a man in the middle could capture it)."""

    body: bytes
    headers: dict[str, str]

    @classmethod
    def signed(
        cls, event: dict[str, Any], *, at: int | None = None, secret: str = SECRET, msg_id: str | None = None
    ) -> Delivery:
        body = json.dumps(event).encode()
        timestamp = int(time.time()) if at is None else at
        msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
        return cls(
            body,
            {
                "webhook-id": msg_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(secret, msg_id, timestamp, body),
                "content-type": "application/json",
            },
        )

    def but(self, *, body: bytes | None = None, **headers: str | None) -> Delivery:
        """This delivery with another body or headers (None: the header left out)."""
        changed = dict(self.headers)
        for name, value in headers.items():
            name = name.replace("_", "-")
            if value is None:
                changed.pop(name, None)
            else:
                changed[name] = value
        return Delivery(self.body if body is None else body, changed)

    @property
    def signature(self) -> str:
        """The base64 digest of the `v1,` signature."""
        return self.headers["webhook-signature"].removeprefix("v1,")


@dataclass
class Env:
    client: httpx.AsyncClient
    infra: Infrastructure
    keys: dict[str, str]

    async def post(self, delivery: Delivery) -> httpx.Response:
        return await self.client.post("/v1/bureau/events", content=delivery.body, headers=delivery.headers)

    async def on_bus(self, bureau_id: str) -> list[CloudEvent]:
        """The events on `ew.bureau` made from the bureau event `bureau_id`."""
        found = []
        for message in await self.infra.bus.read(topics.BUREAU, limit=1_000_000):
            if bureau_id.encode() not in message.value:
                continue
            try:
                found.append(CloudEvent.from_message(message))
            except InvalidEnvelope:  # pragma: no cover - nothing else writes the topic here
                continue
        return found

    async def read(self, path: str, **params: Any) -> Any:
        response = await self.client.get(
            path, params=params, headers={"Authorization": f"Bearer {self.keys['read']}"}
        )
        return response.json() if response.status_code == 200 else None


async def until(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last: {value!r}")
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    database = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('bureau') / 'ew.db'}"
    else:
        url = database = create_database(request.getfixturevalue("postgres_url"))
    settings = Settings(
        _env_file=None,
        database_url=url,
        admin_key=ADMIN_KEY,
        bureau_secret=SECRET,
        bus_poll_interval=0.05,
    )
    try:
        async with serving(settings, ["ingest", "signals"], base_url="http://bureau") as (client, infra):
            yield Env(client, infra, await test_keys(infra, ADMIN_KEY, revoked_scope=Scope.read))
    finally:
        if database is not None:
            drop_database(request.getfixturevalue("postgres_url"), database)


# --- forged signatures ----------------------------------------------------------------------------------


def _resigned(good: Delivery, **change: Any) -> Delivery:
    """The event of `good` signed again, at its time and id, with `change` (e.g. another secret)."""
    at = int(good.headers["webhook-timestamp"])
    return Delivery.signed(json.loads(good.body), at=at, msg_id=good.headers["webhook-id"], **change)


def _digest(good: Delivery) -> bytes:
    return base64.b64decode(good.signature)


# Each takes a good delivery and forges one part of it.
FORGERIES: dict[str, Callable[[Delivery], Delivery]] = {
    "wrong secret": lambda d: _resigned(d, secret=OTHER_SECRET),
    "body changed": lambda d: d.but(body=d.body.replace(b'"to": 40', b'"to": 39')),
    "body re-serialised": lambda d: d.but(body=json.dumps(json.loads(d.body), indent=1).encode()),
    "body with a trailing newline": lambda d: d.but(body=d.body + b"\n"),
    "signature of another id": lambda d: d.but(webhook_id=d.headers["webhook-id"] + "x"),
    "signature of another timestamp": lambda d: d.but(
        webhook_timestamp=str(int(d.headers["webhook-timestamp"]) - 1)
    ),
    "truncated by one character": lambda d: d.but(webhook_signature=f"v1,{d.signature[:-1]}"),
    "truncated to half": lambda d: d.but(webhook_signature=f"v1,{d.signature[:22]}"),
    "scheme only": lambda d: d.but(webhook_signature="v1,"),
    "no scheme": lambda d: d.but(webhook_signature=d.signature),
    "scheme v2": lambda d: d.but(webhook_signature=f"v2,{d.signature}"),
    "scheme in capitals": lambda d: d.but(webhook_signature=f"V1,{d.signature}"),
    "asymmetric scheme v1a": lambda d: d.but(webhook_signature=f"v1a,{d.signature}"),
    "github style": lambda d: d.but(webhook_signature=f"sha256={_digest(d).hex()}"),
    "hex digest": lambda d: d.but(webhook_signature=f"v1,{_digest(d).hex()}"),
    "base64url unpadded": lambda d: d.but(
        webhook_signature="v1," + base64.urlsafe_b64encode(_digest(d)).decode().rstrip("=")
    ),
    "wrong entries only": lambda d: d.but(
        webhook_signature=f"v1,{d.signature[::-1]} v2,{d.signature} v1,AAAA"
    ),
    "empty signature": lambda d: d.but(webhook_signature=""),
    "no signature": lambda d: d.but(webhook_signature=None),
    "no id": lambda d: d.but(webhook_id=None),
    "no timestamp": lambda d: d.but(webhook_timestamp=None),
    "timestamp not a number": lambda d: d.but(webhook_timestamp="now"),
    "timestamp with a fraction": lambda d: d.but(webhook_timestamp=d.headers["webhook-timestamp"] + ".5"),
    "an API key instead": lambda d: Delivery(
        d.body, {"Authorization": f"Bearer {ADMIN_KEY}", "content-type": "application/json"}
    ),
}


async def test_forged_deliveries_are_refused_and_publish_nothing(env: Env) -> None:
    event = bureau_event()
    good = Delivery.signed(event)
    for how, forge in FORGERIES.items():
        response = await env.post(forge(good))
        assert response.status_code == 401, (how, response.text)
        assert response.json()["error"] == "unauthorized", how
    assert await env.on_bus(event["id"]) == []
    # The same delivery untouched goes through: the refusals above were the forgeries', not the event's.
    accepted = await env.post(good)
    assert accepted.status_code == 202, accepted.text
    assert [e.id for e in await env.on_bus(event["id"])] == [accepted.json()["id"]]


async def test_a_rotated_secret_is_accepted_among_wrong_entries(env: Env) -> None:
    # Standard Webhooks: several space-separated signatures, so that a sender can rotate its secret.
    event = bureau_event()
    good = Delivery.signed(event)
    old = Delivery.signed(event, at=int(good.headers["webhook-timestamp"]), secret=OTHER_SECRET)
    header = f"{old.headers['webhook-signature']} v2,{good.signature} {good.headers['webhook-signature']}"
    response = await env.post(good.but(webhook_signature=header))
    assert response.status_code == 202, response.text


async def test_every_entry_is_compared_in_constant_time(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []

    def compare_digest(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return hmac.compare_digest(a, b)

    # Spy on the module's hmac: verification must go through compare_digest, never `==`.
    monkeypatch.setattr(webhooks, "hmac", SimpleNamespace(new=hmac.new, compare_digest=compare_digest))
    event = bureau_event()
    good = Delivery.signed(event)
    forged = f"v1,{good.signature[::-1]} {good.headers['webhook-signature']}"
    response = await env.post(good.but(webhook_signature=forged))
    assert response.status_code == 202, response.text
    expected = good.headers["webhook-signature"].encode()
    assert compared == [(f"v1,{good.signature[::-1]}".encode(), expected), (expected, expected)]


# --- timestamps and replays ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "status"),
    [(-290, 202), (290, 202), (310, 401), (-310, 401), (86_400, 401), (-86_400, 401)],
)
async def test_the_timestamp_must_be_within_five_minutes(env: Env, age: int, status: int) -> None:
    event = bureau_event()
    response = await env.post(Delivery.signed(event, at=int(time.time()) - age))
    assert response.status_code == status, response.text
    assert len(await env.on_bus(event["id"])) == (1 if status == 202 else 0)


async def test_a_captured_delivery_replayed_after_five_minutes_is_refused(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = bureau_event()
    captured = Delivery.signed(event)
    first = await env.post(captured)
    assert first.status_code == 202, first.text
    # The same bytes, 301 seconds later by the server's clock.
    later = time.time() + 301
    monkeypatch.setattr(webhooks, "time", SimpleNamespace(time=lambda: later))
    replayed = await env.post(captured)
    assert replayed.status_code == 401, replayed.text
    assert "too old" in replayed.json()["message"]
    assert len(await env.on_bus(event["id"])) == 1


async def test_a_replayed_delivery_is_one_event(env: Env) -> None:
    event = bureau_event()
    company = event["company_id"]
    captured = Delivery.signed(event)
    sequential = [await env.post(captured) for _ in range(3)]
    concurrent = await asyncio.gather(*(env.post(captured) for _ in range(8)))
    # A retry by the bureau itself: a new delivery (id, timestamp) of the same event.
    retried = await env.post(Delivery.signed(event))
    answers = [*sequential, *concurrent, retried]
    assert {r.status_code for r in answers} == {202}, [r.text for r in answers]
    [event_id] = {r.json()["id"] for r in answers}
    # Replays racing the first publish may put it on the bus again, always under the one event id.
    assert {e.id for e in await env.on_bus(event["id"])} == {event_id}

    # A later event of the company is consumed after every copy (same key, same partition): then the
    # timeline holds the replayed event once and the signal cites it once.
    sentinel = bureau_event(company_id=company, type="ubo_change", data={})
    assert (await env.post(Delivery.signed(sentinel))).status_code == 202
    timeline = await until(
        lambda: env.read(f"/v1/companies/{company}/timeline", limit=100),
        lambda page: page is not None and sentinel["id"] in {i["event_id"] for i in page["items"]},
    )
    assert sorted(item["event_id"] for item in timeline["items"]) == sorted([event["id"], sentinel["id"]])
    signals = (await env.read("/v1/signals", company_id=company, limit=100))["items"]
    assert [s["signal"] for s in signals] == ["score_drop"]
    assert [e["event_id"] for e in signals[0]["evidence"]] == [event["id"]]


async def test_the_same_event_id_with_another_body_is_a_conflict(env: Env) -> None:
    event = bureau_event()
    first = await env.post(Delivery.signed(event))
    assert first.status_code == 202, first.text
    changed = await env.post(Delivery.signed({**event, "data": {"from": 70, "to": 10}}))
    assert changed.status_code == 409, changed.text
    [published] = await env.on_bus(event["id"])
    assert published.id == first.json()["id"]


# --- no secret configured ------------------------------------------------------------------------------


async def test_without_a_bureau_secret_nothing_is_accepted(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'ew.db'}",
        admin_key=ADMIN_KEY,
    )
    async with serving(settings, ["ingest"]) as (client, _infra):
        for delivery in (
            Delivery.signed(bureau_event()),
            Delivery(b"{}", {"content-type": "application/json"}),
        ):
            response = await client.post("/v1/bureau/events", content=delivery.body, headers=delivery.headers)
            assert response.status_code == 503, response.text
