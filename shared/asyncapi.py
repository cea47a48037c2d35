"""The AsyncAPI 3.0 document of every topic, built from the payload models so that it cannot drift.

`document()` describes the servers (Kafka, the embedded bus), one channel per topic of `shared.topics` and
its dead-letter topic, which process sends and receives each, and the messages: the CloudEvents headers
of the binary mode, the key, and the payload schema taken from the model of `TOPIC_MODELS`.
`docs/asyncapi.yaml` is `to_yaml()`; `earlywarning asyncapi --output docs/asyncapi.yaml` writes it again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

import yaml
from pydantic import TypeAdapter
from pydantic.json_schema import models_json_schema

from shared import topics
from shared.bus import Message, Poison, dead_letter
from shared.bus.dlq import REPLAY_GROUP
from shared.bus.worker import DLQ_ERROR, DLQ_OFFSET, DLQ_PARTITION, DLQ_TOPIC, describe_error
from shared.cloudevents import (
    CONTENT_TYPE_HEADER,
    HEADER_PREFIX,
    JSON,
    SPECVERSION,
    CloudEvent,
    InvalidEnvelope,
    decode,
)
from shared.company_id import CompanyId
from shared.schemas import TOPIC_MODELS, BureauEventType, RegisterEventKind, SignalEventType, example_of
from shared.settings import Settings

__all__ = ["ASYNCAPI_VERSION", "EVENT_TYPES", "GROUP_IDS", "REGENERATE", "SOURCES", "document", "to_yaml"]

ASYNCAPI_VERSION = "3.0.0"
_KAFKA_BINDING = "0.5.0"
_COMPONENT_SCHEMAS = "#/components/schemas/"

REGENERATE = "earlywarning asyncapi --output docs/asyncapi.yaml"
"""The command that writes docs/asyncapi.yaml again."""

# Who publishes: the `ce_source` of the events each producer writes.
_INGEST = "/earlywarning/ingest"
_IMPORT = "/earlywarning/import"
_KBO_IMPORT = "/earlywarning/import/kbo"
_SIGNALS = "/earlywarning/signals"

SOURCES: dict[str, tuple[str, ...]] = {
    topics.PORTFOLIO: (_INGEST, _IMPORT),
    topics.OBSERVATIONS: (_INGEST,),
    topics.PUBLICATIONS: (_INGEST, _IMPORT),
    topics.BUREAU: (_INGEST, _IMPORT),
    topics.ORDERS: (_INGEST, _IMPORT),
    topics.CONTACTS: (_INGEST, _IMPORT),
    topics.REGISTER: (_KBO_IMPORT,),
    topics.SIGNALS: (_SIGNALS,),
}
"""The `ce_source` values of the events of each topic."""


@dataclass(frozen=True, slots=True)
class _Party:
    """A process that sends or receives: a service or a command."""

    title: str
    description: str
    group_id: str | None = None
    """Its consumer group, if it receives."""


_PARTIES: dict[str, _Party] = {
    "ingest": _Party(
        "Ingest",
        "The ingest service (`earlywarning serve ingest`, or `up`): the HTTP API, and the file importer "
        "`earlywarning import publications|bureau|orders|portfolio|contacts`. An item is accepted only once "
        "its event is durably on the topic.",
    ),
    "registerImport": _Party(
        "KBO/BCE import",
        "`earlywarning import kbo PATH`: compares register extracts and announces the changes of monitored "
        "companies.",
    ),
    "signals": _Party(
        "Signals",
        "The signals service (`earlywarning serve signals`, or `up`): correlates the intake topics per "
        "company and publishes every change of a signal from its outbox.",
        group_id="ew.signals",
    ),
    "notifier": _Party(
        "Notifier",
        "The notifier service (`earlywarning serve notifier`, or `up`): routes signal events to webhooks and "
        "email; reads the portfolio for the routing facts (segment, account manager).",
        group_id="ew.notifier",
    ),
    "dlqReplay": _Party(
        "Dead-letter replay",
        "`earlywarning dlq replay TOPIC`: publishes the dead letters not replayed yet back onto their topic, "
        "without the `ew_*` headers (`earlywarning dlq list TOPIC` only reads them).",
        group_id=REPLAY_GROUP,
    ),
}

GROUP_IDS: dict[str, str] = {name: p.group_id for name, p in _PARTIES.items() if p.group_id is not None}
"""The consumer group of each process that receives."""

_RECEIVERS: dict[str, tuple[str, ...]] = {
    "signals": topics.INTAKE_TOPICS,
    "notifier": (topics.SIGNALS, topics.PORTFOLIO),
}
"""The topics each service consumes; it also dead-letters them."""


@dataclass(frozen=True, slots=True)
class _Message:
    """One kind of event on a topic: a message of the document."""

    name: str
    title: str
    summary: str
    types: tuple[str, ...]
    """Its CloudEvent types (`ce_type`)."""
    example_id: str
    removal: bool = False
    """The example carries `deleted: true`."""


@dataclass(frozen=True, slots=True)
class _Topic:
    title: str
    description: str
    sender: str
    messages: tuple[_Message, ...]


_TOPICS: dict[str, _Topic] = {
    topics.PORTFOLIO: _Topic(
        "Portfolio",
        "The monitored companies (`PUT /v1/portfolio/{company_id}`, `earlywarning import portfolio`). "
        "Compacted: the latest entry of each company is kept; `DELETE` writes the entry with `deleted: true`.",
        "ingest",
        (
            _Message(
                "portfolioUpdated",
                "Portfolio entry updated",
                "A company is monitored, or its entry changed.",
                ("earlywarning.portfolio.updated",),
                "pf_5d0b9c1e7a2f4e3d8c6b1a09",
            ),
            _Message(
                "portfolioRemoved",
                "Portfolio entry removed",
                "Monitoring of the company stopped; the entry has `deleted: true`.",
                ("earlywarning.portfolio.removed",),
                "pf_8e2a4c6b0d1f3e5a7c9b2d40",
                removal=True,
            ),
        ),
    ),
    topics.OBSERVATIONS: _Topic(
        "Observations",
        "What sales people notice at a customer (`POST /v1/observations`, `POST /v1/observations:batch`).",
        "ingest",
        (
            _Message(
                "observation",
                "Sales observation",
                "A sales observation.",
                ("earlywarning.observation",),
                "obs_3f1c2b9a0d4e4c8b9a7f6e5d",
            ),
        ),
    ),
    topics.PUBLICATIONS: _Topic(
        "Publications",
        "Belgian Official Gazette publications (`POST /v1/publications`, `earlywarning import publications`); "
        "the same reference is one publication.",
        "ingest",
        (
            _Message(
                "publication",
                "Gazette publication",
                "A publication in the Belgian Official Gazette.",
                ("earlywarning.publication",),
                "pub_9a8b7c6d5e4f3a2b1c0d9e8f",
            ),
        ),
    ),
    topics.BUREAU: _Topic(
        "Credit-bureau events",
        "Credit-bureau events (`POST /v1/bureau/events`, signed webhooks, and `earlywarning import bureau`); "
        "the same bureau id is one event.",
        "ingest",
        (
            _Message(
                "bureauEvent",
                "Credit-bureau event",
                "A credit-bureau event; `ce_type` is `earlywarning.bureau.` followed by its `type`.",
                tuple(f"earlywarning.bureau.{kind.value}" for kind in BureauEventType),
                "bur_4b3a29180f7e6d5c4b3a2918",
            ),
        ),
    ),
    topics.ORDERS: _Topic(
        "Orders",
        "Customer orders (`POST /v1/orders`, `POST /v1/orders:batch`, `earlywarning import orders`); "
        "an order id is one order per company.",
        "ingest",
        (
            _Message(
                "order",
                "Order",
                "An order of a customer.",
                ("earlywarning.order",),
                "ord_7c6b5a4f3e2d1c0b9a8f7e6d",
            ),
        ),
    ),
    topics.CONTACTS: _Topic(
        "Contacts",
        "Contacts at customers and their role in the buying unit "
        "(`PUT|DELETE /v1/companies/{company_id}/contacts/{contact_id}`, `earlywarning import contacts`).",
        "ingest",
        (
            _Message(
                "contactUpdated",
                "Contact updated",
                "A contact was created or changed.",
                ("earlywarning.contact.updated",),
                "ct_2e1d0c9b8a7f6e5d4c3b2a19",
            ),
            _Message(
                "contactRemoved",
                "Contact removed",
                "A contact was removed; the record has `deleted: true`.",
                ("earlywarning.contact.removed",),
                "ct_6a5b4c3d2e1f0a9b8c7d6e5f",
                removal=True,
            ),
        ),
    ),
    topics.REGISTER: _Topic(
        "Register changes",
        "Changes in the public register (KBO/BCE Open Data) of monitored companies, found by comparing "
        "extracts (or at the first load); the id is the same on every re-import of an extract.",
        "registerImport",
        (
            _Message(
                "registerEvent",
                "Register change",
                "A register change; `ce_type` is `earlywarning.register.` followed by its `kind`.",
                tuple(f"earlywarning.register.{kind.value}" for kind in RegisterEventKind),
                "kbo-BE0403170701-147-juridical_situation",
            ),
        ),
    ),
    topics.SIGNALS: _Topic(
        "Signals",
        "Every change of a signal: raised, updated (new evidence, another severity) and resolved. Published "
        "from the signals service's outbox at least once, in the order of the changes per company; a "
        "republished event keeps its `ce_id`, so consumers deduplicate on it.",
        "signals",
        (
            _Message(
                "signalRaised",
                "Signal raised",
                "A signal was raised; the payload is the signal as it now is.",
                (SignalEventType.RAISED.value,),
                "sev_0f1e2d3c4b5a69788796a5b4",
            ),
            _Message(
                "signalUpdated",
                "Signal updated",
                "An open signal changed (new evidence, another severity); the payload is its new state.",
                (SignalEventType.UPDATED.value,),
                "sev_1a2b3c4d5e6f708192a3b4c5",
            ),
            _Message(
                "signalResolved",
                "Signal resolved",
                "A signal no longer holds, or a person resolved it; the payload has `status: resolved`.",
                (SignalEventType.RESOLVED.value,),
                "sev_c5b4a3928170f6e5d4c3b2a1",
            ),
        ),
    ),
}

EVENT_TYPES: dict[str, tuple[str, ...]] = {
    topic: tuple(t for message in spec.messages for t in message.types) for topic, spec in _TOPICS.items()
}
"""The CloudEvent types (`ce_type`) of the events of each topic."""

_EXAMPLE_TIME = datetime(2025, 10, 9, 6, 0, 5, tzinfo=UTC)

_DESCRIPTION = f"""\
The topics of Early Warning and what travels on them.

