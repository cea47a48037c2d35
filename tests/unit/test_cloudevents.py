"""CloudEvents 1.0 in the Kafka binary mode: headers, round trip and poison messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.bus._base import Message, Record
from shared.cloudevents import CloudEvent, InvalidEnvelope, decode, new_event
from shared.schemas import Observation, ObservationKind, Order, example_of

WHEN = datetime(2025, 10, 12, 8, 30, 0, 123456, tzinfo=UTC)


def observation() -> Observation:
    return Observation.model_validate(example_of(Observation))


def as_message(record: Record, *, offset: int = 7) -> Message:
    return Message(
        topic=record.topic,
        partition=0,
        offset=offset,
        key=record.key,
        value=record.value,
        headers=record.headers,
        timestamp=datetime(2025, 10, 12, 9, 0, tzinfo=UTC),
    )


def event() -> CloudEvent:
    return new_event(
        "earlywarning.observation.received",
        "/earlywarning/ingest",
        "BE0403170701",
        observation(),
        id="evt-1",
        time=WHEN,
    )


def test_record_headers_are_the_binary_mode_attributes() -> None:
    record = event().to_record("ew.observations", "BE0403170701")
    headers = dict(record.headers)
    assert set(headers) == {
        "ce_id",
        "ce_source",
        "ce_specversion",
        "ce_type",
        "ce_time",
        "ce_subject",
        "content-type",
    }
    assert headers["ce_id"] == b"evt-1"
    assert headers["ce_source"] == b"/earlywarning/ingest"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"earlywarning.observation.received"
    assert headers["ce_time"] == b"2025-10-12T08:30:00.123456Z"
    assert headers["ce_subject"] == b"BE0403170701"
    assert headers["content-type"] == b"application/json"
    assert all(isinstance(name, str) and isinstance(value, bytes) for name, value in record.headers)
    assert (record.topic, record.key) == ("ew.observations", "BE0403170701")


def test_record_value_is_the_payload_json() -> None:
    record = event().to_record("ew.observations", "BE0403170701")
    assert json.loads(record.value) == json.loads(observation().model_dump_json())


def test_key_defaults_to_the_subject() -> None:
    assert event().to_record("ew.observations").key == "BE0403170701"
    subjectless = CloudEvent(id="1", source="/s", type="t", data=b"{}")
    with pytest.raises(ValueError, match="key"):
        subjectless.to_record("ew.observations")


def test_time_is_written_in_utc_with_z() -> None:
    brussels = timezone(timedelta(hours=2))
    built = CloudEvent(
        id="1", source="/s", type="t", data=b"{}", time=datetime(2025, 10, 12, 10, 30, tzinfo=brussels)
    )
    assert dict(built.headers())["ce_time"] == b"2025-10-12T08:30:00Z"
    assert built.time.utcoffset() == timedelta(0)


def test_round_trip_through_a_record_and_a_message() -> None:
    sent = new_event(
        "earlywarning.observation.received",
        "/earlywarning/ingest",
        "BE0403170701",
        observation(),
        time=WHEN,
        extensions={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
    )
    received, payload = decode(as_message(sent.to_record("ew.observations", "BE0403170701")), Observation)
    assert received == sent
    assert payload == observation()
    assert payload.kind is ObservationKind.LATE_PAYMENT_SUPPLIERS
    assert received.extensions == {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}


def test_new_event_gives_fresh_ids_and_the_current_time() -> None:
    first = new_event("t", "/s", "BE0403170701", observation())
    second = new_event("t", "/s", "BE0403170701", observation())
    assert first.id != second.id
    assert abs(first.time - datetime.now(UTC)) < timedelta(seconds=5)
    assert (first.specversion, first.datacontenttype) == ("1.0", "application/json")


def test_new_event_writes_aliases() -> None:
    from shared.schemas import BureauEvent

    bureau = BureauEvent.model_validate(example_of(BureauEvent))
    data = json.loads(new_event("t", "/s", bureau.company_id, bureau).data)
    assert data["data"] == {"from": 72, "to": 45}


@pytest.mark.parametrize("missing", ["ce_id", "ce_source", "ce_specversion", "ce_type"])
def test_missing_required_header_is_an_invalid_envelope(missing: str) -> None:
    record = event().to_record("ew.observations", "BE0403170701")
    headers = tuple((name, value) for name, value in record.headers if name != missing)
    message = as_message(Record(record.topic, record.key, record.value, headers))
    with pytest.raises(InvalidEnvelope, match=missing):
        CloudEvent.from_message(message)


def test_invalid_envelope_is_a_value_error() -> None:
    assert issubclass(InvalidEnvelope, ValueError)


def test_other_specversion_is_refused() -> None:
    record = event().to_record("ew.observations", "BE0403170701")
    headers = (*record.headers, ("ce_specversion", b"0.3"))
    with pytest.raises(InvalidEnvelope, match="specversion"):
        CloudEvent.from_message(as_message(Record(record.topic, record.key, record.value, headers)))


def test_bad_time_and_non_utf8_headers_are_refused() -> None:
    record = event().to_record("ew.observations", "BE0403170701")
    for header, reason in [
        (("ce_time", b"yesterday"), "ce_time"),
        (("ce_time", b"2025-10-12T08:30:00"), "time zone"),
        (("ce_source", b"\xff\xfe"), "UTF-8"),
    ]:
        message = as_message(Record(record.topic, record.key, record.value, (*record.headers, header)))
        with pytest.raises(InvalidEnvelope, match=reason):
            CloudEvent.from_message(message)


def test_absent_time_falls_back_to_the_message_timestamp() -> None:
    record = event().to_record("ew.observations", "BE0403170701")
    headers = tuple(header for header in record.headers if header[0] != "ce_time")
    message = as_message(Record(record.topic, record.key, record.value, headers))
    assert CloudEvent.from_message(message).time == message.timestamp


def test_bad_json_is_an_invalid_envelope() -> None:
    record = event().to_record("ew.observations", "BE0403170701")
    message = as_message(Record(record.topic, record.key, b"{not json", record.headers))
    with pytest.raises(InvalidEnvelope, match="Invalid JSON"):
        decode(message, Observation)


def test_payload_of_another_model_is_an_invalid_envelope_naming_the_fields() -> None:
    message = as_message(event().to_record("ew.observations", "BE0403170701"))
    with pytest.raises(InvalidEnvelope) as caught:
        decode(message, Order)
    text = str(caught.value)
    assert text.startswith("data is not a valid Order:")
    assert "order_id: Field required" in text
    assert "kind: Extra inputs are not permitted" in text


def test_non_json_content_type_is_an_invalid_envelope() -> None:
    record = event().to_record("ew.observations", "BE0403170701")
    headers = (*record.headers, ("content-type", b"application/avro"))
    with pytest.raises(InvalidEnvelope, match="not JSON"):
        decode(as_message(Record(record.topic, record.key, record.value, headers)), Observation)


def test_bad_attributes_are_refused_when_building() -> None:
    with pytest.raises(InvalidEnvelope, match="time zone"):
        CloudEvent(id="1", source="/s", type="t", data=b"", time=datetime(2025, 1, 1))
    with pytest.raises(InvalidEnvelope, match="id"):
        CloudEvent(id="", source="/s", type="t", data=b"")
    with pytest.raises(InvalidEnvelope, match="extension"):
        CloudEvent(id="1", source="/s", type="t", data=b"", extensions={"Trace-Id": "x"})
    with pytest.raises(InvalidEnvelope, match="extension"):
        CloudEvent(id="1", source="/s", type="t", data=b"", extensions={"subject": "x"})


def test_event_is_immutable() -> None:
    built = event()
    with pytest.raises(AttributeError):
        built.id = "other"  # type: ignore[misc]
