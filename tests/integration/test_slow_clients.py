"""Slow clients (slow loris) against the real `earlywarning up` process on real sockets.

Clients that trickle their request head or body are answered 408 and disconnected by the server once their
deadline (EW_REQUEST_HEAD_TIMEOUT, EW_REQUEST_BODY_TIMEOUT and EW_REQUEST_BODY_MIN_RATE, short here) has
passed, and while they hold their connections every other client is served at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.e2e.test_processes import Process
from tests.harness import free_port

ADMIN_KEY = "ew_test_admin_key_for_the_slow_client_tests"
HEAD = 2.0  # EW_REQUEST_HEAD_TIMEOUT
BODY = 2.0  # EW_REQUEST_BODY_TIMEOUT
MIN_RATE = 200  # EW_REQUEST_BODY_MIN_RATE, bytes/s
DRIP = 0.1  # seconds between two bytes of a slow client: 10 bytes/s, far below MIN_RATE
SLACK = 2.5  # how late the server may close on a busy shared machine
SLOW_CLIENTS = 50
AUTH = f"Authorization: Bearer {ADMIN_KEY}\r\n".encode()
OBSERVATION = {"company_id": "0403.170.701", "kind": "late_payment_suppliers", "reporter": "jan@example.com"}


@dataclass
class Server:
    host: str
    port: int
    process: Process

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("EW_")}
    env.update(
        EW_LOG_FORMAT="json",
        EW_ADMIN_KEY=ADMIN_KEY,
        EW_SWEEP_INTERVAL="0",
        EW_REQUEST_HEAD_TIMEOUT=str(HEAD),
        EW_REQUEST_BODY_TIMEOUT=str(BODY),
        EW_REQUEST_BODY_MIN_RATE=str(MIN_RATE),
    )
    process = Process(["up", "--port", str(port)], tmp_path_factory.mktemp("slow-clients"), env)
    try:
        served = Server("127.0.0.1", port, process)
        process.wait_ready(served.base)
        yield served
    finally:
        process.terminate()


@dataclass
class Outcome:
    """What a slow client got: the bytes the server sent, and when the server closed, after connecting."""

    answer: bytes
    closed_after: float

    @property
    def status(self) -> int | None:
        return int(self.answer.split(b" ", 2)[1]) if self.answer.startswith(b"HTTP/1.1 ") else None


async def slow_client(server: Server, first: bytes, drip: bytes, *, patience: float) -> Outcome:
    """Connect, send `first`, then one byte of `drip` every DRIP seconds until the server closes."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        return await drip_until_closed(reader, writer, first, drip, patience=patience)
    finally:
        writer.close()


async def drip_until_closed(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, first: bytes, drip: bytes, *, patience: float
) -> Outcome:
    started = time.monotonic()

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            writer.write(first)
            for index in range(len(drip)):
                await writer.drain()
                await asyncio.sleep(DRIP)
                writer.write(drip[index : index + 1])

    dripping = asyncio.create_task(trickle())
    answer = b""
    try:
        async with asyncio.timeout(patience):
            # A close with bytes of ours unread may reach us as a reset: what came before it counts.
            with contextlib.suppress(ConnectionResetError):
                while chunk := await reader.read(65536):
                    answer += chunk
        return Outcome(answer, time.monotonic() - started)
    except TimeoutError:
        raise AssertionError(f"the server kept a slow connection open for {patience} s") from None
    finally:
        dripping.cancel()


async def assert_others_are_served(server: Server, slow: list[asyncio.Task[Outcome]]) -> None:
    """Normal requests, each on a new connection, answered quickly while the slow clients still hold theirs."""
    await asyncio.sleep(0.5)  # the slow clients are connected and dripping
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.base, limits=limits, timeout=5) as client:
        for _ in range(5):
            started = time.monotonic()
            response = await client.get("/healthz")
            assert response.status_code == 200
            assert time.monotonic() - started < 1.0, "a normal request waited behind the slow clients"
    assert not any(task.done() for task in slow), "the slow clients must still be connected meanwhile"