Every message is a CloudEvents {SPECVERSION} event in the Kafka binary mode: the value is the event data
(JSON, UTF-8), every attribute a header `{HEADER_PREFIX}<name>` (UTF-8), and `datacontenttype` the
`{CONTENT_TYPE_HEADER}` header. The key is the company id, so the events of one company stay in order.

Payload schemas are the JSON schemas of the payload models (`shared/schemas`), as the consumers
validate: unknown fields are refused, timestamps carry an offset, and money may come as a JSON number
or a numeric string (Early Warning writes a number).

A message a consumer cannot process (unreadable, invalid, or failing every attempt) goes to the
dead-letter topic `{topics.DLQ_PREFIX}<topic>` with the error in the `{DLQ_ERROR}` header.

Generated from the code; regenerate with `{REGENERATE}`."""


def document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of every topic, from the payload models of `TOPIC_MODELS`."""
    payloads, schemas = _schemas()
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in topics.ALL_TOPICS:
        spec = _TOPICS[topic]
        example = example_of(TOPIC_MODELS[topic])
        for message in spec.messages:
            payload_example = {**example, "deleted": True} if message.removal else example
            messages[message.name] = _message(topic, message, payloads[topic], payload_example)
        channels[topic] = _channel(topic, spec.title, spec.description, [m.name for m in spec.messages])
    for topic in topics.ALL_TOPICS:
        spec = _TOPICS[topic]
        name = _dead_letter_name(topic)
        example = example_of(TOPIC_MODELS[topic])
        messages[name] = _dead_letter_message(topic, spec.messages[0], payloads[topic], example)
        channels[topics.dlq_topic(topic)] = _channel(
            topics.dlq_topic(topic),
            f"Dead letters of {topic}",
            f"Messages of `{topic}` that could not be processed, with their key, value and headers "
            f"unchanged and why in `{DLQ_ERROR}`. `earlywarning dlq list {topic}` shows them, "
            f"`earlywarning dlq replay {topic}` publishes them again once the cause is fixed.",
            [name],
        )
    doc = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Early Warning topics",
            "version": version("earlywarning"),
            "description": _DESCRIPTION,
            "tags": [{"name": name, "description": party.description} for name, party in _PARTIES.items()],
        },
        "defaultContentType": JSON,
        "servers": _servers(),
        "channels": channels,
        "operations": _operations(channels),
        "components": {"schemas": schemas, "messages": messages},
    }
    # Plain JSON data, and no part shared between two places of the document.
    result: dict[str, Any] = json.loads(json.dumps(doc))
    return result


