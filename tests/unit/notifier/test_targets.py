"""The webhook target rules: which resolved addresses may be called, which URLs may be subscribed."""

from __future__ import annotations

import pytest

from services.notifier.targets import MAX_URL_LENGTH, TargetRefused, check_target, check_url, is_allowed

PUBLIC = [
    "8.8.8.8",
    "93.184.215.14",
    "2606:4700:4700::1111",
    "2a00:1450:4001:82a::200e",
    "::ffff:8.8.8.8",  # mapped public v4
    "2002:0808:0808::1",  # 6to4 around public 8.8.8.8
]

# Refused unless allow_private.
PRIVATE = [
    "127.0.0.1",
    "127.255.255.254",
    "::1",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "fc00::1",
    "fd12:3456::1",
    "169.254.0.1",
    "169.254.169.254",  # cloud metadata (AWS, GCP, Azure)
    "fe80::1",
    "fe80::1%1",
    "fd00:ec2::254",  # AWS metadata over IPv6
    "100.64.0.1",
    "100.127.255.254",
    "192.0.2.1",  # documentation
    "198.18.0.1",  # benchmarking
    "2001:db8::1",
    "240.0.0.1",  # reserved
    "255.255.255.255",  # broadcast
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible
    "::169.254.169.254",
    "2002:7f00:0001::",  # 6to4 around 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 around 169.254.169.254
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo around 127.0.0.1
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo around 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 around 127.0.0.1
]

# Refused even with allow_private.
NEVER = [
    "0.0.0.0",
    "::",
    "::ffff:0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "ff02::1",
    "ff0e::1",
    "::ffff:224.0.0.1",
    "2002:e000:0001::",  # 6to4 around multicast
]

MALFORMED = ["", "localhost", "127.1", "2130706433", "1.2.3.4.5", "::g", "not an address"]


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_allowed(address, allow_private=False)
    assert is_allowed(address, allow_private=True)


@pytest.mark.parametrize("address", PRIVATE)
def test_private_addresses_are_refused_unless_allowed(address: str) -> None:
    assert not is_allowed(address, allow_private=False)
    assert is_allowed(address, allow_private=True)


@pytest.mark.parametrize("address", NEVER)
def test_unspecified_and_multicast_are_always_refused(address: str) -> None:
    assert not is_allowed(address, allow_private=False)
    assert not is_allowed(address, allow_private=True)


@pytest.mark.parametrize("address", MALFORMED)
def test_what_is_not_an_ip_address_is_refused(address: str) -> None:
    # is_allowed judges resolved addresses; host names and short forms go through the resolver first.
    assert not is_allowed(address, allow_private=True)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://hooks.example.com/ew", "https://hooks.example.com/ew"),
        ("http://hooks.example.com:8080/a?b=c", "http://hooks.example.com:8080/a?b=c"),
        ("HTTPS://Hooks.Example.COM/x", "https://hooks.example.com/x"),
        ("https://hooks.example.com:443/x", "https://hooks.example.com/x"),
        ("https://bücher.example/x", "https://xn--bcher-kva.example/x"),
        ("http://[2606:4700::1]:8080/", "http://[2606:4700::1]:8080/"),
        ("https://hooks.example.com./x", "https://hooks.example.com./x"),
        ("https://my_hooks.example.com/x", "https://my_hooks.example.com/x"),
        ("http://127.0.0.1/", "http://127.0.0.1/"),  # syntax only: addresses are check_target's job
    ],
)
def test_check_url_accepts_and_normalises(url: str, expected: str) -> None:
    assert check_url(url) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/file", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://example.com:70/_x", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("ws://example.com/", "scheme"),
        ("example.com/hook", "scheme"),
        ("https://user:pass@example.com/", "user name or password"),
        ("https://user@example.com/", "user name or password"),
        ("https://:@example.com/", "user name or password"),
        ("https://example.com@127.0.0.1/", "user name or password"),
        ("https:///path", "no host"),
        ("https://", "no host"),
        ("https://example.com:0/", "port"),
        ("https://example.com:65536/", "port"),
        ("https://example.com:http/", "not a valid URL"),
        ("http://0177.0.0.1/", "not a valid URL"),
        ("https://exa mple.com/", "not a valid host"),
        ("https://a..b/", "not a valid host"),
        ("https://a\\b/", "not a valid host"),
        ("https://a<b>/", "not a valid host"),
        ("http://[::1%25eth0]/", "not a valid host"),
        ("https://example.com/" + "a" * MAX_URL_LENGTH, "longer than"),
    ],
)
def test_check_url_refuses(url: str, reason: str) -> None:
    with pytest.raises(TargetRefused, match=reason):
        check_url(url)


def test_check_url_accepts_the_longest_url() -> None:
    url = "https://example.com/"
    url += "a" * (MAX_URL_LENGTH - len(url))
    assert check_url(url) == url


def test_a_refusal_never_names_the_query_string() -> None:
    with pytest.raises(TargetRefused) as refused:
        check_url("ftp://example.com/x?token=s3cret")
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost:8080/",
        "http://2130706433/",  # decimal 127.0.0.1
        "http://0x7f.1/",  # hex and short form
        "http://0x7f000001/",
        "http://127.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:8000/",
        "http://10.1.2.3/",
        "http://[fd00:ec2::254]/",
    ],
)
async def test_check_target_refuses_what_resolves_to_a_private_address(url: str) -> None:
    # These all resolve locally (numeric forms and /etc/hosts), so no DNS server is needed.
    with pytest.raises(TargetRefused, match="not a public address"):
        await check_target(url + "?token=s3cret", allow_private=False)


async def test_check_target_allows_private_addresses_when_asked() -> None:
    await check_target("http://2130706433:8080/", allow_private=True)
    await check_target("http://localhost/", allow_private=True)
    with pytest.raises(TargetRefused, match="not a public address"):
        await check_target("http://0.0.0.0/", allow_private=True)


async def test_check_target_accepts_a_public_address() -> None:
    await check_target("https://8.8.8.8/hook", allow_private=False)
    await check_target("https://[2606:4700:4700::1111]/hook", allow_private=False)


async def test_check_target_refuses_an_unresolvable_host() -> None:
    with pytest.raises(TargetRefused, match=r"cannot resolve host nonexistent\.invalid"):
        await check_target("https://nonexistent.invalid/hook", allow_private=True)


async def test_check_target_checks_the_syntax_first() -> None:
    with pytest.raises(TargetRefused, match="scheme"):
        await check_target("file:///etc/passwd", allow_private=True)
