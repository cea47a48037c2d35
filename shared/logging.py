"""Structured logging on the standard `logging` module: one JSON object a line, or readable text.

Fields come from four places, later ones winning: the `trace_id` and `span_id` of the current span (see
`shared.tracing`), the fields bound to the current task with `bind()`, the `extra` of the call, and the fixed
`ts`, `level`, `logger`, `msg` (an extra with one of these names is
written with a trailing underscore). Secrets never reach the output: values of fields whose name is
sensitive are replaced, and bearer tokens, `whsec_` secrets and passwords in URLs are masked everywhere.

    log = logging.getLogger(__name__)
    with bind(company_id="BE0403170701", event_id=event.id):
        log.info("signal raised", extra={"signal": "score_drop"})
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, time
from enum import Enum
from types import MappingProxyType
from typing import Any, TextIO
from uuid import UUID

import orjson

from shared.tracing import current_ids

__all__ = [
    "REDACTED",
    "SENSITIVE_NAMES",
    "SENSITIVE_PARTS",
    "JsonFormatter",
    "TextFormatter",
    "bind",
    "bound_fields",
    "configure_logging",
    "is_sensitive",
    "redact",
    "scrub",
]

REDACTED = "[redacted]"

SENSITIVE_NAMES: frozenset[str] = frozenset(
    {"key", "admin_key", "private_key", "signing_key", "auth", "authorization", "cookie", "set_cookie", "dsn"}
)
"""Field names whose value is always redacted (compared in lower case, `-` read as `_`)."""

SENSITIVE_PARTS: tuple[str, ...] = (
    "secret",
    "password",
    "passwd",
    "authorization",
    "token",
    "api_key",
    "apikey",
    "credential",
)
"""A field whose name contains one of these is redacted too (`bureau_secret`, `access_token`...)."""

# Secrets recognised by their shape, wherever they appear in text.
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"whsec_[A-Za-z0-9+/=_-]+"), "whsec_" + REDACTED),
    # An API key as `shared.auth.new_key` makes it (`ew_` and 43 URL-safe characters), wherever it appears;
    # metric names share the prefix but are lower case and shorter, so one capital or digit is required.
    (re.compile(r"\bew_(?=[A-Za-z0-9_-]{0,42}[A-Z0-9])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"), "ew_" + REDACTED),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@"), r"\1" + REDACTED + "@"),
)

# Values written as they are; everything else is turned into (scrubbed) text.
_PLAIN = (bool, int, float, datetime, date, time, UUID, Enum)
_FIXED = ("ts", "level", "logger", "msg")
# Attributes every LogRecord has; whatever else is on a record came from `extra`.
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "color_message",  # uvicorn's copy of msg with terminal colours
    "message",
    "asctime",
    "taskName",
}
_HANDLER_MARK = "_earlywarning_handler"

_bound: ContextVar[Mapping[str, Any]] = ContextVar("earlywarning_log_fields", default=MappingProxyType({}))


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add `fields` to every log line of the current task inside the block; a None value removes a field.

    Built on `contextvars`, so a field bound in one asyncio task is not seen by the others.
    """
    merged = {**_bound.get(), **fields}
    token = _bound.set({name: value for name, value in merged.items() if value is not None})
    try:
        yield
    finally:
        _bound.reset(token)


def bound_fields() -> dict[str, Any]:
    """The fields bound to the current task."""
    return dict(_bound.get())


def is_sensitive(name: str) -> bool:
    """Whether a field called `name` holds a secret."""
    lowered = name.lower().replace("-", "_")
    return lowered in SENSITIVE_NAMES or any(part in lowered for part in SENSITIVE_PARTS)


def scrub(text: str) -> str:
    """`text` with bearer tokens, webhook secrets and URL passwords masked."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any) -> Any:
    """`value` with secrets removed: sensitive keys of mappings at any depth, secret-shaped text."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {
            key: REDACTED if isinstance(key, str) and is_sensitive(key) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item) for item in value]
    if value is None or isinstance(value, _PLAIN):
        return value
    # Anything else is written as its text, and that text is scrubbed like any other.
    return scrub(str(value))


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    extras = {name: value for name, value in record.__dict__.items() if name not in _RECORD_ATTRIBUTES}
    fields: dict[str, Any] = {}
    ids = current_ids()
    traced = {"trace_id": ids[0], "span_id": ids[1]} if ids else {}
    for name, value in {**traced, **_bound.get(), **extras}.items():
        fields[f"{name}_" if name in _FIXED else name] = value
    redacted: dict[str, Any] = redact(fields)
    return redacted


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: `ts` (UTC), `level`, `logger`, `msg`, the bound and extra fields, `exc`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        entry.update(_fields(record))
        if record.exc_info:
            entry["exc"] = scrub(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = scrub(self.formatStack(record.stack_info))
        try:
            return orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        except (TypeError, orjson.JSONEncodeError):
            # A field that cannot be serialised must not lose the line: fall back to its text.
            fallback = {
                name: value if isinstance(value, str) else repr(value) for name, value in entry.items()
            }
            return orjson.dumps(fallback).decode()


class TextFormatter(logging.Formatter):
    """`ts LEVEL logger: msg name=value ...`, for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname:<7} {record.name}: {scrub(record.getMessage())}"
        fields = _fields(record)
        if fields:
            line += " " + " ".join(f"{name}={value}" for name, value in fields.items())
        if record.exc_info:
            line += "\n" + scrub(self.formatException(record.exc_info))
        if record.stack_info:
            line += "\n" + scrub(self.formatStack(record.stack_info))
        return line


def configure_logging(
    level: str = "INFO", fmt: str = "json", *, stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record at `level` or above to `stream` (stderr) as `json` or `text` lines.

    Calling it again replaces the handler it installed before; handlers installed by others are left alone.
    """
    numeric = logging.getLevelName(level.strip().upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    formatters: dict[str, type[logging.Formatter]] = {"json": JsonFormatter, "text": TextFormatter}
    if fmt not in formatters:
        raise ValueError(f"log format must be 'json' or 'text', not {fmt!r}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatters[fmt]())
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for previous in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(previous)
        previous.close()
    root.addHandler(handler)
    root.setLevel(numeric)
    logging.captureWarnings(True)
    return handler
