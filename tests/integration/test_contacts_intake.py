"""Contacts at customers through the ingest API (contract section 8), on both buses: PUT, GET, list,
DELETE, the events on `ew.contacts`, validation, paging and scopes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared import topics
from shared.auth import Scope
from shared.cloudevents import CloudEvent
from shared.paging import encode_cursor
from shared.runtime import Infrastructure
from shared.settings import Settings
from tests.harness.app import check_scopes, serving, test_keys

ADMIN_KEY = "ew_test_admin_key_for_the_contacts_tests"
COMPANY = "BE0403170701"
OTHER = "BE0417497106"
CONTACTS = f"/v1/companies/{COMPANY}/contacts"


@dataclass
class Env:
    client: httpx.AsyncClient
    infra: Infrastructure
    keys: dict[str, str]

    def auth(self, who: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    async def put(self, contact_id: str, body: dict[str, Any], company: str = COMPANY) -> httpx.Response:
        path = f"/v1/companies/{company}/contacts/{contact_id}"
        return await self.client.put(path, json=body, headers=self.auth("ingest"))

    async def event(self, event_id: str) -> tuple[CloudEvent, dict[str, Any]]:
        """The one event with this id on `ew.contacts` (a shared Kafka broker holds other tests' too)."""
        found = []
        for message in await self.infra.bus.read(topics.CONTACTS, limit=1_000_000):
            event = CloudEvent.from_message(message)
            if event.id == event_id:
                assert message.key == event.subject
                found.append((event, json.loads(message.value)))
        [one] = found
        return one


@pytest.fixture(params=["embedded", pytest.param("kafka", marks=[pytest.mark.kafka, pytest.mark.postgres])])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    if request.param == "embedded":
        database_url, kafka = f"sqlite+aiosqlite:///{tmp_path / 'ew.db'}", None
    else:
        database_url = request.getfixturevalue("pg_database_url")
        kafka = request.getfixturevalue("kafka_bootstrap")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        kafka_bootstrap=kafka,
        admin_key=ADMIN_KEY,
        bus_partitions=3,
    )
    async with serving(settings, ["ingest"], base_url="http://ingest") as (client, infra):
        yield Env(client, infra, await test_keys(infra, ADMIN_KEY, revoked_scope=Scope.ingest))


def contact(**change: Any) -> dict[str, Any]:
    return {
        "name": "Sofie Maes",
        "function": "CFO",
        "email": "sofie.maes@acme.example",
        "phone": "+32 9 123 45 67",
        "dmu_role": "decision_maker",
        "claims_director": True,
        "last_contact_at": "2025-09-30T14:00:00Z",
        "reporter": "jan@example.com",
        **change,
    }


# --- PUT, GET, DELETE ----------------------------------------------------------------------------------


async def test_put_publishes_the_contact_and_get_returns_it(env: Env) -> None:
    before = datetime.now(UTC)
    put = await env.put("crm-1", contact(), company="0403.170.701")
    assert put.status_code == 202, put.text
    assert put.json().keys() == {"id"}

    event, data = await env.event(put.json()["id"])
    assert (event.type, event.subject) == ("earlywarning.contact.updated", COMPANY)
    assert data == {**contact(), "company_id": COMPANY, "contact_id": "crm-1", "deleted": False}

    got = await env.client.get(f"{CONTACTS}/crm-1", headers=env.auth("read"))
    assert got.status_code == 200, got.text
    item = got.json()
    updated_at = datetime.fromisoformat(item.pop("updated_at"))
    assert before - timedelta(seconds=1) <= updated_at <= datetime.now(UTC)
    assert item == {**contact(), "company_id": COMPANY, "contact_id": "crm-1"}

    listed = await env.client.get(CONTACTS, headers=env.auth("read"))
    assert listed.json() == {"items": [got.json()], "next_cursor": None}