class _Dumper(yaml.SafeDumper):
    """Writes text of several lines as a literal block, so that the descriptions read as they are, and
    repeats equal parts instead of writing YAML anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _represent_str)


def to_yaml(doc: Mapping[str, Any] | None = None) -> str:
    """`doc` (by default `document()`) as YAML: the content of docs/asyncapi.yaml."""
    body = yaml.dump(
        dict(doc if doc is not None else document()),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    return f"# Generated from the payload models; regenerate with `{REGENERATE}`.\n{body}"


def _schemas() -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The payload schema (a `$ref`) of each topic, and every schema for `components/schemas`."""
    models = list(dict.fromkeys(TOPIC_MODELS[topic] for topic in topics.ALL_TOPICS))
    refs, top = models_json_schema(
        [(model, "validation") for model in models], ref_template=_COMPONENT_SCHEMAS + "{model}"
    )
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    payloads = {topic: dict(refs[(TOPIC_MODELS[topic], "validation")]) for topic in topics.ALL_TOPICS}
    return payloads, dict(sorted(schemas.items()))


def _servers() -> dict[str, Any]:
    return {
        "kafka": {
            "host": "{bootstrap}",
            "protocol": "kafka",
            "title": "Apache Kafka",
            "description": (
                "The distributed deployment, when `EW_KAFKA_BOOTSTRAP` is set. Producers publish with "
                "`acks=all` and idempotence, keyed by company id (Kafka's murmur2 default partitioner). The "
                "services create missing topics and their dead-letter topics at start-up with "
                f"`EW_BUS_PARTITIONS` partitions (default {_default('bus_partitions')}) and "
                f"`EW_BUS_REPLICATION` replicas (default {_default('bus_replication')}), "
                f"`{topics.PORTFOLIO}` compacted."
            ),
            "variables": {
                "bootstrap": {
                    "default": "127.0.0.1:9092",
                    "description": "The bootstrap servers, `EW_KAFKA_BOOTSTRAP` (`host:port,...`).",
                }
            },
        },
        "embedded": {
            "host": "{database}",
            "protocol": "earlywarning-embedded",
            "title": "Embedded bus",
            "description": (
                "The default when `EW_KAFKA_BOOTSTRAP` is unset. Not a broker and not a network protocol: a "
                "partitioned, durable log in tables of the Early Warning database (`EW_DATABASE_URL`, SQLite "
                "or PostgreSQL), read and written only by Early Warning processes that share that database. "
                "It has the same topics, keys, headers, values, partitioning (murmur2) and consumer groups "
                "as Kafka, so this document describes both."
            ),
            "variables": {
                "database": {
                    "default": _default("database_url"),
                    "description": "The database that holds the bus, `EW_DATABASE_URL`.",
                }
            },
        },
    }


