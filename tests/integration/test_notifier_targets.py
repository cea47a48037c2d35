"""The delivery-time guard on real sockets: a local HTTP(S) server the guarded client must not reach.

Only the event loop's `getaddrinfo` is replaced, in the tests that need a host name to resolve to a
chosen address (rebinding, TLS); connections and TLS handshakes are real.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.notifier.targets import TargetRefused, check_target, client

PUBLIC_ADDRESS = "93.184.215.14"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


@dataclass
class Server:
    host: str
    port: int
    connections: int = 0
    response: bytes = OK


async def _serve(host: str, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    server = Server(host, 0)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(server.response)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(answer, host, 0, ssl=ssl_context)
    server.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield server


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    async for running in _serve("127.0.0.1"):
        yield running


@pytest.fixture
async def server_v6() -> AsyncIterator[Server]:
    try:
        socket.socket(socket.AF_INET6).close()
        async for running in _serve("::1"):
            yield running
    except OSError as exc:  # raised before the yield only: no IPv6 loopback here
        pytest.skip(f"no IPv6 loopback: {exc}")


Resolver = Callable[..., Awaitable[list[Any]]]


def _answers(addresses: list[str], port: int) -> list[Any]:
    infos: list[Any] = []
    for address in addresses:
        if ipaddress.ip_address(address).version == 6:
            infos.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
        else:
            infos.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
    return infos


@pytest.fixture
async def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[list[str]]]:
    """Fake DNS on the running loop: `dns[name]` is a list of successive answers (the last repeats)."""
    loop = asyncio.get_running_loop()
    real: Resolver = loop.getaddrinfo
    zone: dict[str, list[list[str]]] = {}

    async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in zone:
            return await real(host, port, *args, **kwargs)
        answers = zone[host]
        return _answers(answers.pop(0) if len(answers) > 1 else answers[0], int(port))

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return zone


def _urls(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/hook?token=s3cret",
        f"http://localhost:{port}/hook?token=s3cret",
        f"http://2130706433:{port}/hook?token=s3cret",
        f"http://0x7f.1:{port}/hook?token=s3cret",
        f"http://[::ffff:127.0.0.1]:{port}/hook?token=s3cret",
    ]


async def test_loopback_in_every_spelling_is_refused(server: Server) -> None:
    async with client(allow_private=False, timeout=5) as http:
        for url in _urls(server.port):
            with pytest.raises(TargetRefused, match="not a public address") as refused:
                await http.post(url, content=b"{}")
            assert "s3cret" not in str(refused.value)
    assert server.connections == 0


async def test_loopback_in_every_spelling_is_reached_when_private_is_allowed(server: Server) -> None:
    urls = _urls(server.port)
    async with client(allow_private=True, timeout=5) as http:
        for url in urls:
            response = await http.post(url, content=b"{}")
            assert response.status_code == 200
            assert response.text == "ok"
    assert server.connections == len(urls)


async def test_ipv6_loopback_is_refused_and_reached_when_allowed(server_v6: Server) -> None:
    url = f"http://[::1]:{server_v6.port}/hook"
    async with client(allow_private=False, timeout=5) as http:
        with pytest.raises(TargetRefused, match="::1"):
            await http.post(url, content=b"{}")
    assert server_v6.connections == 0
    async with client(allow_private=True, timeout=5) as http:
        assert (await http.post(url, content=b"{}")).status_code == 200
    assert server_v6.connections == 1


async def test_dns_rebinding_is_refused_at_delivery(server: Server, dns: dict[str, list[list[str]]]) -> None:
    dns["hooks.rebind.test"] = [[PUBLIC_ADDRESS], ["127.0.0.1"]]
    url = f"http://hooks.rebind.test:{server.port}/hook"
    await check_target(url, allow_private=False)  # public when subscribed
    async with client(allow_private=False, timeout=5) as http:
        with pytest.raises(TargetRefused, match=r"host hooks\.rebind\.test resolves to 127\.0\.0\.1"):
            await http.post(url, content=b"{}")
    assert server.connections == 0


async def test_one_private_address_among_public_ones_refuses_the_host(
    server: Server, dns: dict[str, list[list[str]]]
) -> None:
    dns["hooks.mixed.test"] = [[PUBLIC_ADDRESS, "127.0.0.1"]]
    url = f"http://hooks.mixed.test:{server.port}/hook"
    with pytest.raises(TargetRefused, match=r"127\.0\.0\.1"):
        await check_target(url, allow_private=False)
    async with client(allow_private=False, timeout=5) as http:
        with pytest.raises(TargetRefused, match=r"127\.0\.0\.1"):
            await http.post(url, content=b"{}")
    assert server.connections == 0


async def test_the_next_vetted_address_is_tried_when_one_does_not_answer(
    server: Server, dns: dict[str, list[list[str]]]
) -> None:
    # 127.0.0.2 is loopback too, but nothing listens there: connection refused, then 127.0.0.1.
    dns["hooks.twice.test"] = [["127.0.0.2", "127.0.0.1"]]
    async with client(allow_private=True, timeout=5) as http:
        response = await http.post(f"http://hooks.twice.test:{server.port}/hook", content=b"{}")
    assert response.status_code == 200
    assert server.connections == 1


async def test_an_unresolvable_host_is_a_connect_error_at_delivery() -> None:
    async with client(allow_private=True, timeout=5) as http:
        with pytest.raises(httpx.ConnectError, match=r"cannot resolve host nonexistent\.invalid"):
            await http.post("http://nonexistent.invalid/hook", content=b"{}")


async def test_check_target_refuses_an_unresolvable_host() -> None:
    with pytest.raises(TargetRefused, match="cannot resolve host"):
        await check_target("https://nonexistent.invalid/hook", allow_private=False)


async def test_redirects_are_not_followed(server: Server) -> None:
    server.response = (
        b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://169.254.169.254/latest/meta-data/\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    async with client(allow_private=True, timeout=5) as http:
        response = await http.post(f"http://127.0.0.1:{server.port}/hook", content=b"{}")
    assert response.status_code == 307
    assert server.connections == 1


# TLS: the connection goes to the vetted IP, but the certificate is checked against the URL's host.


@dataclass
class Certificate:
    cert_file: Path
    key_file: Path
    pem: bytes


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.tls.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.tls.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (directory / "cert.pem").write_bytes(pem)
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Certificate(directory / "cert.pem", directory / "key.pem", pem)


@pytest.fixture
async def tls_server(certificate: Certificate) -> AsyncIterator[Server]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate.cert_file, certificate.key_file)
    async for running in _serve("127.0.0.1", context):
        yield running


def _trusting(certificate: Certificate) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=certificate.pem.decode())


async def test_tls_is_verified_against_the_host_name_not_the_address(
    tls_server: Server, certificate: Certificate, dns: dict[str, list[list[str]]]
) -> None:
    # The certificate names hooks.tls.test only, not 127.0.0.1: the handshake succeeds only if the
    # original host name is sent as SNI and checked, although the socket was opened to the IP literal.
    dns["hooks.tls.test"] = [["127.0.0.1"]]
    async with client(allow_private=True, timeout=5, verify=_trusting(certificate)) as http:
        response = await http.post(f"https://hooks.tls.test:{tls_server.port}/hook", content=b"{}")
    assert response.status_code == 200


async def test_tls_refuses_a_certificate_for_another_host(
    tls_server: Server, certificate: Certificate, dns: dict[str, list[list[str]]]
) -> None:
    dns["other.tls.test"] = [["127.0.0.1"]]
    async with client(allow_private=True, timeout=5, verify=_trusting(certificate)) as http:
        with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
            await http.post(f"https://other.tls.test:{tls_server.port}/hook", content=b"{}")
