"""The log scan of the test session (tests/harness/secrets_scan.py) finds each kind of secret, says where,
never prints one whole, and leaves alone what `shared.logging` redacted."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from shared.auth import new_key
from shared.logging import JsonFormatter
from shared.webhooks import generate_secret
from tests.harness.secrets_scan import is_secret_name, mask, scan_file, scan_text, secret_constants

KEY = new_key()  # a key exactly as the project issues them


def found(text: str, known: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    return list(scan_text(text, known))


def json_line(message: str, *args: object, **extra: object) -> str:
    """`message` as the services write it: through the project's JSON formatter."""
    record = logging.LogRecord("ew.test", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return JsonFormatter().format(record)


@pytest.mark.parametrize(
    ("line", "kind", "secret"),
    [
        (f"created key {KEY} for crm-sync", "API key", KEY),
        (f'{{"msg": "subscription", "secret": "{(hook := generate_secret())}"}}', "webhook secret", hook),
        (
            "connecting to postgresql+asyncpg://ew:hunter2-pass@db:5432/ew",
            "password in a URL",
            "hunter2-pass",
        ),
        ("smtp://mailer:Mail-Pa55@smtp.example.com:587", "password in a URL", "Mail-Pa55"),
        ("headers: Authorization: Bearer abcdefgh12345678", "bearer token", "abcdefgh12345678"),
        ("{'authorization': 'Basic dXNlcjpwYXNzd29yZA=='}", "Authorization header", "dXNlcjpwYXNzd29yZA=="),
        ('"X-Api-Key": "k3y-value-0123456789"', "X-Api-Key header", "k3y-value-0123456789"),
        ("[(b'x-api-key', b'k3y-value-0123456789')]", "X-Api-Key header", "k3y-value-0123456789"),
    ],
)
def test_each_kind_of_secret_is_found(line: str, kind: str, secret: str) -> None:
    assert (kind, secret) in found(line)


def test_a_key_the_tests_use_is_found_by_its_value() -> None:
    admin = "ew_test_admin_key_for_the_scan_tests_000"
    assert found(f"bootstrapped {admin}") == []  # not the shape of an issued key...
    assert found(f"bootstrapped {admin}", known=(admin,)) == [("known test secret", admin)]  # ...but known


def test_what_the_project_formatter_redacts_is_not_reported() -> None:
    line = json_line(
        "connecting to %s with %s",
        "postgresql+asyncpg://ew:s3cr3t-pw@db/ew",
        generate_secret(),
        header=f"Bearer {KEY}",
        bureau_secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        authorization="Basic dXNlcjpwYXNzd29yZA==",
    )
    assert found(line) == [], line
    assert found("postgresql+asyncpg://ew:***@127.0.0.1:5432/ew") == []  # SQLAlchemy's hidden password


def test_a_bare_key_is_masked_by_the_formatter_and_found_where_it_was_not() -> None:
    """A process that logs without the project's formatter (a third-party handler, a print) is caught too."""
    assert found(json_line("created key %s", KEY)) == []
    assert found(f"created key {KEY}") == [("API key", KEY)]


def test_ordinary_text_is_not_reported() -> None:
    for line in (
        "ew_http_request_duration_seconds_bucket_total_x",  # a long metric name: no upper case, no digit
        "ew_test_admin_key_for_the_scope_table_0000",  # a short test key is found only by its value
        "a webhook secret is whsec_ followed by base64",
        "bearer of bad news; see https://example.com:8443/path and mail jan@example.com",
        '{"authorization": "[redacted]", "x-api-key": "[redacted]", "secret": "whsec_[redacted]"}',
    ):
        assert found(line) == [], line


def test_a_file_is_reported_with_line_and_masked_secret(tmp_path: Path) -> None:
    log = tmp_path / "records.txt"  # not *.log: the session scan would rightly find this fake key
    log.write_text(json_line("started") + "\n" + f"created key {KEY}\n")
    (finding,) = scan_file(log)
    assert (finding.path, finding.line, finding.kind, finding.secret) == (log, 2, "API key", KEY)
    assert str(finding).startswith(f"{log}:2: API key ew_")
    assert KEY not in str(finding)
    assert KEY[:12] not in mask(KEY)


def test_secret_constants_are_taken_from_a_module_namespace() -> None:
    namespace = {
        "ADMIN_KEY": "ew_test_admin_key_for_the_scan_tests_000",
        "BUREAU_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "PASSWORD": "s3cret-Pa55word",
        "ENV": {"EW_SECRET_KEY": "a-test-key-that-seals", "EW_LOG_FORMAT": "json"},
        "SECRET_NAME": "earlywarning-secrets",  # names a secret, holds none
        "KEY": ("publication", "25123456"),
        "SHORT_KEY": "k",
    }
    assert secret_constants(namespace) == {
        "ew_test_admin_key_for_the_scan_tests_000",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "s3cret-Pa55word",
        "a-test-key-that-seals",
    }
    assert is_secret_name("EW_ADMIN_KEY")
    assert not is_secret_name("PROMQL_KEYWORDS")