def assert_closed_in_time(outcomes: list[Outcome], deadline: float) -> None:
    for outcome in outcomes:
        assert deadline - 0.2 <= outcome.closed_after <= deadline + SLACK, outcome


async def test_trickled_heads_are_cut_off_while_others_are_served(server: Server) -> None:
    first = b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: "
    slow = [
        asyncio.create_task(slow_client(server, first, b"a" * 1000, patience=HEAD + 3 * SLACK))
        for _ in range(SLOW_CLIENTS)
    ]
    await assert_others_are_served(server, slow)
    outcomes = await asyncio.gather(*slow)
    assert_closed_in_time(outcomes, HEAD)
    assert {outcome.status for outcome in outcomes} == {408}
    body = json.loads(outcomes[0].answer.split(b"\r\n\r\n", 1)[1])
    assert body["error"] == "request_timeout"


async def test_a_connection_that_sends_nothing_is_closed_without_an_answer(server: Server) -> None:
    outcome = await slow_client(server, b"", b"", patience=HEAD + 3 * SLACK)
    assert outcome.answer == b""
    assert_closed_in_time([outcome], HEAD)


async def test_a_kept_alive_connection_must_send_its_next_head_in_time(server: Server) -> None:
    """Uvicorn's keep-alive timeout starts again on every byte: a trickled second request would never end."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: slow\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), head
        (length,) = [
            int(line[15:]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")
        ]
        await reader.readexactly(length)
        second = b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: " + b"a" * 1000
        outcome = await drip_until_closed(reader, writer, b"", second, patience=HEAD + 3 * SLACK)
    finally:
        writer.close()
    assert outcome.status == 408, outcome
    assert_closed_in_time([outcome], HEAD)


def observation_head(length: int) -> bytes:
    return (
        b"POST /v1/observations HTTP/1.1\r\nHost: slow\r\n" + AUTH + b"Content-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % length
    )


async def test_trickled_bodies_are_cut_off_while_others_are_served(server: Server) -> None:
    body = json.dumps(OBSERVATION).encode().ljust(1000)  # JSON may end in blanks
    slow = [
        asyncio.create_task(slow_client(server, observation_head(len(body)), body, patience=BODY + 3 * SLACK))
        for _ in range(SLOW_CLIENTS)
    ]
    await assert_others_are_served(server, slow)
    outcomes = await asyncio.gather(*slow)
    # Each slow client sent about BODY / DRIP bytes, which extend its deadline by that over MIN_RATE.
    assert_closed_in_time(outcomes, BODY + BODY / DRIP / MIN_RATE)
    assert {outcome.status for outcome in outcomes} == {408}
    # Each cut-off request ended quietly: logged as such, and no 500 nor "Exception in ASGI application".
    lines = [json.loads(line) for line in server.process.output().splitlines() if line.startswith("{")]
    assert sum(line["msg"].startswith("request body too slow") for line in lines) >= SLOW_CLIENTS, lines
    assert not [line for line in lines if line["level"] in ("ERROR", "CRITICAL")]


async def test_a_body_at_a_decent_rate_is_taken_however_long_it_takes(server: Server) -> None:
    """Past its first BODY seconds a body lives on the bytes it brings: no fixed cut-off for big uploads."""
    body = json.dumps(OBSERVATION).encode().ljust(int(2 * MIN_RATE * (BODY + 0.5)))
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(observation_head(len(body)))
        started = time.monotonic()
        step = 2 * MIN_RATE // 10  # twice the minimum rate, in tenths of a second
        for offset in range(0, len(body), step):
            writer.write(body[offset : offset + step])
            await writer.drain()
            await asyncio.sleep(0.1)
        assert time.monotonic() - started > BODY
        async with asyncio.timeout(10):
            head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 202 "), head
    finally:
        writer.close()
