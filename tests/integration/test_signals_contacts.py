"""Straw men from contacts, end to end on both buses: a contact who claims to be a director but is not a
registered one raises `straw_man`, with the contact as evidence; a later appointment of that person
resolves it. Names match after normalisation (accents, case, word order, "Last, First", particles).

The same app and helpers as `test_signals_service.py` (one app per bus for the module).
"""

from __future__ import annotations

from typing import Any

from shared import topics
from shared.cloudevents import new_event
from shared.schemas import Contact
from tests.integration import test_signals_service as service
from tests.integration.test_signals_cross_company import absent, closed, opened
from tests.integration.test_signals_service import Env, new_company

env = service.env  # the same fixture: one app per bus for this module

STRAW_MAN = "straw_man"


async def appoint(env: Env, company: str, name: str, on: str = "2024-03-01") -> None:
    persons = [{"name": name, "role": "director", "action": "appointed"}]
    await env.publication(company, ["appointment"], on, persons=persons)


async def claims(env: Env, company: str, contact_id: str, name: str, **extra: Any) -> None:
    """A contact of the sales app who says they are a director."""
    contact = Contact.model_validate(
        {
            "company_id": company,
            "contact_id": contact_id,
            "name": name,
            "function": "Zaakvoerder",
            "dmu_role": "decision_maker",
            "claims_director": True,
            "last_contact_at": "2025-06-02T10:00:00Z",
            "reporter": "jan@example.com",
            **extra,
        }
    )
    record = new_event("earlywarning.contact.updated", "/test", company, contact).to_record(topics.CONTACTS)
    await env.infra.bus.publish([record])


async def test_a_contact_who_is_a_registered_director(env: Env) -> None:
    company = new_company()
    await appoint(env, company, "Sofie Maes")
    await claims(env, company, "crm-1", "Sofie Maes")
    await absent(env, company, STRAW_MAN, 2)


async def test_a_contact_who_is_not_a_registered_director(env: Env) -> None:
    company = new_company()
    await appoint(env, company, "Sofie Maes")
    await claims(env, company, "crm-1", "Jan Peeters")
    signal = await opened(env, company, STRAW_MAN)
    contact_evidence = [e for e in signal["evidence"] if e["source"] == "contact"]
    assert [e["event_id"] for e in contact_evidence] == ["crm-1"]
    assert "Jan Peeters" in signal["summary"]


async def test_names_match_after_normalisation(env: Env) -> None:
    company = new_company()
    await appoint(env, company, "Van den Broeck, Pieter-Jan")
    await claims(env, company, "crm-1", "pieter-jan VAN DEN BROECK")
    await claims(env, company, "crm-2", "Pièter-Jan Vandenbroeck")
    await absent(env, company, STRAW_MAN, 3)


async def test_a_later_appointment_resolves_it(env: Env) -> None:
    company = new_company()
    await appoint(env, company, "Sofie Maes")
    await claims(env, company, "crm-1", "Karel De Smet")
    await opened(env, company, STRAW_MAN)
    await appoint(env, company, "De Smet, Karel", on="2025-07-01")
    signal = await closed(env, company, STRAW_MAN)
    assert signal["resolved_by"] is None  # resolved by the rules