def _default(setting: str) -> object:
    return Settings.model_fields[setting].default


def _channel(address: str, title: str, description: str, messages: list[str]) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "address": address,
        "title": title,
        "description": description,
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
    }
    if address in topics.COMPACTED_TOPICS:
        channel["bindings"] = {
            "kafka": {"topicConfiguration": {"cleanup.policy": ["compact"]}, "bindingVersion": _KAFKA_BINDING}
        }
    return channel


_REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type")
"""The attributes CloudEvents requires, and so the readers (`CloudEvent.from_message`)."""


def _ce_headers(topic: str, types: tuple[str, ...] | None) -> dict[str, Any]:
    """The headers of a CloudEvent in binary mode; `types` None: any type (a dead letter's)."""
    p = HEADER_PREFIX
    sources = " or ".join(f"`{s}`" for s in SOURCES[topic])
    type_schema: dict[str, Any] = {"type": "string", "description": "CloudEvent `type`."}
    if types is not None:
        type_schema["enum"] = list(types)
    return {
        p + "specversion": {"type": "string", "const": SPECVERSION, "description": "CloudEvents version."},
        p + "id": {
            "type": "string",
            "minLength": 1,
            "description": "CloudEvent `id`, unique per event; the same event published again keeps it, "
            "so consumers deduplicate on it.",
        },
        p + "source": {
            "type": "string",
            "minLength": 1,
            "description": f"CloudEvent `source`: who published it, {sources}.",
            "examples": list(SOURCES[topic]),
        },
        p + "type": type_schema,
        p + "time": {
            "type": "string",
            "format": "date-time",
            "description": "CloudEvent `time`, RFC 3339 in UTC (`2025-10-09T06:00:05Z`). Always written; "
            "a reader takes the message timestamp when it is absent.",
        },
        p + "subject": {
            "type": "string",
            "description": "CloudEvent `subject`: the company id, the same as the key. Always written.",
        },
        p + "traceparent": {
            "type": "string",
            "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
            "description": "CloudEvents distributed-tracing extension: the W3C `traceparent` of the span "
            "that caused the event (an HTTP request, the signals consumer's processing). Written when "
            "there is one; consumers continue the trace under it.",
        },
        p + "tracestate": {
            "type": "string",
            "description": "CloudEvents distributed-tracing extension: the W3C `tracestate`, when the "
            "trace has one.",
        },
        CONTENT_TYPE_HEADER: {
            "type": "string",
            "description": f"CloudEvent `datacontenttype`: always `{JSON}`. A reader accepts any JSON "
            "media type (`application/json`, `application/<x>+json`, with parameters) and assumes "
            "JSON when it is absent.",
            "examples": [JSON],
        },
    }


