"""Notification emails through a real SMTP server (aiosmtpd on 127.0.0.1): delivery, refusals, AUTH."""

from __future__ import annotations

import email
import email.policy
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from services.notifier.mail import MailError, render_digest, render_signal, send
from shared.schemas import Signal, SignalEventType, example_of
from tests.harness import free_port

USER = "alerts"
PASSWORD = "s3cret-Pa55word"
REFUSED = "nobody@example.com"
CONSOLE = "https://ew.example.com"


@dataclass
class Collector:
    """An aiosmtpd handler that keeps what it receives and refuses one recipient."""

    received: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    logins: list[bytes | None] = field(default_factory=list)  # who sent each message, when authenticated

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append((envelope, message))
        auth = session.auth_data if session.authenticated else None
        self.logins.append(auth.login if isinstance(auth, LoginPassword) else None)
        return "250 Message accepted for delivery"


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(
        success=ok, handled=False, auth_data=auth_data
    )  # handled=False: the server answers 535 itself


@dataclass
class Server:
    collector: Collector
    port: int

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


def start(**smtp_options: Any) -> tuple[Controller, Server]:
    collector = Collector()
    port = free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port, **smtp_options)
    controller.start()
    return controller, Server(collector, port)


@pytest.fixture
def server() -> Iterator[Server]:
    controller, running = start()
    try:
        yield running
    finally:
        controller.stop()


@pytest.fixture
def auth_server() -> Iterator[Server]:
    # Plain-text AUTH is fine on loopback in a test; production URLs would use smtps:// or starttls.
    controller, running = start(authenticator=authenticate, auth_require_tls=False)
    try:
        yield running
    finally:
        controller.stop()


def signal(**changes: Any) -> Signal:
    return Signal.model_validate({**example_of(Signal), **changes})


def signal_mail(to: str = "credit@example.com") -> EmailMessage:
    return render_signal(
        signal(),
        event_type=SignalEventType.RAISED.value,
        console_url=CONSOLE,
        mail_from="Early Warning <ew@example.com>",
        to=to,
        subscription="Credit team",
    )


def digest_mail(to: str = "sales@example.com") -> EmailMessage:
    return render_digest(
        [
            (SignalEventType.RAISED.value, signal()),
            (SignalEventType.UPDATED.value, signal(company_id="BE0417497106", company_name="Voorbeeld NV")),
        ],
        day=date(2025, 10, 9),
        subscription="Sales digest",
        console_url=CONSOLE,
        mail_from="ew@example.com",
        to=to,
    )


def bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    return text.get_content(), html.get_content()


async def test_signal_mail_and_digest_are_delivered(server: Server) -> None:
    await send([signal_mail(), digest_mail()], smtp_url=server.url)

    assert len(server.collector.received) == 2
    (envelope, received), (digest_envelope, digest) = server.collector.received

    assert envelope.mail_from == "ew@example.com"
    assert envelope.rcpt_tos == ["credit@example.com"]
    assert received["From"] == "Early Warning <ew@example.com>"
    assert received["To"] == "credit@example.com"
    assert received["Subject"] == "[Early Warning] HIGH score_drop — Acme Industries NV (BE0403170701)"
    assert received.get_content_type() == "multipart/alternative"
    text, html = bodies(received)
    summary = "The credit bureau lowered Acme Industries NV's score from 72 to 45 (27 points)."
    assert summary in text
    assert "Acme Industries NV&#39;s score from 72 to 45" in html
    assert f"{CONSOLE}/companies/BE0403170701" in text
    assert f'href="{CONSOLE}/companies/BE0403170701"' in html

    assert digest_envelope.rcpt_tos == ["sales@example.com"]
    assert digest["From"] == "ew@example.com"
    assert digest["To"] == "sales@example.com"
    assert digest["Subject"] == "[Early Warning] Daily digest 2025-10-09: 2 signals (2 high)"
    text, html = bodies(digest)
    assert summary in text
    assert "Voorbeeld NV (BE0417497106)" in html
    assert f"{CONSOLE}/companies/BE0417497106" in text


async def test_refused_recipient_raises_but_the_rest_is_sent(server: Server) -> None:
    messages = [signal_mail(to=REFUSED), digest_mail()]

    with pytest.raises(MailError, match="550") as caught:
        await send(messages, smtp_url=server.url)

    assert caught.value.failed == (0,)
    assert REFUSED in str(caught.value)
    assert [envelope.rcpt_tos for envelope, _ in server.collector.received] == [["sales@example.com"]]


async def test_authenticated_delivery(auth_server: Server) -> None:
    url = f"smtp://{USER}:{PASSWORD}@127.0.0.1:{auth_server.port}"
    await send([signal_mail()], smtp_url=url)
    assert auth_server.collector.logins == [USER.encode()]


async def test_refused_credentials_stay_out_of_the_error(auth_server: Server) -> None:
    url = f"smtp://{USER}:{PASSWORD}x@127.0.0.1:{auth_server.port}"

    with pytest.raises(MailError, match="authentication") as caught:
        await send([signal_mail(), digest_mail()], smtp_url=url)

    assert caught.value.failed == (0, 1)
    shown = "".join(traceback.format_exception(caught.value))
    assert PASSWORD not in shown
    assert PASSWORD not in repr(caught.value)
    assert f"smtp://{USER}@127.0.0.1:{auth_server.port}" in str(caught.value)
    assert auth_server.collector.received == []


async def test_unreachable_server_raises_mail_error() -> None:
    port = free_port()  # nothing listens there

    with pytest.raises(MailError, match="cannot connect") as caught:
        await send([signal_mail()], smtp_url=f"smtp://{USER}:{PASSWORD}@127.0.0.1:{port}", timeout=5)

    assert caught.value.failed == (0,)
    assert PASSWORD not in "".join(traceback.format_exception(caught.value))
