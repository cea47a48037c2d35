"""Structured logging: JSON lines, bound fields per task, no secrets in the output."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from shared.auth import new_key
from shared.logging import (
    REDACTED,
    JsonFormatter,
    bind,
    bound_fields,
    configure_logging,
    is_sensitive,
    redact,
    scrub,
)


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """Configure JSON logging into a buffer, and put the root logger back afterwards."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    stream = io.StringIO()
    configure_logging("debug", "json", stream=stream)
    yield stream
    root.handlers[:] = saved[1]
    root.setLevel(saved[0])


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """The parsed lines of the test's own logger (asyncio may log its own)."""
    parsed = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in parsed if line["logger"] == "ew.test"]


def test_one_json_object_per_line_with_the_fixed_fields(output: io.StringIO) -> None:
    log = logging.getLogger("ew.test")
    log.info("first %s", "line")
    log.warning("second")
    first, second = lines(output)
    assert first["msg"] == "first line"
    assert (first["level"], first["logger"]) == ("INFO", "ew.test")
    assert first["ts"].endswith("Z")
    assert "T" in first["ts"]
    assert second["level"] == "WARNING"


def test_extra_fields_are_included(output: io.StringIO) -> None:
    logging.getLogger("ew.test").info("raised", extra={"company_id": "BE0403170701", "attempt": 2})
    (line,) = lines(output)
    assert line["company_id"] == "BE0403170701"
    assert line["attempt"] == 2


def test_extras_cannot_replace_the_fixed_fields(output: io.StringIO) -> None:
    logging.getLogger("ew.test").info("real", extra={"level": "fake", "logger": "fake"})
    (line,) = lines(output)
    assert (line["level"], line["logger"], line["level_"]) == ("INFO", "ew.test", "fake")


def test_bound_fields_appear_and_go_away(output: io.StringIO) -> None:
    log = logging.getLogger("ew.test")
    with bind(company_id="BE0403170701", trace_id="t-1"):
        log.info("inside")
        with bind(event_id="e-9", trace_id=None):
            log.info("nested")
        assert bound_fields() == {"company_id": "BE0403170701", "trace_id": "t-1"}
    log.info("outside")
    inside, nested, outside = lines(output)
    assert (inside["company_id"], inside["trace_id"]) == ("BE0403170701", "t-1")
    assert nested["event_id"] == "e-9"
    assert "trace_id" not in nested
    assert "company_id" not in outside
    assert bound_fields() == {}


def test_extra_wins_over_a_bound_field(output: io.StringIO) -> None:
    with bind(company_id="BE0403170701"):
        logging.getLogger("ew.test").info("x", extra={"company_id": "NL12345678"})
    assert lines(output)[0]["company_id"] == "NL12345678"


async def test_bound_fields_belong_to_their_task(output: io.StringIO) -> None:
    log = logging.getLogger("ew.test")
    both_bound = asyncio.Event()
    ready = 0

    async def work(company_id: str) -> None:
        nonlocal ready
        with bind(company_id=company_id):
            ready += 1
            if ready == 2:
                both_bound.set()
            await both_bound.wait()
            log.info("working")

    await asyncio.gather(work("BE0403170701"), work("NL12345678"))
    assert sorted(line["company_id"] for line in lines(output)) == ["BE0403170701", "NL12345678"]


def test_exceptions_are_a_string_field(output: io.StringIO) -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("ew.test").exception("failed")
    (line,) = lines(output)
    assert line["msg"] == "failed"
    assert isinstance(line["exc"], str)
    assert "RuntimeError: boom" in line["exc"]


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "api_key",
        "X-Api-Key",
        "Authorization",
        "bureau_secret",
        "access_token",
        "key",
        "admin_key",
    ],
)
def test_sensitive_extras_are_redacted(output: io.StringIO, name: str) -> None:
    logging.getLogger("ew.test").info("call", extra={name: "hunter2-very-secret"})
    text = output.getvalue()
    assert "hunter2" not in text
    assert lines(output)[0][name] == REDACTED


def test_sensitive_bound_fields_and_nested_values_are_redacted(output: io.StringIO) -> None:
    with bind(token="abc123"):
        logging.getLogger("ew.test").info(
            "call", extra={"request": {"headers": {"authorization": "Bearer abc"}, "path": "/v1/x"}}
        )
    (line,) = lines(output)
    assert line["token"] == REDACTED
    assert line["request"] == {"headers": {"authorization": REDACTED}, "path": "/v1/x"}


def test_ordinary_fields_are_not_redacted() -> None:
    assert not is_sensitive("company_id")
    assert not is_sensitive("event_id")
    assert not is_sensitive("idempotency")
    assert redact({"company_id": "BE0403170701", "n": 3}) == {"company_id": "BE0403170701", "n": 3}


def test_secret_shaped_text_is_masked_everywhere(output: io.StringIO) -> None:
    logging.getLogger("ew.test").info(
        "connecting to %s with %s",
        "postgresql+asyncpg://ew:s3cr3tpw@db:5432/ew",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        extra={"header": "Bearer ew_live_0123456789abcdef", "url": "smtp://mail:pw123@smtp:25"},
    )
    text = output.getvalue()
    for secret in ("s3cr3tpw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "ew_live_0123456789abcdef", "pw123"):
        assert secret not in text
    (line,) = lines(output)
    assert "postgresql+asyncpg://ew:[redacted]@db:5432/ew" in line["msg"]
    assert line["header"] == "Bearer [redacted]"


def test_scrub_leaves_ordinary_text_alone() -> None:
    text = "bearer of bad news; see https://example.com:8443/path and mail jan@example.com"
    assert scrub(text) == text


def test_a_bare_api_key_is_masked_but_not_a_metric_name() -> None:
    key = new_key()
    assert scrub(f"key {key} refused") == "key ew_[redacted] refused"
    metric = "ew_http_request_duration_seconds_bucket_of_the_console_total"
    assert scrub(metric) == metric


def test_unserialisable_values_become_text(output: io.StringIO) -> None:
    class Thing:
        def __str__(self) -> str:
            return "a thing"

    logging.getLogger("ew.test").info("x", extra={"thing": Thing(), "ids": {1, 2}})
    (line,) = lines(output)
    assert line["thing"] == "a thing"
    assert sorted(line["ids"]) == [1, 2]


def test_text_format() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        configure_logging("INFO", "text", stream=stream)
        with bind(company_id="BE0403170701"):
            logging.getLogger("ew.test").info("hello", extra={"password": "pw"})
        logging.getLogger("ew.test").debug("hidden")
    finally:
        root.handlers[:] = saved[1]
        root.setLevel(saved[0])
    (line,) = stream.getvalue().splitlines()
    assert "INFO" in line
    assert "ew.test: hello" in line
    assert "company_id=BE0403170701" in line
    assert f"password={REDACTED}" in line


def test_configure_replaces_its_own_handler_only() -> None:
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    other = logging.NullHandler()
    root.addHandler(other)
    try:
        first = configure_logging("INFO", "json", stream=io.StringIO())
        second = configure_logging("WARNING", "json", stream=io.StringIO())
        assert first not in root.handlers
        assert second in root.handlers
        assert other in root.handlers
        assert root.level == logging.WARNING
        assert isinstance(second.formatter, JsonFormatter)
    finally:
        root.handlers[:] = saved[1]
        root.setLevel(saved[0])


def test_configure_refuses_unknown_level_and_format() -> None:
    with pytest.raises(ValueError, match="level"):
        configure_logging("loud", "json")
    with pytest.raises(ValueError, match="format"):
        configure_logging("INFO", "xml")
