"""Signal events: ids, CloudEvent envelopes, and the API's cursors."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from services.signals.api import decode_cursor, encode_cursor
from services.signals.outbox import event_id, outbox_entry, to_record
from services.signals.rules import ChangeKind
from services.signals.store import CompanyRecord, SignalRecord
from shared import topics
from shared.bus import Message
from shared.cloudevents import decode
from shared.schemas import Category, Evidence, Severity, Signal, SignalStatus
from shared.web import ApiError

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
COMPANY = CompanyRecord("BE0403170701", "Acme NV", None, Severity.HIGH, 70, NOW)
RECORD = SignalRecord(
    id="sig_1",
    company_id="BE0403170701",
    signal="tax_debt",
    category=Category.RISK,
    severity=Severity.HIGH,
    status=SignalStatus.OPEN,
    summary="A tax debt of EUR 100 was reported on 1 April 2025.",
    evidence=(Evidence(source="bureau", event_id="evt-1", type="tax_debt", at=NOW, summary="Tax debt."),),
    version=1,
    raised_at=NOW,
    updated_at=NOW,
)


def test_event_ids_are_deterministic_and_distinct_per_change() -> None:
    assert event_id("sig_1", 1, ChangeKind.RAISED) == event_id("sig_1", 1, ChangeKind.RAISED)
    ids = {
        event_id("sig_1", 1, ChangeKind.RAISED),
        event_id("sig_1", 2, ChangeKind.UPDATED),
        event_id("sig_1", 3, ChangeKind.UPDATED),
        event_id("sig_1", 3, ChangeKind.RESOLVED),
        event_id("sig_2", 1, ChangeKind.RAISED),
    }
    assert len(ids) == 5
    assert all(i.startswith("sev_") for i in ids)


def test_an_outbox_entry_is_a_cloudevent_with_the_signal_json() -> None:
    entry = outbox_entry(RECORD, ChangeKind.RAISED, COMPANY, NOW)
    record = to_record(entry)
    assert (record.topic, record.key) == (topics.SIGNALS, "BE0403170701")
    message = Message(record.topic, 0, 0, record.key, record.value, record.headers, NOW)
    event, signal = decode(message, Signal)
    assert (event.id, event.type, event.subject, event.time) == (
        entry.event_id,
        "earlywarning.signal.raised",
        "BE0403170701",
        NOW,
    )
    assert event.source == "/earlywarning/signals"
    assert signal == RECORD.to_signal(COMPANY)
    assert json.loads(record.value)["company_name"] == "Acme NV"
    assert json.loads(record.value)["score"] == 70


def test_cursors_round_trip_and_belong_to_one_list() -> None:
    cursor = encode_cursor("signals", "2025-01-01T00:00:00+00:00", "sig_1")
    assert decode_cursor(cursor, "signals", 2) == ["2025-01-01T00:00:00+00:00", "sig_1"]
    for bad in (cursor, "", "@@@", encode_cursor("signals", "x")):
        with pytest.raises(ApiError) as caught:
            decode_cursor(bad, "timeline", 3) if bad == cursor else decode_cursor(bad, "signals", 2)
        assert caught.value.status == 422
