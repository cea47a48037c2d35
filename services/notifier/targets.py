"""Webhook target URLs, checked against SSRF at subscription time and again at every delivery.

A subscriber chooses the URL, so without a check the notifier would post to whatever it can reach:
loopback, the private network, the cloud metadata service. `check_target` refuses such a URL when it is
subscribed; `transport` guards delivery, because DNS can answer differently later (rebinding). Its
connections go only to addresses it resolved and vetted itself, so no second lookup by the socket layer
can slip another address in. The sender does not follow redirects (`client`), and even a followed
redirect would pass through the same guard.

`EW_WEBHOOK_ALLOW_PRIVATE` (`allow_private=True`) lifts the check for private ranges, for tests and
closed networks; unspecified and multicast addresses stay refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
from collections.abc import Iterable

import httpcore
import httpx

MAX_URL_LENGTH = 2000
SCHEMES = frozenset({"http", "https"})
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")  # after IDNA; also IPv4 in any notation


class TargetRefused(ValueError):
    """A webhook target that may not be called; the message (never the query string) says why."""


def check_url(url: str) -> str:
    """The normalised `url` if it is syntactically a webhook target, else `TargetRefused`."""
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parsed = httpx.URL(url)
        port = parsed.port
    except (httpx.InvalidURL, ValueError):
        raise TargetRefused("not a valid URL") from None
    if parsed.scheme not in SCHEMES:
        raise TargetRefused("the URL's scheme must be http or https")
    if parsed.userinfo:
        raise TargetRefused("the URL may not contain a user name or password")
    if not parsed.raw_host:
        raise TargetRefused("the URL has no host")
    if not _valid_host(parsed.raw_host.decode("ascii")):
        raise TargetRefused("the URL's host is not a valid host name or IP address")
    if port is not None and not 0 < port < 65536:
        raise TargetRefused("the URL's port must be between 1 and 65535")
    # httpx parses the URL here and when sending: one parser, so the checked host is the one called.
    return str(parsed)


def _valid_host(host: str) -> bool:
    # httpx lets odd hosts through (percent signs, backslashes, empty labels, IPv6 zone ids).
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host).scope_id is None
        except ValueError:
            return False
    return _HOST_NAME.fullmatch(host.lower()) is not None


def is_allowed(address: str, *, allow_private: bool) -> bool:
    """Whether a resolved IP address may be called: public only, unless `allow_private`."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for candidate in _judged(ip):
        if candidate.is_unspecified or candidate.is_multicast:
            return False
        # Python 3.11 calls multicast and some reserved v6 ranges (::/8) "global": refuse them too.
        if not allow_private and not (candidate.is_global and not candidate.is_reserved):
            return False
    return True


def _judged(ip: _Address) -> list[_Address]:
    """The addresses to judge for `ip`: IPv6 forms that carry an IPv4 address are judged by it too."""
    if isinstance(ip, ipaddress.IPv4Address):
        return [ip]
    if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d on a dual-stack socket
        return [ip.ipv4_mapped]
    if int(ip) >> 32 == 0 and int(ip) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour is not None:
        return [ip, ip.sixtofour]
    if ip.teredo is not None:
        return [ip, ip.teredo[1]]
    return [ip]


async def _resolve(host: str, port: int) -> list[str]:
    """The addresses of `host`, in resolver order, without blocking the event loop."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _vet(host: str, addresses: Iterable[str], *, allow_private: bool) -> None:
    # One refused address refuses the host: whoever controls its DNS could otherwise mix answers.
    for address in addresses:
        if not is_allowed(address, allow_private=allow_private):
            raise TargetRefused(f"host {host} resolves to {address}, which is not a public address")


async def check_target(url: str, *, allow_private: bool) -> None:
    """`check_url`, then resolve the host and refuse it if any of its addresses is refused."""
    parsed = httpx.URL(check_url(url))
    host = parsed.raw_host.decode("ascii")
    try:
        addresses = await _resolve(host, parsed.port or (443 if parsed.scheme == "https" else 80))
    except (OSError, UnicodeError):
        addresses = []
    if not addresses:
        raise TargetRefused(f"cannot resolve host {parsed.host}")
    _vet(host, addresses, allow_private=allow_private)


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves each host itself, vets every address, and connects only to a vetted one.

    The inner backend receives an IP literal, so it does no lookup of its own. TLS is unaffected:
    httpcore passes the original host to `start_tls` as `server_hostname`, for SNI and verification.
    """

    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            async with asyncio.timeout_at(deadline):
                addresses = await _resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving host {host} timed out") from None
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve host {host}: {exc}") from None
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve host {host}")
        _vet(host, addresses, allow_private=self._allow_private)
        error: Exception | None = None
        for address in addresses:  # the next vetted address when one does not answer
            remaining = None if deadline is None else max(deadline - loop.time(), 0.0)
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=remaining,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise TargetRefused("webhooks are not delivered over Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def transport(
    *,
    allow_private: bool,
    verify: ssl.SSLContext | bool = True,
    limits: httpx.Limits = DEFAULT_LIMITS,
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection goes through `_GuardedBackend` (no proxy, no Unix socket)."""
    guarded = httpx.AsyncHTTPTransport(verify=verify, limits=limits, trust_env=False)
    # httpx has no parameter for httpcore's network backend, so the pool it built (same settings, no
    # connections yet) is swapped for one with the guard; `handle_async_request` only uses `_pool`.
    guarded._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_GuardedBackend(allow_private=allow_private),
    )
    return guarded


def client(*, allow_private: bool, timeout: float, verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    """The delivery client: the guarded transport, no redirects, nothing taken from the environment."""
    return httpx.AsyncClient(
        transport=transport(allow_private=allow_private, verify=verify),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