def _message(
    topic: str, message: _Message, payload: dict[str, Any], example: dict[str, Any]
) -> dict[str, Any]:
    properties = _ce_headers(topic, message.types)
    return {
        "name": message.name,
        "title": message.title,
        "summary": message.summary,
        "contentType": JSON,
        "headers": {
            "type": "object",
            "description": f"CloudEvents binary mode; other `{HEADER_PREFIX}` headers are extension "
            "attributes.",
            "required": [HEADER_PREFIX + name for name in _REQUIRED_ATTRIBUTES],
            "properties": properties,
        },
        "payload": payload,
        "bindings": _key_binding(),
        "examples": [
            {
                "name": message.name,
                "summary": message.title,
                "headers": _example_headers(topic, message, example),
                "payload": example,
            }
        ],
    }


def _dead_letter_name(topic: str) -> str:
    return f"deadLetter.{topic}"


def _dead_letter_message(
    topic: str, first: _Message, payload: dict[str, Any], example: dict[str, Any]
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        DLQ_ERROR: {
            "type": "string",
            "minLength": 1,
            "description": "Why the message was dead-lettered (`ExceptionType: message`, truncated).",
        },
        DLQ_TOPIC: {"type": "string", "const": topic, "description": "The topic the message was read from."},
        DLQ_PARTITION: {
            "type": "string",
            "pattern": "^[0-9]+$",
            "description": "Its partition there, in decimal.",
        },
        DLQ_OFFSET: {"type": "string", "pattern": "^[0-9]+$", "description": "Its offset there, in decimal."},
    }
    for name, schema in _ce_headers(topic, None).items():
        properties[name] = {**schema, "description": f"{schema['description']} Copied from the message."}
    return {
        "name": _dead_letter_name(topic),
        "title": f"Dead letter of {topic}",
        "summary": f"A message of {topic} that could not be processed.",
        "description": (
            f"The original key, value and headers, with the `ew_*` headers added. The value is normally a "
            f"payload of `{topic}`, but a message dead-lettered because it could not be read may match "
            "neither that schema nor the CloudEvents headers."
        ),
        "contentType": JSON,
        "headers": {
            "type": "object",
            "required": [DLQ_ERROR, DLQ_TOPIC, DLQ_PARTITION, DLQ_OFFSET],
            "properties": properties,
        },
        "payload": payload,
        "bindings": _key_binding(),
        "examples": [
            {
                "name": _dead_letter_name(topic),
                "summary": f"A message of {topic} without `{HEADER_PREFIX}id`, refused as poison",
                "headers": _dead_letter_headers(topic, first, example),
                "payload": example,
            }
        ],
    }