async def test_put_again_replaces_the_contact(env: Env) -> None:
    first = await env.put("crm-1", contact())
    second = await env.put(
        "crm-1", {"name": "Sofie Maes", "dmu_role": "influencer", "reporter": "an@example.com"}
    )
    assert second.status_code == 202
    assert second.json()["id"] != first.json()["id"]
    _, data = await env.event(second.json()["id"])
    assert (data["dmu_role"], data["function"], data["claims_director"]) == ("influencer", None, False)

    got = (await env.client.get(f"{CONTACTS}/crm-1", headers=env.auth("read"))).json()
    # Fields left out are cleared: the PUT is the whole contact.
    assert (got["dmu_role"], got["function"], got["email"], got["last_contact_at"]) == (
        "influencer",
        None,
        None,
        None,
    )
    listed = (await env.client.get(CONTACTS, headers=env.auth("read"))).json()
    assert [c["contact_id"] for c in listed["items"]] == ["crm-1"]


async def test_delete_publishes_the_last_record_marked_deleted(env: Env) -> None:
    await env.put("crm-1", contact(dmu_role="buyer", reporter="an@example.com"))
    await env.put("crm-2", contact(name="Tom Claes"))

    deleted = await env.client.delete(f"{CONTACTS}/crm-1", headers=env.auth("ingest"))
    assert deleted.status_code == 202, deleted.text
    event, data = await env.event(deleted.json()["id"])
    assert (event.type, event.subject) == ("earlywarning.contact.removed", COMPANY)
    assert data["deleted"] is True
    assert (data["company_id"], data["contact_id"]) == (COMPANY, "crm-1")
    assert (data["name"], data["dmu_role"], data["reporter"]) == ("Sofie Maes", "buyer", "an@example.com")
    # Without a contact time the removal is dated by its event, after every version of the contact.
    assert data["last_contact_at"] is None

    assert (await env.client.get(f"{CONTACTS}/crm-1", headers=env.auth("read"))).status_code == 404
    again = await env.client.delete(f"{CONTACTS}/crm-1", headers=env.auth("ingest"))
    assert again.status_code == 404
    assert again.json()["error"] == "not_found"
    listed = (await env.client.get(CONTACTS, headers=env.auth("read"))).json()
    assert [c["contact_id"] for c in listed["items"]] == ["crm-2"]


async def test_unknown_contacts_are_404(env: Env) -> None:
    await env.put("crm-1", contact())
    for method, path in [
        ("DELETE", f"{CONTACTS}/crm-9"),
        ("GET", f"{CONTACTS}/crm-9"),
        ("DELETE", f"/v1/companies/{OTHER}/contacts/crm-1"),
        ("GET", f"/v1/companies/{OTHER}/contacts/crm-1"),
    ]:
        response = await env.client.request(method, path, headers=env.auth())
        assert response.status_code == 404, (method, path, response.text)
    other = (await env.client.get(f"/v1/companies/{OTHER}/contacts", headers=env.auth())).json()
    assert other == {"items": [], "next_cursor": None}


# --- validation ----------------------------------------------------------------------------------------

FUTURE = (datetime.now(UTC) + timedelta(days=2)).isoformat()

INVALID = [
    ("crm-1", contact(dmu_role="ceo"), "body.dmu_role", "decision_maker"),
    ("crm-1", contact(last_contact_at=FUTURE), "body.last_contact_at", "last_contact_at is in the future"),
    ("crm-1", contact(last_contact_at="2025-09-30T14:00:00"), "body.last_contact_at", "timezone"),
    ("crm-1", contact(colour="red"), "body.colour", "Extra inputs"),
    ("crm-1", contact(name=""), "body.name", "at least 1"),
    ("crm-1", {k: v for k, v in contact().items() if k != "reporter"}, "body.reporter", "required"),
    ("crm-1", contact(email="not an email"), "body.email", ""),
    ("has%20space", contact(), "path.contact_id", "pattern"),
    ("x" * 65, contact(), "path.contact_id", "pattern"),
    ("caf%C3%A9", contact(), "path.contact_id", "pattern"),
]


