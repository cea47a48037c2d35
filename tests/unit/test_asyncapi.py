"""docs/asyncapi.yaml is the AsyncAPI document of the code: every topic, its messages, and who sends them.

The document is generated from the payload models (`shared.asyncapi`); these tests fail when a model
changes without the document, when the document is not structurally sound, and when what the producers
really publish does not match it.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from pydantic import Field
from typer.testing import CliRunner

from services.cli import app
from services.ingest import import_cli, intake
from services.ingest.models import (
    BureauEventIn,
    ContactIn,
    ObservationIn,
    OrderIn,
    PortfolioIn,
    PublicationIn,
)
from services.ingest.rows import Kind, build_item
from services.notifier import consumer as notifier_consumer
from services.register import load as register_load
from services.signals import consumer as signals_consumer
from services.signals import outbox
from services.signals.rules import ChangeKind
from services.signals.store import OutboxEntry
from shared import asyncapi, schemas, topics
from shared.bus import Message, Record, dead_letter
from shared.bus.dlq import REPLAY_GROUP
from shared.cloudevents import HEADER_PREFIX, CloudEvent, InvalidEnvelope, new_event
from shared.schemas import (
    BUREAU_DATA_MODELS,
    TOPIC_MODELS,
    BureauEvent,
    BureauEventType,
    ContactDetails,
    Order,
    Publication,
    RegisterEvent,
    RegisterEventKind,
    Signal,
    example_of,
)

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
OUT_OF_DATE = (
    "docs/asyncapi.yaml does not match the payload models and topics of the code; "
    f"regenerate it with `{asyncapi.REGENERATE}` and commit it"
)
NOW = datetime(2025, 10, 12, 8, 30, tzinfo=UTC)

runner = CliRunner()


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return asyncapi.document()


# --- helpers -------------------------------------------------------------------------------------------


def resolve(document: dict[str, Any], ref: str) -> Any:
    """The part of `document` a local `$ref` (`#/a/b`) points at; KeyError when there is none."""
    assert ref.startswith("#/"), f"{ref} is not a reference inside the document"
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def refs(node: Any, path: str = "#") -> Iterator[tuple[str, str]]:
    """(where, target) of every `$ref` below `node`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield path, value
            else:
                yield from refs(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from refs(value, f"{path}/{index}")


def validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema_rs.Draft7Validator:
    """A validator of `schema` (an AsyncAPI Schema Object: JSON Schema draft 07) whose `$ref`s resolve
    inside `document`."""
    return jsonschema_rs.Draft7Validator(
        {"components": document["components"], "allOf": [schema]}, validate_formats=True
    )


def errors(document: dict[str, Any], schema: dict[str, Any], instance: Any) -> list[str]:
    return [
        f"{list(e.instance_path)}: {e.message}" for e in validator(document, schema).iter_errors(instance)
    ]


def message_of(document: dict[str, Any], ref: str) -> dict[str, Any]:
    """A channel's message, through its reference to `components/messages`."""
    found: dict[str, Any] = resolve(document, ref)
    if "$ref" in found:
        found = resolve(document, found["$ref"])
    return found


def channel_messages(document: dict[str, Any], address: str) -> dict[str, dict[str, Any]]:
    channel = document["channels"][address]
    return {
        name: message_of(document, f"#/channels/{address}/messages/{name}") for name in channel["messages"]
    }


def headers_of(record: Record | Message) -> dict[str, str]:
    return {name: value.decode() for name, value in record.headers}


# --- (a) the committed document is the generated one ----------------------------------------------------


def test_committed_document_equals_the_generated_one(doc: dict[str, Any]) -> None:
    assert COMMITTED.is_file(), OUT_OF_DATE
    assert yaml.safe_load(COMMITTED.read_text(encoding="utf-8")) == doc, OUT_OF_DATE


def test_committed_document_is_written_as_the_command_writes_it(doc: dict[str, Any]) -> None:
    committed = COMMITTED.read_text(encoding="utf-8")
    generated = asyncapi.to_yaml(doc)
    if committed != generated:
        diff = difflib.unified_diff(
            committed.splitlines(), generated.splitlines(), "docs/asyncapi.yaml", "generated", lineterm=""
        )
        pytest.fail(OUT_OF_DATE + "\n" + "\n".join(list(diff)[:60]))
    assert yaml.safe_load(generated) == doc  # the YAML says exactly what the document says


# --- (b) structure -----------------------------------------------------------------------------------------


def test_document_header(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["version"] == version("earlywarning")
    assert doc["info"]["title"]
    assert doc["info"]["description"]
    assert set(doc["servers"]) == {"kafka", "embedded"}
    assert doc["servers"]["kafka"]["protocol"] == "kafka"
    assert doc["defaultContentType"] == "application/json"


def test_every_topic_and_its_dead_letter_topic_is_a_channel(doc: dict[str, Any]) -> None:
    expected = topics.with_dlqs(list(topics.ALL_TOPICS))
    assert sorted(doc["channels"]) == sorted(expected)
    for address in expected:
        channel = doc["channels"][address]
        assert channel["address"] == address
        assert channel["messages"], f"{address} has no message"
        assert channel["description"]
    compacted = {
        address
        for address, channel in doc["channels"].items()
        if "compact"
        in channel.get("bindings", {})
        .get("kafka", {})
        .get("topicConfiguration", {})
        .get("cleanup.policy", [])
    }
    assert compacted == set(topics.COMPACTED_TOPICS)


def test_every_reference_resolves_inside_the_document(doc: dict[str, Any]) -> None:
    found = list(refs(doc))
    assert len(found) > 50
    for where, target in found:
        try:
            resolve(doc, target)
        except KeyError:
            pytest.fail(f"{where}: $ref {target} does not resolve")
    assert "$defs" not in json.dumps(doc), "pydantic's $defs must all move to components/schemas"
    for message in doc["components"]["messages"].values():
        assert message["payload"]["$ref"].startswith("#/components/schemas/")


def test_every_component_schema_is_used(doc: dict[str, Any]) -> None:
    used = {target for _, target in refs(doc)}
    unused = {name for name in doc["components"]["schemas"] if f"#/components/schemas/{name}" not in used}
    assert not unused


def test_operations_use_existing_channels_and_their_messages(doc: dict[str, Any]) -> None:
    actions: dict[str, set[str]] = {address: set() for address in doc["channels"]}
    for name, operation in doc["operations"].items():
        assert operation["action"] in ("send", "receive"), name
        channel_ref = operation["channel"]["$ref"]
        assert channel_ref.startswith("#/channels/"), name
        address = channel_ref.removeprefix("#/channels/")
        assert address in doc["channels"], f"{name}: no channel {address}"
        assert operation["messages"], f"{name} lists no message"
        for message in operation["messages"]:
            ref = message["$ref"]
            assert ref.startswith(f"{channel_ref}/messages/"), f"{name}: {ref} is not a message of {address}"
            assert ref.rsplit("/", 1)[1] in doc["channels"][address]["messages"], f"{name}: {ref}"
            assert message_of(doc, ref)["payload"]
        actions[address].add(operation["action"])
    assert all(found == {"send", "receive"} for found in actions.values()), actions


def test_who_sends_and_receives_each_topic(doc: dict[str, Any]) -> None:
    parties: dict[tuple[str, str], set[str]] = {}
    groups: dict[str, set[str]] = {}
    for operation in doc["operations"].values():
        party = operation["tags"][0]["name"]
        address = operation["channel"]["$ref"].removeprefix("#/channels/")
        parties.setdefault((party, operation["action"]), set()).add(address)
        if "bindings" in operation:
            groups.setdefault(party, set()).update(operation["bindings"]["kafka"]["groupId"]["enum"])

    register = {topics.REGISTER}
    assert parties[("ingest", "send")] == set(topics.INTAKE_TOPICS) - register
    assert parties[("registerImport", "send")] == register
    assert parties[("signals", "receive")] == set(signals_consumer.TOPICS)
    assert parties[("signals", "send")] == {topics.SIGNALS} | {
        topics.dlq_topic(t) for t in signals_consumer.TOPICS
    }
    assert parties[("notifier", "receive")] == set(notifier_consumer.TOPICS)
    assert parties[("notifier", "send")] == {topics.dlq_topic(t) for t in notifier_consumer.TOPICS}
    assert parties[("dlqReplay", "receive")] == {topics.dlq_topic(t) for t in topics.ALL_TOPICS}
    assert parties[("dlqReplay", "send")] == set(topics.ALL_TOPICS)
    assert len(parties) == 8
    assert groups == {
        "signals": {signals_consumer.GROUP_ID},
        "notifier": {notifier_consumer.GROUP_ID},
        "dlqReplay": {REPLAY_GROUP},
    }
    assert {party: group for party, (group,) in groups.items()} == asyncapi.GROUP_IDS


# --- (c) the schemas accept real payloads and headers -----------------------------------------------------


@pytest.mark.parametrize("topic", topics.ALL_TOPICS)
def test_payload_schema_accepts_a_payload_of_the_model(doc: dict[str, Any], topic: str) -> None:
    model = TOPIC_MODELS[topic]
    instance = model.model_validate(example_of(model)).model_dump(mode="json")
    for address in (topic, topics.dlq_topic(topic)):
        for name, message in channel_messages(doc, address).items():
            assert errors(doc, message["payload"], instance) == [], f"{address} {name}"
            # The schema really applies: a field the model refuses is refused.
            assert errors(doc, message["payload"], {**instance, "unexpected": 1}), f"{address} {name}"


@pytest.mark.parametrize("kind", BureauEventType)
def test_bureau_payload_schema_accepts_every_event_type(doc: dict[str, Any], kind: BureauEventType) -> None:
    event = BureauEvent.model_validate(_bureau_example(kind))
    (message,) = channel_messages(doc, topics.BUREAU).values()
    assert errors(doc, message["payload"], event.model_dump(mode="json")) == []


def test_message_examples_match_their_schemas(doc: dict[str, Any]) -> None:
    for name, message in doc["components"]["messages"].items():
        assert message["examples"], name
        for example in message["examples"]:
            assert errors(doc, message["headers"], example["headers"]) == [], name
            assert errors(doc, message["payload"], example["payload"]) == [], name


def _intake_records() -> list[Record]:
    """What the ingest service publishes, built by its own functions: the HTTP API's items and the file
    importer's (`earlywarning import`), each with its `ce_source`."""
    company, contact = "BE0403170701", "crm-000123"
    api = [
        intake.observation_item(
            ObservationIn.model_validate(example_of(ObservationIn)), idempotency=None, now=NOW
        ),
        intake.publication_item(PublicationIn.model_validate(example_of(Publication))),
        *(
            intake.bureau_item(BureauEventIn.model_validate(_bureau_example(kind)))
            for kind in BureauEventType
        ),
        intake.order_item(OrderIn.model_validate(example_of(Order))),
        intake.portfolio_item(company, PortfolioIn.model_validate(example_of(PortfolioIn))),
        intake.portfolio_item(company, None),
        intake.contact_item(company, contact, ContactIn.model_validate(example_of(ContactDetails))),
        intake.contact_item(company, contact, None, now=NOW),
    ]
    rows: dict[Kind, list[dict[str, Any]]] = {
        Kind.publications: [example_of(Publication)],
        Kind.bureau: [_bureau_example(kind) for kind in BureauEventType],
        Kind.orders: [example_of(Order)],
        Kind.portfolio: [{"company_id": company, **example_of(PortfolioIn)}],
        Kind.contacts: [{"company_id": company, "contact_id": contact, **example_of(ContactDetails)}],
    }
    assert set(rows) == set(Kind)
    imported = [build_item(kind, data) for kind, found in rows.items() for data in found]
    return [
        new_event(
            item.event_type, source, item.company_id, item.payload, id=item.event_id, time=NOW
        ).to_record(item.topic, item.company_id)
        for source, items in ((intake.SOURCE, api), (import_cli.SOURCE, imported))
        for item in items
    ]


def _bureau_example(kind: BureauEventType) -> dict[str, Any]:
    return {**example_of(BureauEvent), "type": kind.value, "data": example_of(BUREAU_DATA_MODELS[kind])}


def _register_records() -> list[Record]:
    """What `earlywarning import kbo` publishes."""
    return [
        register_load._record(RegisterEvent.model_validate({**example_of(RegisterEvent), "kind": kind.value}))
        for kind in RegisterEventKind
    ]


def _signal_records() -> list[Record]:
    """What the signals service's outbox publishes."""
    payload = Signal.model_validate(example_of(Signal)).model_dump_json()
    return [
        outbox.to_record(
            OutboxEntry(
                event_id=outbox.event_id("sig_1", 1, kind),
                company_id="BE0403170701",
                type=outbox.EVENT_TYPES[kind].value,
                payload=payload,
                created_at=NOW,
            )
        )
        for kind in ChangeKind
    ]


def _produced() -> list[Record]:
    return [*_intake_records(), *_register_records(), *_signal_records()]


def test_what_the_producers_publish_matches_the_document(doc: dict[str, Any]) -> None:
    """Each real record matches exactly one message of its channel: headers, key and payload."""
    types: dict[str, set[str]] = {}
    for record in _produced():
        headers = headers_of(record)
        matching = [
            name
            for name, message in channel_messages(doc, record.topic).items()
            if not errors(doc, message["headers"], headers)
        ]
        assert len(matching) == 1, f"{record.topic} {headers}: matches {matching}"
        message = channel_messages(doc, record.topic)[matching[0]]
        assert errors(doc, message["payload"], json.loads(record.value)) == [], headers
        assert errors(doc, message["bindings"]["kafka"]["key"], record.key) == [], record.key
        assert record.key == headers[HEADER_PREFIX + "subject"]
        assert set(message["headers"]["properties"]) >= set(headers)
        assert headers[HEADER_PREFIX + "source"] in asyncapi.SOURCES[record.topic]
        types.setdefault(record.topic, set()).add(headers[HEADER_PREFIX + "type"])
    # Every type the document names is one a producer really publishes, and the other way round.
    assert types == {topic: set(found) for topic, found in asyncapi.EVENT_TYPES.items()}


def test_dead_letters_match_the_document(doc: dict[str, Any]) -> None:
    for record in _produced():
        message = Message(record.topic, 3, 1234, record.key, record.value, record.headers, NOW)
        letter = dead_letter(message, "Poison: data is not valid")
        (schema,) = channel_messages(doc, letter.topic).values()
        assert errors(doc, schema["headers"], headers_of(letter)) == [], letter.topic
        assert errors(doc, schema["payload"], json.loads(letter.value)) == [], letter.topic


def test_required_headers_are_the_ones_readers_require(doc: dict[str, Any]) -> None:
    record = _signal_records()[0]
    message = doc["components"]["messages"]["signalRaised"]
    required = set(message["headers"]["required"])
    assert required == {HEADER_PREFIX + name for name in ("specversion", "id", "source", "type")}
    for name, _ in record.headers:
        without = tuple(h for h in record.headers if h[0] != name)
        incoming = Message(record.topic, 0, 0, record.key, record.value, without, NOW)
        if name in required:
            with pytest.raises(InvalidEnvelope):
                CloudEvent.from_message(incoming)
        else:
            CloudEvent.from_message(incoming)


# --- (d) a model change changes the document ---------------------------------------------------------------


def test_a_changed_payload_model_changes_the_document(monkeypatch: pytest.MonkeyPatch) -> None:
    class Order(schemas.Order):
        channel: str | None = Field(None, description="Where the order came in.")

    before = asyncapi.document()
    monkeypatch.setitem(TOPIC_MODELS, topics.ORDERS, Order)
    after = asyncapi.document()
    assert after != before
    assert "channel" in after["components"]["schemas"]["Order"]["properties"]
    assert "channel" not in before["components"]["schemas"]["Order"]["properties"]
    assert asyncapi.to_yaml(after) != COMMITTED.read_text(encoding="utf-8")


def test_a_new_topic_must_be_described(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(topics, "ALL_TOPICS", (*topics.ALL_TOPICS, "ew.invoices"))
    with pytest.raises(KeyError, match=r"ew\.invoices"):
        asyncapi.document()


# --- the command -------------------------------------------------------------------------------------------


def test_command_prints_the_document() -> None:
    result = runner.invoke(app, ["asyncapi"])
    assert result.exit_code == 0, result.output
    assert result.output == asyncapi.to_yaml()


def test_command_writes_the_document(tmp_path: Path) -> None:
    target = tmp_path / "asyncapi.yaml"
    result = runner.invoke(app, ["asyncapi", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == asyncapi.to_yaml()


def test_command_help() -> None:
    result = runner.invoke(app, ["asyncapi", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "AsyncAPI 3.0" in text
    assert "--output" in text
    assert "docs/asyncapi.yaml" in text
