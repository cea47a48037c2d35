"""Adapters from the payload models to source events: ids, event time, type, summary, evidence."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from services.signals.rules import (
    History,
    SourceEvent,
    from_contact,
    from_register,
    register_event_id,
)
from shared.schemas import Contact, RegisterEvent

from .builders import AS_OF, COMPANY, ago, bureau, contact, obs, order, person, pub, score_change


def test_an_observation_is_at_its_observed_time() -> None:
    event = obs(
        "late_payment_suppliers", ago(2), reporter="jan@example.com", contact_name="Peeters, Jan", id="o-1"
    )
    assert (event.id, event.source, event.type, event.at) == (
        "o-1",
        "observation",
        "late_payment_suppliers",
        ago(2),
    )
    assert event.company_id == COMPANY
    assert event.summary == "jan@example.com reported suppliers paid late (contact: Jan Peeters)."


def test_a_publication_is_at_midnight_utc_of_its_date() -> None:
    event = pub(
        date(2025, 3, 2),
        "resignation",
        persons=[person("Janssens, Marie", "resigned")],
        reference="25123456",
    )
    assert event.id == "25123456"
    assert event.type == "publication"
    assert event.at == datetime(2025, 3, 2, tzinfo=UTC)
    assert (
        event.summary
        == "Official Gazette 25123456 of 2025-03-02: resignation (Marie Janssens resigned as director)."
    )


def test_a_bureau_event_keeps_its_id_type_and_time() -> None:
    moment = datetime(2025, 10, 9, 8, 0, tzinfo=timezone(timedelta(hours=2)))
    event = bureau("tax_debt", moment, id="evt-1", amount_eur=18250.5)
    assert (event.id, event.type) == ("evt-1", "tax_debt")
    assert event.at == datetime(2025, 10, 9, 6, 0, tzinfo=UTC)
    assert event.at.tzinfo == UTC
    assert event.summary == "Tax debt of EUR 18,250.50 reported."
    assert score_change(ago(1), 72, 45).summary == "Bureau score fell from 72 to 45."


def test_an_order_uses_the_order_number() -> None:
    event = order(ago(3), 12480.75, id="SO-1")
    assert (event.id, event.type, event.at) == ("SO-1", "order", ago(3))
    assert event.summary == "Order SO-1 of EUR 12,480.75 (packaging)."


def _register_event(effective_on: date | None) -> RegisterEvent:
    return RegisterEvent.model_validate(
        {
            "company_id": COMPANY,
            "extract_number": 147,
            "kind": "juridical_situation",
            "code": "048",
            "description": "Faillissement geopend",
            "effective_on": effective_on,
            "observed_at": "2025-10-12T02:10:00Z",
        }
    )


def test_a_register_change_is_at_its_effective_date_else_when_observed() -> None:
    dated = from_register(_register_event(date(2025, 10, 6)))
    assert dated.at == datetime(2025, 10, 6, tzinfo=UTC)
    assert dated.id == register_event_id(_register_event(None)) == f"kbo-{COMPANY}-147-juridical_situation"
    assert dated.type == "juridical_situation"
    assert dated.summary == "Register extract 147: juridical situation 048 (Faillissement geopend)."
    undated = from_register(_register_event(None), id="reg-9")
    assert undated.at == datetime(2025, 10, 12, 2, 10, tzinfo=UTC)
    assert undated.id == "reg-9"


def _contact(last_contact_at: datetime | None) -> Contact:
    return Contact.model_validate(
        {
            "company_id": COMPANY,
            "contact_id": "crm-1",
            "name": "Sofie Maes",
            "function": "CFO",
            "dmu_role": "decision_maker",
            "claims_director": True,
            "last_contact_at": last_contact_at,
            "reporter": "jan@example.com",
        }
    )


def test_a_contact_is_at_its_last_contact_else_at_the_given_time() -> None:
    event = from_contact(_contact(ago(5)), at=ago(1))
    assert (event.id, event.type, event.at) == ("crm-1", "contact", ago(5))
    assert event.summary == "Contact Sofie Maes (CFO, decision maker) claims to be a director."
    assert from_contact(_contact(None), at=ago(1)).at == ago(1)
    with pytest.raises(ValueError, match="no last_contact_at"):
        from_contact(_contact(None))


def test_a_naive_time_is_refused() -> None:
    base = obs("growth", ago(1))
    with pytest.raises(ValueError, match="timezone-aware"):
        SourceEvent(base.id, base.company_id, base.source, base.type, datetime(2025, 1, 1), base.payload, "x")


def test_an_event_is_evidence_of_itself() -> None:
    event = bureau("tax_debt", ago(1), id="evt-7", amount_eur=100)
    proof = event.evidence()
    assert (proof.source, proof.event_id, proof.type, proof.at, proof.summary) == (
        "bureau",
        "evt-7",
        "tax_debt",
        ago(1),
        "Tax debt of EUR 100 reported.",
    )
    assert event.evidence(type="other", summary="Said otherwise.").type == "other"


def test_history_deduplicates_cuts_and_sorts() -> None:
    early = obs("growth", ago(10), id="a")
    late = obs("growth", ago(1), id="b")
    future = obs("growth", AS_OF + timedelta(seconds=1), id="c")
    history = History.prepare([late, future, early, late, early], AS_OF)
    assert [event.id for event in history.events] == ["a", "b"]


def test_history_keeps_the_latest_version_of_a_contact() -> None:
    first = contact("Sofie Maes", ago(10), claims_director=True, contact_id="crm-1")
    second = contact("Sofie Maes", ago(2), claims_director=False, contact_id="crm-1")
    removed = contact("Sofie Maes", ago(2), deleted=True, contact_id="crm-1")
    assert History.prepare([second, first], AS_OF).contacts()[0][1].claims_director is False
    assert History.prepare([first, second, removed], AS_OF).contacts() == []
    # A version after as_of is not known yet: the earlier one counts.
    assert History.prepare([first, second], ago(5)).contacts()[0][1].claims_director is True
