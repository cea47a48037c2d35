"""Deadlines for receiving a request, so that a slow client (slow loris) cannot hold a connection forever.

Uvicorn (0.54, httptools and h11 alike) arms no timer when a connection is made; it starts
`timeout_keep_alive` only after a response and cancels it on any byte received. A client that trickles
its request head a byte at a time therefore keeps its connection for as long as it likes, and one that
trickles its body leaves the app waiting in `receive()` for ever. `limit_concurrency` does not help: it
counts those connections too, and answers 503 to every other client once they fill it; `backlog` sizes
only the kernel's queue of connections not yet accepted, and these are accepted at once.

The protocol here (uvicorn's httptools one, which `uvicorn[standard]` always brings) adds two deadlines
per request on a connection:

- the head (request line and headers) must be complete `head` seconds after the connection was accepted
  or the previous response was sent;
- the body gets `body` seconds plus one second per `body_min_rate` bytes received (the rule of Apache's
  mod_reqtimeout), so an upload that keeps a decent rate is never cut off, however large.

A request that misses its deadline is answered 408 if its response has not started yet, and the connection
is closed; a connection that has not begun a request is closed without an answer, like an idle keep-alive.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import ClassVar

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from shared.settings import Settings

__all__ = ["DeadlineHttpProtocol", "RequestDeadlines", "protocol_with"]

log = logging.getLogger(__name__)

# The project's error format (see shared.web), written by hand: there is no app call to answer through.
_TIMEOUT_BODY = orjson.dumps(
    {"error": "request_timeout", "message": "the request was not received in time", "details": []}
)


@dataclass(frozen=True)
class RequestDeadlines:
    """How long a client may take to send a request: seconds for the head; seconds and a rate for the body."""

    head: float = 10.0
    body: float = 30.0
    body_min_rate: float = 1024.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestDeadlines:
        return cls(
            head=settings.request_head_timeout,
            body=settings.request_body_timeout,
            body_min_rate=settings.request_body_min_rate,
        )


class DeadlineHttpProtocol(HttpToolsProtocol):
    """Uvicorn's httptools protocol with the head and body deadlines of `deadlines`."""

    deadlines: ClassVar[RequestDeadlines] = RequestDeadlines()

    # Per-connection state, as class-level defaults so that uvicorn's constructor is used as it is.
    _head_timer: asyncio.TimerHandle | None = None
    _head_begun = False  # a byte of the next request has arrived
    _body_timer: asyncio.TimerHandle | None = None
    _body_since = 0.0  # loop time the body's clock started
    _body_received = 0  # bytes of body received since then

    # -- the hooks of uvicorn's protocol and of the httptools parser -----------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head()
        self._cancel_body()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_begun = True

    def on_headers_complete(self) -> None:
        self._cancel_head()
        self._head_begun = False
        previous = self.cycle
        super().on_headers_complete()
        if self.cycle is not previous:  # a request to serve (no new cycle: a WebSocket upgrade)
            self._body_since, self._body_received = self.loop.time(), 0
            self._body_timer = self.loop.call_at(self._body_deadline(), self._check_body)

    def on_body(self, body: bytes) -> None:
        self._body_received += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._cancel_body()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)  # the next request's head is already in
        super().on_response_complete()
        if not pipelined and not self.transport.is_closing():
            # The client has its answer: the rest of its body, if the app answered without reading it all,
            # and its next request head are due within the head deadline.
            self._cancel_body()
            self._arm_head()

    # -- the deadlines ---------------------------------------------------------------------------------

    def _arm_head(self) -> None:
        self._cancel_head()
        self._head_timer = self.loop.call_later(self.deadlines.head, self._head_timed_out)

    def _cancel_head(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _cancel_body(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_deadline(self) -> float:
        return self._body_since + self.deadlines.body + self._body_received / self.deadlines.body_min_rate

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_begun:
            log.info(
                "request head not complete after %s s: closing the connection",
                self.deadlines.head,
                extra={"client": self._client()},
            )
            self._write_408()
        self.transport.close()

    def _check_body(self) -> None:
        self._body_timer = None
        if self.transport.is_closing() or self.cycle is None:
            return
        now = self.loop.time()
        if self.flow.read_paused or self.cycle.waiting_for_100_continue:
            # The server itself holds the body back (the app has not taken what came yet, a pipelined
            # request waits for the one before, or a client that sent `Expect: 100-continue`, as curl does
            # for large bodies, has not been told to go on): the client is not late; its clock starts again.
            self._body_since, self._body_received = now, 0
        elif now >= self._body_deadline():
            self._body_timed_out()
            return
        self._body_timer = self.loop.call_at(self._body_deadline(), self._check_body)

    def _body_timed_out(self) -> None:
        cycle = self.cycle
        log.info(
            "request body too slow (%d bytes in %.1f s): closing the connection",
            self._body_received,
            self.loop.time() - self._body_since,
            extra={"client": self._client()},
        )
        if not cycle.response_started:
            self._write_408()
        # The request is gone: the app's receive() returns http.disconnect and what it sends is dropped.
        cycle.keep_alive = False
        cycle.disconnected = True
        cycle.message_event.set()
        self.transport.close()

    def _write_408(self) -> None:
        head = [STATUS_LINE[408]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(_TIMEOUT_BODY),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + _TIMEOUT_BODY)

    def _client(self) -> str | None:
        return f"{self.client[0]}:{self.client[1]}" if self.client else None


def protocol_with(deadlines: RequestDeadlines) -> type[DeadlineHttpProtocol]:
    """The protocol class to give `uvicorn.Config(http=...)`: uvicorn makes the instances itself."""

    class Configured(DeadlineHttpProtocol):
        pass

    Configured.deadlines = deadlines
    return Configured