@pytest.mark.parametrize(("contact_id", "body", "field", "reason"), INVALID)
async def test_validation_names_the_field(
    env: Env, contact_id: str, body: dict[str, Any], field: str, reason: str
) -> None:
    response = await env.put(contact_id, body)
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["error"] == "validation_error"
    matching = [d for d in error["details"] if d["path"] == field]
    assert matching, error["details"]
    assert any(reason in d["message"] for d in matching), matching
    assert (await env.client.get(CONTACTS, headers=env.auth("read"))).json()["items"] == []


async def test_bad_company_id_is_422_on_every_route(env: Env) -> None:
    for method, path in [
        ("PUT", "/v1/companies/0403170702/contacts/crm-1"),
        ("DELETE", "/v1/companies/0403170702/contacts/crm-1"),
        ("GET", "/v1/companies/0403170702/contacts/crm-1"),
        ("GET", "/v1/companies/0403170702/contacts"),
    ]:
        body = contact() if method == "PUT" else None
        response = await env.client.request(method, path, json=body, headers=env.auth())
        assert response.status_code == 422, (method, response.text)
        assert response.json()["details"][0]["path"] == "path.company_id"


# --- paging --------------------------------------------------------------------------------------------


async def test_paging_by_contact_id(env: Env) -> None:
    ids = [f"crm-{n}" for n in (3, 1, 5, 2, 4)]
    for contact_id in ids:
        assert (await env.put(contact_id, contact())).status_code == 202
    await env.put("crm-0", contact(), company=OTHER)

    seen: list[str] = []
    cursors: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await env.client.get(CONTACTS, params=params, headers=env.auth("read"))
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= 2
        seen += [item["contact_id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        cursors.append(cursor)
    assert seen == sorted(ids)
    assert len(cursors) == 2

    # A cursor of another list, or of another company's contacts, is refused.
    for foreign in (
        encode_cursor("subscriptions", "crm-1"),
        "not a cursor",
    ):
        refused = await env.client.get(CONTACTS, params={"cursor": foreign}, headers=env.auth("read"))
        assert refused.status_code == 422, foreign
        assert refused.json()["details"][0]["path"] == "query.cursor"
    other = await env.client.get(
        f"/v1/companies/{OTHER}/contacts", params={"cursor": cursors[0]}, headers=env.auth()
    )
    assert other.status_code == 422
    assert (await env.client.get(CONTACTS, params={"limit": 0}, headers=env.auth())).status_code == 422


# --- scopes and the document ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("PUT", f"{CONTACTS}/crm-1", Scope.ingest),
        ("DELETE", f"{CONTACTS}/crm-1", Scope.ingest),
        ("GET", f"{CONTACTS}/crm-1", Scope.read),
        ("GET", CONTACTS, Scope.read),
    ],
)
async def test_scopes(env: Env, method: str, path: str, scope: Scope) -> None:
    await env.put("crm-1", contact())
    body = contact() if method == "PUT" else None
    await check_scopes(env.client, env.keys, method, path, scope, body)


async def test_openapi_documents_the_contact_routes(env: Env) -> None:
    spec = (await env.client.get("/openapi.json")).json()
    one = spec["paths"]["/v1/companies/{company_id}/contacts/{contact_id}"]
    assert set(one) == {"put", "delete", "get"}
    assert all(operation["summary"] for operation in one.values())
    assert spec["paths"]["/v1/companies/{company_id}/contacts"]["get"]["summary"]
    schemas = spec["components"]["schemas"]
    assert schemas["ContactIn"].get("examples")
    assert "deleted" not in schemas["ContactIn"]["properties"]
    assert "deleted" not in schemas["ContactOut"]["properties"]
    assert "updated_at" in schemas["ContactOut"]["required"]
