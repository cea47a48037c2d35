"""Contact items of the intake: a removal must outrank every version of the contact for the signals
service, which keeps the version with the latest time and lets a removal win a tie."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.ingest.intake import contact_item
from services.ingest.models import ContactIn
from services.signals.rules import History, from_payload
from shared.schemas import Contact

COMPANY = "BE0403170701"
NOW = datetime.now(UTC)


def body(last_contact_at: datetime | None, **change: object) -> ContactIn:
    return ContactIn.model_validate(
        {
            "name": "Sofie Maes",
            "dmu_role": "buyer",
            "reporter": "jan",
            "last_contact_at": last_contact_at,
            **change,
        }
    )


def payload(body: ContactIn | None, last: Contact | None = None) -> Contact:
    found = contact_item(COMPANY, "crm-1", body, last=last, now=NOW).payload
    assert isinstance(found, Contact)
    return found


def current(*published: tuple[Contact, datetime]) -> list[Contact]:
    """The contacts the signals service keeps of these versions, each published at its time."""
    events = [from_payload(contact, at=at) for contact, at in published]
    return [contact for _, contact in History.prepare(events, NOW + timedelta(hours=1)).contacts()]


def test_an_update_is_the_body_with_the_ids() -> None:
    item = contact_item("0403.170.701", "crm-1", body(NOW - timedelta(days=1), function="CFO"))
    assert (item.topic, item.company_id, item.event_type) == (
        "ew.contacts",
        "0403.170.701",
        "earlywarning.contact.updated",
    )
    assert isinstance(item.payload, Contact)
    assert (item.payload.contact_id, item.payload.function, item.payload.deleted) == ("crm-1", "CFO", False)


def test_a_removal_outranks_a_version_dated_later_than_the_last() -> None:
    # A correction moved the last contact back in time: the earlier version has the latest time.
    first = payload(body(NOW - timedelta(days=1)))
    corrected = payload(body(NOW - timedelta(days=10)))
    removal = payload(None, last=corrected)
    assert (removal.deleted, removal.name, removal.dmu_role, removal.last_contact_at) == (
        True,
        "Sofie Maes",
        "buyer",
        None,
    )
    assert current((first, NOW - timedelta(seconds=2)), (corrected, NOW - timedelta(seconds=1))) == [first]
    assert (
        current((first, NOW - timedelta(seconds=2)), (corrected, NOW - timedelta(seconds=1)), (removal, NOW))
        == []
    )


def test_a_removal_of_a_contact_dated_ahead_keeps_its_time() -> None:
    # Within the clock-skew margin a contact may be dated a little ahead of the removal's publication.
    ahead = payload(body(NOW + timedelta(minutes=4)))
    removal = payload(None, last=ahead)
    assert removal.last_contact_at == ahead.last_contact_at
    assert current((ahead, NOW - timedelta(seconds=1)), (removal, NOW)) == []


def test_a_removal_without_a_record_has_placeholders() -> None:
    removal = payload(None)
    assert (removal.company_id, removal.contact_id, removal.deleted) == (COMPANY, "crm-1", True)
    assert (removal.name, removal.dmu_role.value, removal.reporter) == ("-", "unknown", "-")
