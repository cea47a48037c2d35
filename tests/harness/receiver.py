"""A real HTTP webhook receiver on 127.0.0.1: records every request, answers as told.

`Receiver(answers=...)` answers each request with the next status of `answers` (the last one repeats);
`hang=True` accepts connections and never answers (a dead target that times out). Requests are recorded as
`Received(headers, body)`; `verified(secret)` checks each one with the `standardwebhooks` package.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from standardwebhooks.webhooks import Webhook

from tests.harness import free_port


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self, answers: Sequence[int] = (200,), *, hang: bool = False) -> None:
        self.answers = list(answers)
        self.hang = hang
        self.received: list[Received] = []
        self.connections = 0
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._arrived = asyncio.Condition()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), timeout=2)

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Until `count` requests arrived; the requests."""
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.received) >= count), timeout)
        return list(self.received)

    def verified(self, secret: str) -> list[Any]:
        """Every request's payload, each signature checked by `standardwebhooks` (raises if one is bad)."""
        hook = Webhook(secret)
        return [hook.verify(r.body, r.headers) for r in self.received]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                if self.hang:
                    await asyncio.sleep(3600)
                status = self.answers[min(len(self.received), len(self.answers) - 1)]
                async with self._arrived:
                    self.received.append(request)
                    self._arrived.notify_all()
                writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> Received | None:
    line = await reader.readline()
    if not line:
        return None
    headers: dict[str, str] = {}
    while True:
        header = await reader.readline()
        if header in (b"\r\n", b"\n", b""):
            break
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Received(headers, body)
