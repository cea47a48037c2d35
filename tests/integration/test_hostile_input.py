"""Hostile text through the whole system: SQL- and HTML-looking input, bidi overrides, NULs, text at the
field limits.

Third parties' text is posted through ingest (portfolio, observations, publications, contacts, the bureau
webhook, orders) and the credit team's (acknowledgement), consumed and stored by the signals service, then
read back:

- the API returns it byte for byte (JSON strings equal to what was sent), and finds it again when it is a
  query parameter (a segment filter); SQL-looking text is data, never SQL: every table is still there and
  holds the rows;
- the console shows it escaped, never as markup, on pages that carry a strict Content-Security-Policy;
- text a database cannot hold (U+0000 on PostgreSQL) and text over a field's limit are refused with a 422
  naming the field, and nothing is published; text at the limit is accepted whole.

One app (ingest + signals with the console, embedded bus) per database for the module: SQLite (the
embedded default), then PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import column, func, inspect, select, table

from services.runner import create_app
from shared import topics
from shared.auth import Scope
from shared.runtime import Infrastructure
from shared.settings import Settings
from shared.webhooks import sign
from tests.harness.postgres import create_database, drop_database

ADMIN_KEY = "ew_test_admin_key_for_the_hostile_input_00"
BUREAU_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
T = TypeVar("T")

# What every hostile value is, by the field it goes into. No value starts or ends with white space (the
# intake strips it) or holds a comma or a run of spaces (sentences show names as "First Last", collapsed).
PORTFOLIO = {
    "name": "<script>alert('owned')</script> & Co NV",
    "account_manager": '<img src=x onerror="alert(1)">',
    "segment": "'); DROP TABLE source_events; --",
    "region": "\u202egnp.exe\u202c Invoice",  # right-to-left override: shows as "Invoice exe.png"
}
OBSERVATION = {
    "kind": "contact_not_director",
    "reporter": '" OR 1=1 --',
    "contact_name": '"><svg onload=alert(1)>',
    "note": "x'; DELETE FROM companies WHERE '1'='1 </textarea><iframe src=javascript:alert(1)>",
}
IDEMPOTENCY_KEY = "Robert'); DROP TABLE api_keys;--"
PERSON = "שלום \u202b<b>bold</b>\u202c"  # Hebrew, then a right-to-left embedding around markup
PUBLICATION: dict[str, Any] = {
    "company_name": "{{ 7*7 }} {% raw %} ${7*7}",
    "persons": [{"name": PERSON, "role": "director", "action": "appointed"}],
    "text": "1; SELECT pg_sleep(5) --\n<script>alert('text')</script>",
}
CONTACT = {
    "name": "Zoë \u200b👩\u200d💼 e\u0301 <b>Maes</b>",
    "function": "&lt;b&gt; &amp;amp; &#60;",
    "phone": "' OR ''='",
    "dmu_role": "decision_maker",
    "reporter": "<marquee>r</marquee>",
}
COURT = "<img src=x onerror=alert(document.cookie)>"
PRODUCT_LINE = "<b>kegs</b>' OR 'a'='a"
UNMONITORED_NAME = "<script>document.location='//evil.example'</script>"
ACKNOWLEDGEMENT = {
    "by": '<script>alert("by")</script>',
    "note": "'); DROP TABLE signals; --<img src=x onerror=alert(2)>",
}
# Markup that must never reach a page as markup (each is the start of a tag sent above).
RAW_MARKUP = [
    "<script>alert",
    "<script>document",
    "<img src=x",
    "<svg onload",
    "<iframe",
    "</textarea>",
    "<marquee>",
    "<b>bold",
    "<b>Maes",
    "<b>kegs",
]


def escaped(text: str) -> str:
    """How an autoescaping template writes text: the five HTML-special characters as entities."""
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;"), ("'", "&#39;")):
        text = text.replace(char, entity)
    return text


def new_company() -> str:
    """A random valid enterprise number: the tests of a module share one app, never a company."""
    first8 = f"0{random.randrange(10**7):07d}"
    return f"BE{first8}{97 - int(first8) % 97:02d}"


async def until(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last: {value!r}")
        await asyncio.sleep(0.05)


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient
    infra: Infrastructure
    keys: dict[str, str]
    tables: set[str]
    """The tables right after start-up: every one must still be there after the hostile input."""

    def auth(self, who: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.client.get(path, params=params, headers=self.auth("read"))
        assert response.status_code == 200, (path, response.text)
        return response.json()

    async def timeline(self, company: str) -> dict[tuple[str, str], dict[str, Any]]:
        """The company's timeline items by (source, event id); empty while the company is unknown."""
        response = await self.client.get(
            f"/v1/companies/{company}/timeline", params={"limit": 1000}, headers=self.auth("read")
        )
        if response.status_code != 200:
            return {}
        return {(item["source"], item["event_id"]): item for item in response.json()["items"]}

    async def bureau(self, event: dict[str, Any]) -> httpx.Response:
        raw = json.dumps(event).encode()
        now = int(time.time())
        headers = {
            "webhook-id": f"msg_{uuid.uuid4().hex}",
            "webhook-timestamp": str(now),
            "content-type": "application/json",
        }
        headers["webhook-signature"] = sign(BUREAU_SECRET, headers["webhook-id"], now, raw)
        return await self.client.post("/v1/bureau/events", content=raw, headers=headers)

    async def published_about(self, company: str) -> list[str]:
        """The topics holding a message about `company`."""
        found = []
        intake = (topics.PORTFOLIO, topics.OBSERVATIONS, topics.PUBLICATIONS, topics.CONTACTS, topics.BUREAU)
        for topic in (*intake, topics.ORDERS):
            found += [topic for m in await self.infra.bus.read(topic, limit=1_000_000) if m.key == company]
        return found

    async def table_names(self) -> set[str]:
        async with self.infra.engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))

    async def count(self, table_name: str, **where: str) -> int:
        rows = table(table_name, *[column(name) for name in where])
        query = select(func.count()).select_from(rows)
        for name, value in where.items():
            query = query.where(rows.c[name] == value)
        async with self.infra.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    def browser(self) -> httpx.AsyncClient:
        """A client with a cookie jar of its own, like one browser."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://console.test")

    async def signed_in(self, client: httpx.AsyncClient, who: str = "read") -> None:
        await client.get("/login")
        csrf = client.cookies.get("ew_csrf")
        assert csrf is not None
        response = await client.post("/login", data={"key": self.keys[who], "csrf": csrf, "next": "/"})
        assert response.status_code == 303, response.text


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    database = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('hostile') / 'ew.db'}"
    else:
        url = database = create_database(request.getfixturevalue("postgres_url"))
    settings = Settings(
        _env_file=None,
        database_url=url,
        admin_key=ADMIN_KEY,
        bureau_secret=BUREAU_SECRET,
        bus_poll_interval=0.05,
    )
    app = create_app(settings, ["ingest", "signals"])
    try:
        async with app.router.lifespan_context(app):
            infra: Infrastructure = app.state.infra
            keys = {"admin": ADMIN_KEY}
            for name, scopes in {"ingest": [Scope.ingest], "read": [Scope.read]}.items():
                _, keys[name] = await infra.keys.create(name, scopes)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
                env = Env(app, client, infra, keys, set())
                env.tables = await env.table_names()
                yield env
    finally:
        if database is not None:
            drop_database(request.getfixturevalue("postgres_url"), database)


@dataclass
class Story:
    """A monitored company that received hostile text through every intake, and one known from the gazette
    only, whose name is hostile; everything consumed by the signals service."""

    company: str
    unmonitored: str
    observation_id: str
    reference: str
    bureau_id: str
    order_id: str
    signals: dict[str, dict[str, Any]] = field(default_factory=dict)


@pytest.fixture(scope="module")
async def story(env: Env) -> Story:
    company, unmonitored = new_company(), new_company()
    suffix = uuid.uuid4().hex[:8]
    s = Story(
        company,
        unmonitored,
        observation_id="",
        reference=f"'); DROP TABLE intake_keys; --{suffix}",
        bureau_id=f"evt'); DROP TABLE source_events; --{suffix}",
        order_id=f"SO'); DROP TABLE orders;--{suffix}",
    )
    ingest = env.auth("ingest")

    async def accepted(response: Awaitable[httpx.Response]) -> str:
        answer = await response
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    await accepted(env.client.put(f"/v1/portfolio/{company}", json=PORTFOLIO, headers=ingest))
    s.observation_id = await accepted(
        env.client.post(
            "/v1/observations",
            json={"company_id": company, **OBSERVATION},
            headers={**ingest, "Idempotency-Key": IDEMPOTENCY_KEY},
        )
    )
    publication = {"reference": s.reference, "company_id": company, "published_on": "2025-10-01"}
    await accepted(
        env.client.post(
            "/v1/publications", json={**publication, "rubrics": ["bankruptcy"], **PUBLICATION}, headers=ingest
        )
    )
    await accepted(env.client.put(f"/v1/companies/{company}/contacts/crm-1", json=CONTACT, headers=ingest))
    bureau = {
        "id": s.bureau_id,
        "company_id": company,
        "type": "social_security_summons",
        "occurred_at": "2025-10-02T08:00:00Z",
        "data": {"court": COURT},
    }
    await accepted(env.bureau(bureau))
    ordered_at = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    order = {
        "company_id": company,
        "order_id": s.order_id,
        "ordered_at": ordered_at,
        "amount_eur": 1250,
        "product_line": PRODUCT_LINE,
    }
    await accepted(env.client.post("/v1/orders", json=order, headers=ingest))
    gazette_only = {
        "reference": f"R{suffix}",
        "company_id": unmonitored,
        "published_on": "2025-10-01",
        "rubrics": ["bankruptcy"],
        "company_name": UNMONITORED_NAME,
    }
    await accepted(env.client.post("/v1/publications", json=gazette_only, headers=ingest))

    wanted = {
        ("observation", s.observation_id),
        ("publication", s.reference),
        ("contact", "crm-1"),
        ("bureau", s.bureau_id),
        ("order", s.order_id),
    }
    await until(lambda: env.timeline(company), lambda items: wanted <= set(items))
    await until(lambda: env.timeline(unmonitored), lambda items: len(items) == 1)

    async def signals() -> dict[str, dict[str, Any]]:
        page = await env.get("/v1/signals", company_id=company, limit=100)
        return {item["signal"]: item for item in page["items"]}

    found = await until(signals, lambda found: {"bankruptcy", "straw_man"} <= set(found))
    acknowledged = await env.client.post(
        f"/v1/signals/{found['bankruptcy']['id']}/acknowledge", json=ACKNOWLEDGEMENT, headers=env.auth()
    )
    assert acknowledged.status_code == 200, acknowledged.text
    s.signals = await signals()
    return s


# --- the API gives it back verbatim ----------------------------------------------------------------------


async def test_the_api_returns_hostile_text_verbatim(env: Env, story: Story) -> None:
    portfolio = await env.get(f"/v1/portfolio/{story.company}")
    assert {name: portfolio[name] for name in PORTFOLIO} == PORTFOLIO
    company = await env.get(f"/v1/companies/{story.company}")
    assert company["portfolio"]["name"] == PORTFOLIO["name"]
    contact = await env.get(f"/v1/companies/{story.company}/contacts/crm-1")
    assert {name: contact[name] for name in CONTACT} == CONTACT

    timeline = await env.timeline(story.company)
    observation = timeline[("observation", story.observation_id)]["data"]
    assert {name: observation[name] for name in OBSERVATION} == OBSERVATION
    publication = timeline[("publication", story.reference)]["data"]
    assert publication["reference"] == story.reference
    assert publication["company_name"] == PUBLICATION["company_name"]
    assert publication["text"] == PUBLICATION["text"]
    assert publication["persons"][0]["name"] == PERSON
    bureau = timeline[("bureau", story.bureau_id)]["data"]
    assert (bureau["id"], bureau["data"]["court"]) == (story.bureau_id, COURT)
    order = timeline[("order", story.order_id)]["data"]
    assert (order["order_id"], order["product_line"]) == (story.order_id, PRODUCT_LINE)
    contact_event = timeline[("contact", "crm-1")]["data"]
    assert (contact_event["name"], contact_event["function"]) == (CONTACT["name"], CONTACT["function"])

    assert (await env.get(f"/v1/companies/{story.unmonitored}"))["name"] == UNMONITORED_NAME
    bankruptcy = story.signals["bankruptcy"]
    assert (bankruptcy["acknowledged_by"], bankruptcy["note"]) == (
        ACKNOWLEDGEMENT["by"],
        ACKNOWLEDGEMENT["note"],
    )
    # The same request with the hostile Idempotency-Key is recognised as the same observation.
    again = await env.client.post(
        "/v1/observations",
        json={"company_id": story.company, **OBSERVATION},
        headers={**env.auth("ingest"), "Idempotency-Key": IDEMPOTENCY_KEY},
    )
    assert again.json() == {"id": story.observation_id}


async def test_sql_looking_text_is_data_and_every_table_is_still_there(env: Env, story: Story) -> None:
    assert await env.table_names() == env.tables
    assert {"source_events", "companies", "signals", "api_keys", "intake_keys", "orders"} <= env.tables
    assert await env.count("source_events", company_id=story.company) == 5
    assert await env.count("api_keys") >= 2
    # As a query parameter it finds what it names, and only that.
    value = await env.get("/v1/analytics/value", segment=PORTFOLIO["segment"])
    assert [(c["company_id"], c["segment"]) for c in value["customers"]] == [
        (story.company, PORTFOLIO["segment"])
    ]
    assert (await env.get("/v1/analytics/value", segment="' OR 1=1 --"))["customers"] == []
    # Where an enterprise number is expected, it is refused for what it is.
    for path, params in (("/v1/signals", {"company_id": "' OR 1=1 --"}), ("/v1/companies/' OR 1=1 --", {})):
        response = await env.client.get(path, params=params, headers=env.auth("read"))
        assert response.status_code == 422, response.text


# --- the console shows it escaped ------------------------------------------------------------------------


def check_page(response: httpx.Response) -> str:
    """The page's HTML, once it is known to carry no third party's markup and the security headers."""
    html = response.text
    for markup in RAW_MARKUP:
        assert markup not in html, markup
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    return html


async def test_the_console_shows_hostile_text_escaped(env: Env, story: Story) -> None:
    async with env.browser() as client:
        await env.signed_in(client)
        page = await client.get(f"/companies/{story.company}")
        assert page.status_code == 200
        html = check_page(page)
        shown = [
            *(PORTFOLIO[name] for name in ("name", "account_manager", "segment", "region")),
            CONTACT["name"],
            CONTACT["function"],
            OBSERVATION["reporter"],
            OBSERVATION["contact_name"],
            OBSERVATION["note"],
            PERSON,
            COURT,
            PRODUCT_LINE,
            ACKNOWLEDGEMENT["by"],
            ACKNOWLEDGEMENT["note"],
        ]
        for text in shown:
            assert escaped(text) in html, text

        inbox = await client.get("/")
        assert inbox.status_code == 200
        assert escaped(PORTFOLIO["name"]) in check_page(inbox)

        unmonitored = await client.get(f"/companies/{story.unmonitored}")
        assert unmonitored.status_code == 200
        assert escaped(UNMONITORED_NAME) in check_page(unmonitored)

        # A filter echoes its value into the form: escaped there too, and it still finds the company.
        filtered = await client.get("/", params={"account_manager": PORTFOLIO["account_manager"]})
        assert filtered.status_code == 200
        html = check_page(filtered)
        assert f'value="{escaped(PORTFOLIO["account_manager"])}"' in html
        assert f'href="/companies/{story.company}"' in html

        # Text in the URL is shown escaped on the error page.
        unknown = await client.get("/companies/<img src=x onerror=alert('url')>")
        assert unknown.status_code == 404
        html = check_page(unknown)
        assert escaped("<img src=x onerror=alert('url')>") in html
        # A path no page matches (its markup holds a slash) is the API's JSON 404, which echoes nothing.
        unmatched = await client.get("/companies/<script>alert('url')</script>")
        assert unmatched.status_code == 404
        assert unmatched.headers["content-type"] == "application/json"
        assert "<script>" not in unmatched.text


# --- what cannot be stored, and the field limits -------------------------------------------------------


async def test_nul_characters_are_refused_naming_the_field(env: Env) -> None:
    company = new_company()
    ingest = env.auth("ingest")
    nul = "before\x00after"
    cases: list[tuple[str, Awaitable[httpx.Response]]] = [
        ("body.name", env.client.put(f"/v1/portfolio/{company}", json={"name": nul}, headers=ingest)),
        (
            "body.note",
            env.client.post(
                "/v1/observations",
                json={"company_id": company, "kind": "growth", "reporter": "r", "note": nul},
                headers=ingest,
            ),
        ),
        (
            "body.reference",
            env.client.post(
                "/v1/publications",
                json={
                    "reference": nul,
                    "company_id": company,
                    "published_on": "2025-10-01",
                    "rubrics": ["other"],
                },
                headers=ingest,
            ),
        ),
        (
            "body.name",
            env.client.put(
                f"/v1/companies/{company}/contacts/c-1",
                json={"name": nul, "dmu_role": "user", "reporter": "r"},
                headers=ingest,
            ),
        ),
        (
            "body.id",
            env.bureau(
                {
                    "id": nul,
                    "company_id": company,
                    "type": "ubo_change",
                    "occurred_at": "2025-10-02T08:00:00Z",
                    "data": {},
                }
            ),
        ),
        (
            "body.product_line",
            env.client.post(
                "/v1/orders",
                json={
                    "company_id": company,
                    "order_id": "SO-1",
                    "ordered_at": "2025-10-02T08:00:00Z",
                    "amount_eur": 1,
                    "product_line": nul,
                },
                headers=ingest,
            ),
        ),
    ]
    for path, request in cases:
        response = await request
        assert response.status_code == 422, (path, response.text)
        details = {d["path"]: d["message"] for d in response.json()["details"]}
        assert "NUL" in details[path], details
    assert await env.published_about(company) == []


async def test_nul_characters_in_a_credit_team_action_are_refused_naming_the_field(
    env: Env, story: Story
) -> None:
    signal_id = story.signals["bankruptcy"]["id"]
    for field_name, body in (("by", {"by": "ann\x00"}), ("note", {"by": "ann", "note": "a\x00b"})):
        for action in ("acknowledge", "resolve"):
            response = await env.client.post(
                f"/v1/signals/{signal_id}/{action}", json=body, headers=env.auth()
            )
            assert response.status_code == 422, (action, response.text)
            details = {d["path"]: d["message"] for d in response.json()["details"]}
            assert "NUL" in details[f"body.{field_name}"], details
    page = await env.get("/v1/signals", company_id=story.company, limit=100)
    (bankruptcy,) = [item for item in page["items"] if item["id"] == signal_id]
    assert bankruptcy["status"] == "open"
    assert bankruptcy["acknowledged_by"] == ACKNOWLEDGEMENT["by"]


def _filled(length: int) -> str:
    """`length` characters of hostile text, multi-byte included, with no white space at either end."""
    pattern = "<script>alert(1)</script>');DROP/**/TABLE/**/source_events;--é👩\u202e"
    text = (pattern * (length // len(pattern) + 1))[:length]
    assert len(text) == length
    assert text == text.strip()
    return text


@pytest.mark.parametrize(
    ("what", "limit"), [("note", 5_000), ("text", 100_000), ("name", 300), ("contact", 300)]
)
async def test_text_at_the_limit_is_kept_whole_and_one_more_is_refused(
    env: Env, what: str, limit: int
) -> None:
    company = new_company()
    ingest = env.auth("ingest")
    field_name = "name" if what == "contact" else what

    async def post(text: str) -> httpx.Response:
        body: dict[str, Any]
        if what == "note":
            body = {"company_id": company, "kind": "growth", "reporter": "r", "note": text}
            return await env.client.post("/v1/observations", json=body, headers=ingest)
        if what == "text":
            body = {
                "reference": f"R{uuid.uuid4().hex}",
                "company_id": company,
                "published_on": "2025-10-01",
                "rubrics": ["other"],
                "text": text,
            }
            return await env.client.post("/v1/publications", json=body, headers=ingest)
        if what == "name":
            return await env.client.put(f"/v1/portfolio/{company}", json={"name": text}, headers=ingest)
        body = {"name": text, "dmu_role": "user", "reporter": "r"}
        return await env.client.put(f"/v1/companies/{company}/contacts/c-1", json=body, headers=ingest)

    for too_long in (_filled(limit + 1), _filled(10_000) if limit < 10_000 else _filled(limit * 2)):
        refused = await post(too_long)
        assert refused.status_code == 422, refused.text
        # (A publication's body may also be a list: its 422 names the whole body as well.)
        assert f"body.{field_name}" in [d["path"] for d in refused.json()["details"]], refused.text

    text = _filled(limit)
    accepted = await post(text)
    assert accepted.status_code == 202, accepted.text
    if what == "name":
        stored = await until(
            lambda: env.client.get(f"/v1/companies/{company}", headers=env.auth("read")),
            lambda response: response.status_code == 200,
        )
        assert stored.json()["name"] == text
        assert (await env.get(f"/v1/portfolio/{company}"))["name"] == text
    else:
        items = await until(lambda: env.timeline(company), lambda items: len(items) == 1)
        [item] = items.values()
        assert item["data"][field_name] == text
    async with env.browser() as client:
        await env.signed_in(client)
        page = await client.get(f"/companies/{company}")
        assert page.status_code == 200
        html = check_page(page)
        # Names are shown whole, a note by its start (in the event's summary), a publication's text not.
        shown = {"name": text, "contact": text, "note": text[:100]}.get(what)
        if shown is not None:
            assert escaped(shown) in html
