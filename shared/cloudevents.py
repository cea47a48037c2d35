"""CloudEvents 1.0 envelopes in the Kafka binary mode: the data is the message value, attributes are headers.

Every attribute travels as a header `ce_<name>` with a UTF-8 value, except `datacontenttype`, which is the
`content-type` header; `time` is RFC 3339 in UTC (`2025-10-12T08:30:00.123456Z`). The Kafka key is the
company id. A message whose envelope or payload cannot be read is poison: `InvalidEnvelope` says why, and
the consumer dead-letters it instead of retrying.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from opentelemetry.context import Context
from pydantic import BaseModel, ValidationError

from shared.bus._base import Header, Message, Record
from shared.tracing import TRACE_FIELDS, context_of, trace_fields

__all__ = [
    "CONTENT_TYPE_HEADER",
    "HEADER_PREFIX",
    "JSON",
    "SPECVERSION",
    "CloudEvent",
    "InvalidEnvelope",
    "decode",
    "format_time",
    "new_event",
]

SPECVERSION = "1.0"
JSON = "application/json"
HEADER_PREFIX = "ce_"
CONTENT_TYPE_HEADER = "content-type"

_REQUIRED = ("id", "source", "specversion", "type")
# Attributes with a field of their own; any other `ce_` header is an extension.
_CORE = frozenset({*_REQUIRED, "time", "subject", "datacontenttype"})
# CloudEvents attribute names: lowercase letters and digits (the spec recommends at most 20 characters).
_ATTRIBUTE_NAME = re.compile(r"^[a-z0-9]{1,20}$")

M = TypeVar("M", bound=BaseModel)


class InvalidEnvelope(ValueError):
    """A message is not a readable CloudEvent, or its data does not match the topic's model."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def format_time(value: datetime) -> str:
    """`value` as RFC 3339 in UTC with a `Z`."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class CloudEvent:
    """A CloudEvents 1.0 event whose `data` is already serialised (JSON bytes for every topic here)."""

    id: str
    source: str
    type: str
    data: bytes
    subject: str | None = None
    time: datetime = field(default_factory=_utc_now)
    datacontenttype: str = JSON
    specversion: str = SPECVERSION
    extensions: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("id", "source", "type", "specversion"):
            if not getattr(self, name):
                raise InvalidEnvelope(f"attribute {name} must not be empty")
        if self.time.tzinfo is None or self.time.utcoffset() is None:
            raise InvalidEnvelope("attribute time must carry a time zone")
        for name in self.extensions:
            if not _ATTRIBUTE_NAME.fullmatch(name) or name in _CORE:
                raise InvalidEnvelope(f"{name!r} is not a valid extension attribute name")
        # Normalised once so that equal events compare equal, whatever zone they were built in.
        object.__setattr__(self, "time", self.time.astimezone(UTC))
        object.__setattr__(self, "extensions", dict(self.extensions))

    def headers(self) -> tuple[Header, ...]:
        """The Kafka headers of the binary mode."""
        attributes: dict[str, str] = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": format_time(self.time),
        }
        if self.subject is not None:
            attributes["subject"] = self.subject
        attributes.update(self.extensions)
        headers = [(HEADER_PREFIX + name, value.encode()) for name, value in attributes.items()]
        headers.append((CONTENT_TYPE_HEADER, self.datacontenttype.encode()))
        return tuple(headers)

    def to_record(self, topic: str, key: str | None = None) -> Record:
        """The record to publish on `topic`; `key` (the company id) defaults to the subject."""
        key = key if key is not None else self.subject
        if not key:
            raise ValueError("a record needs a key (the company id) and the event has no subject")
        return Record(topic=topic, key=key, value=self.data, headers=self.headers())

    @classmethod
    def from_message(cls, message: Message) -> CloudEvent:
        """The event carried by `message`, or `InvalidEnvelope` when a required attribute is missing or wrong."""
        attributes: dict[str, str] = {}
        content_type: str | None = None
        for name, raw in message.headers:  # in order, so the last of repeated headers wins
            lowered = name.lower()
            if lowered == CONTENT_TYPE_HEADER:
                content_type = _text(name, raw)
            elif lowered.startswith(HEADER_PREFIX):
                attributes[lowered.removeprefix(HEADER_PREFIX)] = _text(name, raw)
        missing = [name for name in _REQUIRED if not attributes.get(name)]
        if missing:
            raise InvalidEnvelope(
                f"missing CloudEvents header(s): {', '.join(HEADER_PREFIX + n for n in missing)}"
            )
        if attributes["specversion"] != SPECVERSION:
            raise InvalidEnvelope(f"unsupported CloudEvents specversion {attributes['specversion']!r}")
        raw_time = attributes.get("time")
        time = _parse_time(raw_time) if raw_time else message.timestamp
        extensions = {name: value for name, value in attributes.items() if name not in _CORE}
        return cls(
            id=attributes["id"],
            source=attributes["source"],
            type=attributes["type"],
            data=message.value,
            subject=attributes.get("subject"),
            time=time,
            datacontenttype=content_type or JSON,
            specversion=attributes["specversion"],
            extensions=extensions,
        )


def _text(name: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEnvelope(f"header {name} is not UTF-8") from exc


def _parse_time(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidEnvelope(f"header ce_time is not an RFC 3339 timestamp: {raw!r}") from exc
    if value.tzinfo is None:
        raise InvalidEnvelope(f"header ce_time has no time zone: {raw!r}")
    return value


def new_event(
    type: str,
    source: str,
    subject: str | None,
    payload: BaseModel,
    id: str | None = None,
    time: datetime | None = None,
    extensions: Mapping[str, str] | None = None,
) -> CloudEvent:
    """An event carrying `payload` as JSON (aliases used); a random id and the current time by default.

    Made inside a span (an HTTP request), it carries the trace as the distributed-tracing extension."""
    return CloudEvent(
        id=id if id is not None else str(uuid.uuid4()),
        source=source,
        type=type,
        data=payload.model_dump_json(by_alias=True).encode(),
        subject=subject,
        time=time if time is not None else _utc_now(),
        extensions={**trace_fields(), **(extensions or {})},
    )


def decode(message: Message, model_type: type[M]) -> tuple[CloudEvent, M]:
    """The event of `message` and its data validated as `model_type`; `InvalidEnvelope` if either is bad."""
    event = CloudEvent.from_message(message)
    media_type = event.datacontenttype.split(";", 1)[0].strip().lower()
    if media_type != JSON and not media_type.endswith("+json"):
        raise InvalidEnvelope(f"data of type {event.datacontenttype!r} is not JSON")
    try:
        payload = model_type.model_validate_json(event.data)
    except ValidationError as exc:
        raise InvalidEnvelope(_describe(exc, model_type)) from exc
    return event, payload


def _describe(exc: ValidationError, model_type: type[BaseModel]) -> str:
    """A one-line account of what is wrong, for the dead-letter header and the log."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]) or "data"
        problems.append(f"{where}: {error['msg']}")
    return f"data is not a valid {model_type.__name__}: " + "; ".join(problems)


def trace_context(message: Message) -> Context | None:
    """The trace a message carries (the distributed-tracing extension), to continue it; None without."""
    fields = {}
    for name in TRACE_FIELDS:
        raw = message.header(HEADER_PREFIX + name)
        if raw:
            fields[name] = raw.decode("latin-1")
    return context_of(fields)