def _key_binding() -> dict[str, Any]:
    # Inline: the official schema of the binding refuses a `$ref` here (it matches two `oneOf` branches).
    return {"kafka": {"key": TypeAdapter(CompanyId).json_schema(), "bindingVersion": _KAFKA_BINDING}}


def _event(topic: str, message: _Message, example: dict[str, Any]) -> CloudEvent:
    """The CloudEvent of the example, built as the producers build theirs."""
    return CloudEvent(
        id=message.example_id,
        source=SOURCES[topic][0],
        type=message.types[0],
        data=json.dumps(example).encode(),
        subject=str(example["company_id"]),
        time=_EXAMPLE_TIME,
    )


def _example_headers(topic: str, message: _Message, example: dict[str, Any]) -> dict[str, str]:
    return {name: value.decode() for name, value in _event(topic, message, example).headers()}


def _dead_letter_headers(topic: str, message: _Message, example: dict[str, Any]) -> dict[str, str]:
    """The headers of a real dead letter: the example without `ce_id`, refused by the reader as poison."""
    event = _event(topic, message, example)
    headers = tuple(h for h in event.headers() if h[0] != HEADER_PREFIX + "id")
    original = Message(topic, 0, 42, event.subject, event.data, headers, _EXAMPLE_TIME)
    try:
        decode(original, TOPIC_MODELS[topic])
        error = ""
    except InvalidEnvelope as exc:
        error = describe_error(Poison(str(exc)))
    return {name: value.decode() for name, value in dead_letter(original, error).headers}


def _operations(channels: Mapping[str, Any]) -> dict[str, Any]:
    operations: dict[str, Any] = {}

    def add(party: str, action: str, topic: str, summary: str) -> None:
        info = _PARTIES[party]
        operation: dict[str, Any] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{topic}"},
            "title": f"{info.title} {'sends to' if action == 'send' else 'receives from'} {topic}",
            "summary": summary,
            "tags": [{"name": party}],
            "messages": [
                {"$ref": f"#/channels/{topic}/messages/{name}"} for name in channels[topic]["messages"]
            ],
        }
        if action == "receive" and info.group_id is not None:
            operation["bindings"] = {
                "kafka": {
                    "groupId": {"type": "string", "enum": [info.group_id]},
                    "bindingVersion": _KAFKA_BINDING,
                }
            }
        operations[f"{party}.{action}.{topic}"] = operation

    for topic in topics.ALL_TOPICS:
        spec = _TOPICS[topic]
        add(spec.sender, "send", topic, f"Publishes the events of {topic}.")
    for party, received in _RECEIVERS.items():
        for topic in received:
            add(party, "receive", topic, f"Consumes {topic} as consumer group {_PARTIES[party].group_id}.")
    for party, received in _RECEIVERS.items():
        for topic in received:
            add(
                party,
                "send",
                topics.dlq_topic(topic),
                f"Dead-letters the messages of {topic} it cannot process.",
            )
    for topic in topics.ALL_TOPICS:
        add(
            "dlqReplay",
            "receive",
            topics.dlq_topic(topic),
            f"Reads the dead letters of {topic} to replay them.",
        )
        add("dlqReplay", "send", topic, f"Publishes the dead letters of {topic} back onto it.")
    return operations
