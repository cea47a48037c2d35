"""The notifier end to end on both buses: signals from the signals service reach real HTTP receivers
(every signature checked with the `standardwebhooks` package) and a real SMTP server (aiosmtpd).

One app with ingest, signals and notifier runs per bus for the module. Every test works on companies of
its own and its subscriptions match only those (`company_ids`), so tests do not see each other's alerts.
Retries are compressed by configuration (`EW_WEBHOOK_RETRY_BASE`, `EW_WEBHOOK_TIMEOUT`).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from services.notifier.consumer import SignalsHandler
from services.notifier.digest import DigestSender
from shared import topics
from shared.auth import Scope
from shared.bus import Message
from shared.settings import Settings
from tests.harness import free_port
from tests.harness.app import check_scopes, serving, test_keys
from tests.harness.postgres import create_database, drop_database
from tests.harness.receiver import Receiver
from tests.integration.test_signals_service import BUREAU_SECRET, Env, metric, new_company

ADMIN_KEY = "ew_test_admin_key_for_the_notifier_tests_0"


@dataclass
class Mailbox:
    """An aiosmtpd handler keeping what it receives."""

    received: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        return "250 OK"


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@dataclass
class Notifier:
    env: Env
    mailbox: Mailbox
    settings: Settings

    async def subscribe(self, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
        response = await self.env.client.post("/v1/subscriptions", json=body, headers=self.env.auth("admin"))
        assert response.status_code == status, response.text
        return dict(response.json())

    async def webhook(self, receiver: Receiver, *companies: str, **match: Any) -> dict[str, Any]:
        return await self.subscribe(
            {
                "name": "credit team",
                "channel": "webhook",
                "url": receiver.url,
                "match": {"company_ids": list(companies), **match},
            }
        )

    async def deliveries(self, **params: Any) -> list[dict[str, Any]]:
        return list((await self.env.get("/v1/deliveries", limit=1000, **params))["items"])

    async def deliveries_until(self, what: str, ok: Any, **params: Any) -> list[dict[str, Any]]:
        return await self.env.until(lambda: self.deliveries(**params), ok, what)

    async def bankruptcy(self, company: str) -> str:
        await self.env.publication(company, ["bankruptcy"], "2025-06-02", company_name="Failliet NV")
        signals = await self.env.until(
            lambda: self.env.signals(company), lambda items: len(items) >= 1, "the bankruptcy signal"
        )
        return str(signals[0]["id"])


@pytest.fixture(
    scope="module",
    params=["embedded", pytest.param("kafka", marks=[pytest.mark.kafka, pytest.mark.postgres])],
)
async def notifier(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, mailbox: tuple[Mailbox, int]
) -> AsyncIterator[Notifier]:
    box, smtp_port = mailbox
    common: dict[str, Any] = {
        "admin_key": ADMIN_KEY,
        "bureau_secret": BUREAU_SECRET,
        "bus_partitions": 3,
        "smtp_url": f"smtp://127.0.0.1:{smtp_port}",
        "webhook_allow_private": True,
        "webhook_retry_base": 0.3,
        "webhook_retry_window": 60,
        "webhook_timeout": 2,
        "sweep_interval": 0,
        "console_url": "https://ew.example.com",
    }
    database = None
    if request.param == "embedded":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('notifier') / 'ew.db'}"
        settings = Settings(_env_file=None, database_url=url, bus_poll_interval=0.05, **common)
        timeout = 20.0
    else:
        server = request.getfixturevalue("postgres_url")
        database = create_database(server)
        settings = Settings(
            _env_file=None,
            database_url=database,
            kafka_bootstrap=request.getfixturevalue("kafka_bootstrap"),
            secret_key="a-test-key-that-seals-webhook-secrets",
            **common,
        )
        timeout = 60.0
    try:
        async with serving(settings, ["ingest", "signals", "notifier"], base_url="http://ew") as (
            client,
            infra,
        ):
            keys = await test_keys(infra, ADMIN_KEY, revoked_scope=Scope.admin)
            yield Notifier(Env(client, infra, keys, timeout), box, settings)
    finally:
        if database is not None:
            drop_database(request.getfixturevalue("postgres_url"), database)


# --- webhooks ----------------------------------------------------------------------------------------


async def test_a_signal_reaches_the_webhook_signed_and_logged(notifier: Notifier) -> None:
    company = new_company()
    series = {"channel": "webhook", "status": "delivered"}
    before = await metric(notifier.env, "ew_deliveries_total", **series)
    async with Receiver() as receiver:
        subscription = await notifier.webhook(receiver, company)
        assert subscription["secret"].startswith("whsec_")
        signal_id = await notifier.bankruptcy(company)

        [received] = await receiver.wait_for(1)
        [payload] = receiver.verified(subscription["secret"])
        assert (payload["id"], payload["signal"], payload["company_id"]) == (signal_id, "bankruptcy", company)

        [delivery] = await notifier.deliveries_until(
            "delivered", lambda items: items and items[0]["status"] == "delivered", signal_id=signal_id
        )
        assert delivery["id"] == received.id  # the webhook-id is the delivery id
        assert (delivery["attempts"], delivery["last_status"]) == (1, 200)
        assert await metric(notifier.env, "ew_deliveries_total", **series) == before + 1
    # The secret is shown once: reading the subscription never shows it again.
    shown = await notifier.env.client.get(
        f"/v1/subscriptions/{subscription['id']}", headers=notifier.env.auth("admin")
    )
    assert shown.status_code == 200
    assert "secret" not in shown.json()


async def test_matching_by_severity_and_company(notifier: Notifier) -> None:
    mine, other = new_company(), new_company()
    async with Receiver() as critical_only, Receiver() as everything:
        await notifier.webhook(critical_only, mine, min_severity="critical")
        await notifier.webhook(everything, mine)
        # A medium signal: tax debt below the high threshold.
        await notifier.env.bureau(mine, "tax_debt", "2025-06-02T09:00:00Z", {"amount_eur": 2000})
        await notifier.bankruptcy(other)  # not a company of these subscriptions
        await notifier.bankruptcy(mine)

        received = await everything.wait_for(2)
        assert sorted(r.json()["signal"] for r in received) == ["bankruptcy", "tax_debt"]
        [critical] = await critical_only.wait_for(1)
        assert critical.json()["signal"] == "bankruptcy"
        await asyncio.sleep(0.5)
        assert len(critical_only.received) == 1
        assert {r.json()["company_id"] for r in everything.received} == {mine}


async def test_a_failing_target_is_retried_with_the_same_webhook_id(notifier: Notifier) -> None:
    company = new_company()
    async with Receiver(answers=[500, 503, 200]) as receiver:
        subscription = await notifier.webhook(receiver, company)
        signal_id = await notifier.bankruptcy(company)
        received = await receiver.wait_for(3)
        assert len({r.id for r in received}) == 1
        receiver.verified(subscription["secret"])
        [delivery] = await notifier.deliveries_until(
            "delivered", lambda items: items and items[0]["status"] == "delivered", signal_id=signal_id
        )
        assert (delivery["attempts"], delivery["last_status"]) == (3, 200)


async def test_a_refusing_target_fails_at_once_and_can_be_retried_by_hand(notifier: Notifier) -> None:
    company = new_company()
    async with Receiver(answers=[400, 200]) as receiver:
        await notifier.webhook(receiver, company)
        signal_id = await notifier.bankruptcy(company)
        [delivery] = await notifier.deliveries_until(
            "failed", lambda items: items and items[0]["status"] == "failed", signal_id=signal_id
        )
        assert (delivery["attempts"], delivery["last_status"]) == (1, 400)

        response = await notifier.env.client.post(
            f"/v1/deliveries/{delivery['id']}/retry", headers=notifier.env.auth("admin")
        )
        assert response.status_code == 202, response.text
        await notifier.deliveries_until(
            "delivered", lambda items: items and items[0]["status"] == "delivered", signal_id=signal_id
        )
        assert [r.id for r in receiver.received] == [delivery["id"], delivery["id"]]


async def test_a_dead_target_does_not_delay_a_healthy_one(notifier: Notifier) -> None:
    companies = [new_company() for _ in range(3)]
    async with Receiver(hang=True) as dead, Receiver() as healthy:
        await notifier.webhook(dead, *companies)
        await notifier.webhook(healthy, *companies)
        started = time.monotonic()
        for company in companies:
            await notifier.env.publication(company, ["bankruptcy"], "2025-06-02")
        await healthy.wait_for(3)
        # The dead target holds its own lane for the 2 s timeout, then its retries: the healthy one
        # got all three meanwhile, in less time than one timeout of the dead one would add per delivery.
        assert time.monotonic() - started < notifier.env.timeout
        assert dead.connections >= 1


async def test_webhook_targets_are_checked(notifier: Notifier) -> None:
    for url, why in [
        ("file:///etc/passwd", "scheme"),
        ("http://user:pw@example.com/hook", "userinfo"),
        ("http://nonexistent.invalid/hook", "resolve"),
    ]:
        response = await notifier.env.client.post(
            "/v1/subscriptions",
            json={"name": why, "channel": "webhook", "url": url},
            headers=notifier.env.auth("admin"),
        )
        assert response.status_code == 422, (url, response.text)


# --- silences, inhibition ----------------------------------------------------------------------------


async def test_a_silence_holds_notifications_back(notifier: Notifier) -> None:
    company = new_company()
    async with Receiver() as receiver:
        await notifier.webhook(receiver, company)
        ends = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        response = await notifier.env.client.post(
            "/v1/silences",
            json={"company_id": company, "ends_at": ends, "comment": "under review"},
            headers=notifier.env.auth("admin"),
        )
        assert response.status_code == 201, response.text
        signal_id = await notifier.bankruptcy(company)
        [delivery] = await notifier.deliveries_until(
            "silenced", lambda items: len(items) == 1, signal_id=signal_id
        )
        assert delivery["status"] == "silenced"
        await asyncio.sleep(0.5)
        assert receiver.received == []


async def test_a_bankruptcy_inhibits_lesser_signals(notifier: Notifier) -> None:
    company = new_company()
    async with Receiver() as receiver:
        await notifier.webhook(receiver, company)
        await notifier.bankruptcy(company)
        await receiver.wait_for(1)
        await notifier.env.bureau(company, "tax_debt", "2025-06-03T09:00:00Z", {"amount_eur": 90000})
        inhibited = await notifier.deliveries_until(
            "inhibited", lambda items: any(d["status"] == "inhibited" for d in items), status="inhibited"
        )
        assert company in {d["company_id"] for d in inhibited}
        assert [r.json()["signal"] for r in receiver.received] == ["bankruptcy"]


# --- email -------------------------------------------------------------------------------------------


async def test_an_email_per_signal(notifier: Notifier) -> None:
    company = new_company()
    address = f"credit-{company.lower()}@example.com"
    await notifier.subscribe(
        {"name": "credit desk", "channel": "email", "email": address, "match": {"company_ids": [company]}}
    )
    await notifier.bankruptcy(company)

    def mine() -> list[EmailMessage]:
        return [m for m in notifier.mailbox.received if m["To"] == address]

    async def probe() -> list[EmailMessage]:
        return mine()

    [message] = await notifier.env.until(probe, lambda found: len(found) == 1, "the email")
    assert "bankruptcy" in message["Subject"]
    assert company in message["Subject"]
    assert {part.get_content_type() for part in message.iter_parts()} == {"text/plain", "text/html"}
    text = message.get_body(("plain",))
    assert text is not None
    assert f"https://ew.example.com/companies/{company}" in text.get_content()


async def test_a_daily_digest(notifier: Notifier) -> None:
    company = new_company()
    address = f"digest-{company.lower()}@example.com"
    await notifier.subscribe(
        {
            "name": "daily",
            "channel": "email",
            "email": address,
            "mode": "digest",
            "match": {"company_ids": [company]},
        }
    )
    signal_id = await notifier.bankruptcy(company)
    await notifier.deliveries_until(
        "waiting for the digest",
        lambda items: [d["status"] for d in items] == ["digest"],
        signal_id=signal_id,
    )
    # Tomorrow, the digest goes out once.
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    sender = DigestSender(notifier.env.infra.engine, notifier.settings, clock=lambda: tomorrow)
    assert await sender.send_due() >= 1
    assert await sender.send_due() == 0
    [message] = [m for m in notifier.mailbox.received if m["To"] == address]
    assert "Daily digest" in message["Subject"]
    [delivery] = await notifier.deliveries(signal_id=signal_id)
    assert delivery["status"] == "delivered"


# --- exactly once per subscription -------------------------------------------------------------------


async def test_a_redelivered_signal_event_adds_no_delivery(notifier: Notifier) -> None:
    company = new_company()
    async with Receiver() as receiver:
        await notifier.webhook(receiver, company)
        signal_id = await notifier.bankruptcy(company)
        await receiver.wait_for(1)
        events = [
            m for m in await notifier.env.infra.bus.read(topics.SIGNALS, limit=1_000_000) if m.key == company
        ]
        assert len(events) == 1
        # The bus delivers at least once: the same event handled again changes nothing.
        handler = SignalsHandler(notifier.env.infra.engine)
        await handler([_copy(events[0])])
        await asyncio.sleep(0.5)
        assert len(await notifier.deliveries(signal_id=signal_id)) == 1
        assert len(receiver.received) == 1


def _copy(message: Message) -> Message:
    return Message(
        message.topic,
        message.partition,
        message.offset,
        message.key,
        message.value,
        message.headers,
        message.timestamp,
    )


# --- auth --------------------------------------------------------------------------------------------

ENDPOINTS = [
    ("POST", "/v1/subscriptions", Scope.admin),
    ("GET", "/v1/subscriptions", Scope.admin),
    ("GET", "/v1/subscriptions/sub_x", Scope.admin),
    ("DELETE", "/v1/subscriptions/sub_x", Scope.admin),
    ("POST", "/v1/silences", Scope.admin),
    ("GET", "/v1/silences", Scope.read),
    ("DELETE", "/v1/silences/sil_x", Scope.admin),
    ("GET", "/v1/deliveries", Scope.read),
    ("POST", "/v1/deliveries/msg_x/retry", Scope.admin),
]


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
async def test_auth_on_every_endpoint(notifier: Notifier, method: str, path: str, scope: Scope) -> None:
    await check_scopes(notifier.env.client, notifier.env.keys, method, path, scope)
