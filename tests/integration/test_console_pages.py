"""The console's pages over ASGI (no browser): sign-in and its cookies, redirects, CSRF, admin-only pages,
acknowledge and resolve through the API's routes, escaping of third parties' text, the notifier's pages.

One app of `earlywarning up` (embedded bus, SQLite) runs for the module; each test signs in with a client
of its own (its own cookie jar) and works on companies of its own.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI

from services.console import views
from services.runner import create_app
from shared.auth import Scope
from shared.settings import Settings
from tests.harness.app import test_keys
from tests.integration.test_signals_service import new_company, new_reference

ADMIN_KEY = "ew_test_admin_key_for_the_console_tests_000"
T = TypeVar("T")


@dataclass
class Console:
    app: FastAPI
    keys: dict[str, str]
    api: httpx.AsyncClient

    def browser(self, base_url: str = "http://console.test") -> httpx.AsyncClient:
        """A client with a cookie jar of its own, like one browser."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=base_url)

    @asynccontextmanager
    async def signed_in(self, who: str) -> AsyncIterator[httpx.AsyncClient]:
        async with self.browser() as client:
            response = await login(client, self.keys[who])
            assert response.status_code == 303, response.text
            yield client

    async def company(self, name: str, rubric: str = "bankruptcy", **portfolio: Any) -> tuple[str, str]:
        """A monitored company with one open signal from a gazette publication: (company id, signal id)."""
        company = new_company()
        headers = {"Authorization": f"Bearer {self.keys['ingest']}"}
        put = await self.api.put(
            f"/v1/portfolio/{company}", json={"name": name, **portfolio}, headers=headers
        )
        assert put.status_code == 202, put.text
        body = {
            "reference": new_reference(),
            "company_id": company,
            "published_on": "2025-10-01",
            "rubrics": [rubric],
        }
        posted = await self.api.post("/v1/publications", json=body, headers=headers)
        assert posted.status_code == 202, posted.text
        [signal] = await until(lambda: self.signals(company), lambda items: len(items) == 1)
        await until(lambda: self.name_of(company), lambda found: found == name)
        return company, str(signal["id"])

    async def signals(self, company: str) -> list[dict[str, Any]]:
        response = await self.api.get(
            "/v1/signals", params={"company_id": company}, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
        return list(response.json()["items"])

    async def name_of(self, company: str) -> str | None:
        response = await self.api.get(
            f"/v1/companies/{company}", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
        return response.json().get("name") if response.status_code == 200 else None


async def until(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout: float = 15.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last: {value!r}")
        await asyncio.sleep(0.05)


async def login(client: httpx.AsyncClient, key: str, next_path: str = "/") -> httpx.Response:
    page = await client.get("/login")
    assert page.status_code == 200
    return await client.post("/login", data={"key": key, "csrf": csrf(client), "next": next_path})


def csrf(client: httpx.AsyncClient) -> str:
    token = client.cookies.get("ew_csrf")
    assert token is not None
    return token


def text_of(html: str) -> str:
    """The page's visible text, roughly: tags removed, white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture(scope="module")
async def console(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Console]:
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('console') / 'ew.db'}",
        admin_key=ADMIN_KEY,
        bus_poll_interval=0.05,
        webhook_allow_private=True,  # the subscription tests subscribe a local URL
    )
    app = create_app(settings, ["ingest", "signals", "notifier"])
    async with app.router.lifespan_context(app):
        keys = await test_keys(app.state.infra, ADMIN_KEY, revoked_scope=Scope.read)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
            yield Console(app, keys, api)


# --- sign-in -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/companies/BE0403170701?cursor=x", "/subscriptions", "/silences", "/analytics/rfm"]
)
async def test_pages_send_to_the_login_page_without_a_valid_key(console: Console, path: str) -> None:
    for cookie in (None, "ew_not_a_key", console.keys["revoked"], console.keys["ingest"]):
        async with console.browser() as client:
            if cookie is not None:
                client.cookies.set("ew_session", cookie)
            response = await client.get(path)
        assert response.status_code == 303, (cookie, response.text)
        expected = "/login" if path == "/" else f"/login?next={path.replace('?', '%3F').replace('=', '%3D')}"
        assert response.headers["location"] == expected


async def test_htmx_requests_without_a_session_redirect_the_whole_page(console: Console) -> None:
    async with console.browser() as client:
        await client.get("/login")
        response = await client.post(
            "/signals/sig_x/acknowledge",
            data={"csrf": csrf(client)},
            headers={"HX-Request": "true"},
        )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login"


async def test_login_page_sets_the_cookies_with_the_right_flags(console: Console) -> None:
    async with console.browser() as client:
        page = await client.get("/login")
        assert page.status_code == 200
        assert '<label for="key">API key</label>' in page.text
        assert 'id="key" name="key" type="password"' in page.text
        assert "ew_csrf=" in page.headers["set-cookie"]

        response = await login(client, console.keys["read"], next_path="/companies/BE0403170701")
        assert response.status_code == 303
        assert response.headers["location"] == "/companies/BE0403170701"
        cookies = {c.split("=")[0]: c for c in response.headers.get_list("set-cookie")}
        session = cookies["ew_session"]
        assert session.startswith(f"ew_session={console.keys['read']};")
        assert "HttpOnly" in session
        assert "SameSite=strict" in session
        assert "Path=/" in session
        assert "Secure" not in session  # plain http (a developer's laptop)
        assert "HttpOnly" in cookies["ew_csrf"]
        assert (await client.get("/")).status_code == 200
        # Signed in, the login page goes on to the page asked for.
        again = await client.get("/login", params={"next": "/silences"})
        assert (again.status_code, again.headers["location"]) == (303, "/silences")


async def test_cookies_are_secure_over_https(console: Console) -> None:
    async with console.browser("https://console.test") as client:
        response = await login(client, console.keys["read"])
    assert response.status_code == 303
    assert all("Secure" in cookie for cookie in response.headers.get_list("set-cookie"))


@pytest.mark.parametrize(
    ("who", "status", "message"),
    [
        ("unknown", 401, "Unknown or revoked API key."),
        ("revoked", 401, "Unknown or revoked API key."),
        ("ingest", 403, "the console needs a key with the read scope"),
    ],
)
async def test_a_bad_key_is_an_error_on_the_login_page(
    console: Console, who: str, status: int, message: str
) -> None:
    async with console.browser() as client:
        response = await login(client, console.keys.get(who, "ew_not_a_key"))
    assert response.status_code == status
    assert message in response.text
    assert 'aria-invalid="true"' in response.text
    assert "ew_session" not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "/\tx"])
async def test_login_never_redirects_off_site(console: Console, target: str) -> None:
    async with console.browser() as client:
        response = await login(client, console.keys["read"], next_path=target)
    assert (response.status_code, response.headers["location"]) == (303, "/")


async def test_logout_ends_the_session(console: Console) -> None:
    async with console.signed_in("read") as client:
        refused = await client.post("/logout", data={})
        assert refused.status_code == 403
        response = await client.post("/logout", data={"csrf": csrf(client)})
        assert (response.status_code, response.headers["location"]) == (303, "/login")
        assert 'ew_session=""' in response.headers["set-cookie"]
        assert (await client.get("/")).status_code == 303


# --- CSRF and scopes ---------------------------------------------------------------------------------


async def test_state_changes_need_the_csrf_token(console: Console) -> None:
    _company, signal_id = await console.company("Csrf Test BV")
    async with console.signed_in("admin") as client:
        path = f"/signals/{signal_id}/acknowledge"
        for data, headers in [
            ({}, {}),
            ({"csrf": "x" * 43}, {}),
            ({}, {"X-CSRF-Token": "x" * 43}),
        ]:
            response = await client.post(path, data=data, headers=headers)
            assert response.status_code == 403, response.text
            assert "The form has expired" in response.text
        assert (await console.signals(_company))[0]["acknowledged_by"] is None
        # A JSON body is no form, whatever it carries.
        as_json = await client.post(path, json={"csrf": csrf(client)})
        assert as_json.status_code == 400
        # The htmx header, as the pages send it, is accepted.
        accepted = await client.post(path, data={}, headers={"X-CSRF-Token": csrf(client)})
        assert accepted.status_code == 303
    # The login form needs it too: another site cannot sign a browser in with its own key.
    async with console.browser() as client:
        response = await client.post("/login", data={"key": console.keys["read"]})
        assert response.status_code == 403
        assert "ew_session" not in response.headers.get("set-cookie", "")


async def test_admin_pages_need_the_admin_scope(console: Console) -> None:
    async with console.signed_in("read") as client:
        for path in ("/subscriptions", "/silences"):
            response = await client.get(path)
            assert response.status_code == 403
            assert "needs an API key with the admin scope" in response.text
            assert "Signed in as" in response.text  # the menu stays, to go back
        created = await client.post("/silences", data={"csrf": csrf(client), "comment": "x"})
        assert created.status_code == 403
        inbox = await client.get("/")
        assert 'href="/subscriptions"' not in inbox.text


async def test_read_keys_cannot_acknowledge_or_resolve(console: Console) -> None:
    company, signal_id = await console.company("Read Only BV")
    async with console.signed_in("read") as client:
        page = await client.get(f"/companies/{company}")
        assert page.status_code == 200
        assert "Acknowledge</button>" not in page.text
        assert "Resolve</button>" not in page.text
        for action in ("acknowledge", "resolve"):
            response = await client.post(f"/signals/{signal_id}/{action}", data={"csrf": csrf(client)})
            assert response.status_code == 403
            assert "lacks the &#39;admin&#39; scope" in response.text  # the API's own answer
            htmx = await client.post(
                f"/signals/{signal_id}/{action}", data={"csrf": csrf(client)}, headers={"HX-Request": "true"}
            )
            assert htmx.status_code == 403
            assert (htmx.headers["HX-Retarget"], htmx.headers["HX-Reswap"]) == ("#messages", "innerHTML")
            assert htmx.text.startswith('<p class="alert" role="alert">')
    [signal] = await console.signals(company)
    assert (signal["status"], signal["acknowledged_by"]) == ("open", None)


# --- inbox and actions -------------------------------------------------------------------------------


async def test_acknowledge_and_resolve_in_place(console: Console) -> None:
    company, signal_id = await console.company("In Place NV")
    async with console.signed_in("admin") as client:
        inbox = await client.get("/")
        assert f'id="signal-{signal_id}"' in inbox.text

        htmx = {"HX-Request": "true", "X-CSRF-Token": csrf(client)}
        acked = await client.post(
            f"/signals/{signal_id}/acknowledge", data={"view": "inbox", "back": "/"}, headers=htmx
        )
        assert acked.status_code == 200
        assert acked.text.lstrip().startswith(f'<li class="signal sev-critical" id="signal-{signal_id}">')
        assert "<html" not in acked.text  # a fragment: the row only
        assert "Acknowledged by EW_ADMIN_KEY at" in text_of(acked.text)
        assert "Acknowledge</button>" not in acked.text
        assert "Resolve</button>" in acked.text

        resolved = await client.post(
            f"/signals/{signal_id}/resolve",
            data={"view": "inbox", "back": "/", "note": "Paid in full <b>today</b>"},
            headers=htmx,
        )
        assert resolved.status_code == 200
        assert "Resolved by EW_ADMIN_KEY at" in text_of(resolved.text)
        assert "Note: Paid in full &lt;b&gt;today&lt;/b&gt;" in resolved.text
        assert "Resolve</button>" not in resolved.text

        assert f'id="signal-{signal_id}"' not in (await client.get("/")).text
    [signal] = await console.signals(company)
    assert (signal["status"], signal["resolved_by"], signal["note"]) == (
        "resolved",
        "EW_ADMIN_KEY",
        "Paid in full <b>today</b>",
    )


async def test_without_javascript_actions_redirect_back(console: Console) -> None:
    company, signal_id = await console.company("No Script BV")
    async with console.signed_in("admin") as client:
        response = await client.post(
            f"/signals/{signal_id}/acknowledge",
            data={"csrf": csrf(client), "back": f"/companies/{company}"},
        )
        assert (response.status_code, response.headers["location"]) == (303, f"/companies/{company}")
        missing = await client.post("/signals/sig_nothing/resolve", data={"csrf": csrf(client)})
        assert missing.status_code == 404
        assert "No signal sig_nothing." in missing.text


async def test_inbox_filters(console: Console) -> None:
    manager = f"Filter.{new_reference()}@example.com"
    critical, critical_id = await console.company("Filter Critical NV", account_manager=manager)
    _high, high_id = await console.company("Filter High NV", "dissolution", account_manager=manager)
    _other, other_id = await console.company("Filter Other NV", account_manager="someone@example.com")
    async with console.signed_in("read") as client:

        async def shown(**params: str) -> set[str]:
            response = await client.get("/", params=params)
            assert response.status_code == 200, response.text
            return set(re.findall(r'id="signal-(sig_[0-9a-f]+)"', response.text)) & {
                critical_id,
                high_id,
                other_id,
            }

        assert await shown() == {critical_id, high_id, other_id}
        assert await shown(account_manager=manager.upper()) == {critical_id, high_id}
        assert await shown(account_manager=manager, min_severity="critical") == {critical_id}
        assert await shown(account_manager=manager, category="opportunity") == set()
        assert await shown(min_severity="", category="", account_manager="") == {
            critical_id,
            high_id,
            other_id,
        }
        bad = await client.get("/", params={"min_severity": "dreadful"})
        assert bad.status_code == 400
        assert "Unknown severity or category" in bad.text
        bad_cursor = await client.get("/", params={"cursor": "nonsense"})
        assert bad_cursor.status_code == 400
        assert "start from the first page" in bad_cursor.text
    assert critical


async def test_inbox_pages_by_account_manager(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    manager = f"pages.{new_reference()}@example.com"
    ids = [(await console.company(f"Paged {n} BV", account_manager=manager))[1] for n in range(3)]
    # Small pages and scans, so that the account manager's three signals span pages and scans.
    monkeypatch.setattr(views, "INBOX_LIMIT", 2)
    monkeypatch.setattr(views, "SCAN_BATCH", 2)
    async with console.signed_in("read") as client:
        seen: list[str] = []
        url: str | None = f"/?account_manager={manager}"
        while url is not None:
            page = await client.get(url)
            seen += re.findall(r'id="signal-(sig_[0-9a-f]+)"', page.text)
            found = re.search(r'<a href="([^"]+)" rel="next">', page.text)
            url = found.group(1).replace("&amp;", "&") if found else None
        # Newest first (all three were raised at the same event time: by id), each once.
        assert seen == sorted(ids, reverse=True)


# --- the company page --------------------------------------------------------------------------------


async def test_company_page_shows_the_contacts_and_the_register(console: Console) -> None:
    company, _ = await console.company("Contactpersonen NV")
    headers = {"Authorization": f"Bearer {console.keys['ingest']}"}
    body = {
        "name": "Sofie <b>Maes</b>",
        "function": "CFO",
        "dmu_role": "decision_maker",
        "reporter": "jan@x.be",
    }
    put = await console.api.put(f"/v1/companies/{company}/contacts/crm-1", json=body, headers=headers)
    assert put.status_code == 202, put.text
    async with console.signed_in("read") as client:

        async def page() -> str:
            return (await client.get(f"/companies/{company}")).text

        html = await until(page, lambda text: "CFO" in text)
        assert "Sofie &lt;b&gt;Maes&lt;/b&gt;" in html  # escaped, never markup
        text = text_of(html)
        assert "Contacts (1)" in text
        assert "decision maker" in text
        assert "Buying unit 1 contact, decision maker known" in text
        assert "Not found in the loaded register extract." in text


async def test_company_page(console: Console) -> None:
    company, signal_id = await console.company(
        "Brouwerij Voorbeeld NV",
        account_manager="an.peeters@example.com",
        segment="horeca",
        credit_limit_eur=50000,
        region="Flanders",
    )
    headers = {"Authorization": f"Bearer {console.keys['ingest']}"}
    observations = [
        {"company_id": company, "kind": "growth", "reporter": "jan@example.com", "note": f"visit {n}"}
        for n in range(views.TIMELINE_LIMIT + 1)
    ]
    batch = await console.api.post("/v1/observations:batch", json=observations, headers=headers)
    assert batch.status_code == 202, batch.text
    async with console.signed_in("read") as client:

        async def events() -> int:
            page = await client.get(f"/companies/{company}")
            return page.text.count('<li class="event">')

        await until(events, lambda count: count == views.TIMELINE_LIMIT)
        page = await client.get(f"/companies/{company[2:6]}.{company[6:9]}.{company[9:]}")  # any form
        assert page.status_code == 200
        text = text_of(page.text)
        assert "Brouwerij Voorbeeld NV" in text
        assert "Account manager an.peeters@example.com" in text
        assert "Credit limit €50,000" in text
        assert "Risk level Critical" in text
        # The bankruptcy of 2025-10-01 took the score from 100 to 40: one change, drawn from that day.
        assert 'id="score-chart"' in page.text
        assert "Score (100 is safest) from 2025-10-01 to now" in text
        assert "The changes (1)" in text
        assert re.search(r"<td>40</td><td>Critical</td>", page.text)
        assert f'id="signal-{signal_id}"' in page.text
        assert "Evidence" in text
        assert "Publication · Bankruptcy" in text
        next_url = re.search(r'<a href="([^"]+)" rel="next">Older events', page.text)
        assert next_url is not None
        older = await client.get(next_url.group(1).replace("&amp;", "&"))
        assert older.status_code == 200
        assert older.text.count('<li class="event">') == 2  # 27 events: 25, then 2
        assert "First page" in older.text

        unknown = await client.get(f"/companies/{new_company()}")
        assert unknown.status_code == 404
        assert "Nothing was received about" in unknown.text
        invalid = await client.get("/companies/0403.170.702")
        assert invalid.status_code == 404
        assert "is not an enterprise number" in invalid.text


async def test_third_party_text_is_escaped(console: Console) -> None:
    name = "<script>alert('owned')</script><img src=x onerror=alert(1)> & Co"
    company, _signal_id = await console.company(name)
    async with console.signed_in("admin") as client:
        for path in ("/", f"/companies/{company}"):
            response = await client.get(path)
            assert response.status_code == 200
            assert "<script>alert" not in response.text
            assert "<img src=x" not in response.text
            assert (
                "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; Co"
                in (response.text)
            )
            csp = response.headers["content-security-policy"]
            assert "script-src 'self'" in csp
            assert "unsafe-inline" not in csp
            assert response.headers["cache-control"] == "no-store"


# --- the notifier's pages ----------------------------------------------------------------------------


async def test_subscriptions_page(console: Console) -> None:
    async with console.signed_in("admin") as client:
        token = csrf(client)
        refused = await client.post(
            "/subscriptions",
            data={"csrf": token, "name": "bad", "channel": "email", "email": "not-an-address"},
        )
        assert refused.status_code == 422
        assert 'id="email-error"' in refused.text
        assert 'value="bad"' in refused.text  # what was typed stays

        name = f"credit desk {new_reference()}"
        created = await client.post(
            "/subscriptions",
            data={
                "csrf": token,
                "name": name,
                "channel": "webhook",
                "url": "http://127.0.0.1:9/hook",
                "email": "left over from email@example.com",
                "min_severity": "high",
                "categories": "risk",
                "segments": "horeca, key accounts",
            },
        )
        # Redirected (a reload must not subscribe twice); the next page shows the secret, once.
        assert (created.status_code, created.headers["location"]) == (303, "/subscriptions")
        assert "HttpOnly" in created.headers["set-cookie"]
        shown = await client.get("/subscriptions")
        [secret] = re.findall(r'value="(whsec_[^"]+)"', shown.text)
        assert "shown this once only" in shown.text
        listed = await client.get("/subscriptions")
        assert name in listed.text
        assert secret not in listed.text
        assert "whsec_" not in listed.text
        assert "Segments: horeca, key accounts" in listed.text

        [sub_id] = re.findall(
            r'action="/subscriptions/(sub_[0-9a-f]+)/delete"[^<]*<input[^>]*>\s*<button[^>]*>Delete “' + name,
            listed.text,
        )
        deleted = await client.post(f"/subscriptions/{sub_id}/delete", data={"csrf": token})
        assert (deleted.status_code, deleted.headers["location"]) == (303, "/subscriptions")
        assert name not in (await client.get("/subscriptions")).text


async def test_silences_page(console: Console) -> None:
    company = new_company()
    async with console.signed_in("admin") as client:
        token = csrf(client)
        page = await client.get("/silences")
        assert page.status_code == 200
        assert re.search(
            r'id="ends_at" name="ends_at" type="datetime-local" required value="\d{4}-\d\d-\d\dT\d\d:\d\d"',
            page.text,
        )

        refused = await client.post(
            "/silences",
            data={"csrf": token, "company_id": "0403.170.702", "ends_at": "2000-01-01T00:00", "comment": "x"},
        )
        assert refused.status_code == 422
        assert 'id="company_id-error"' in refused.text

        comment = f"talking to the curator {new_reference()}"
        created = await client.post(
            "/silences",
            data={
                "csrf": token,
                "company_id": company,
                "signal": "bankruptcy",
                "ends_at": "2099-01-01T09:30",
                "comment": comment,
            },
        )
        assert (created.status_code, created.headers["location"]) == (303, "/silences")
        listed = await client.get("/silences")
        assert comment in listed.text
        assert "2099-01-01 09:30 UTC" in listed.text
        [silence_id] = re.findall(r'action="/silences/(sil_[0-9a-f]+)/end"', listed.text.split(comment)[1])[
            :1
        ]
        ended = await client.post(f"/silences/{silence_id}/end", data={"csrf": token})
        assert ended.status_code == 303
        assert comment not in (await client.get("/silences")).text


# --- serving -----------------------------------------------------------------------------------------


async def test_the_console_stays_out_of_the_openapi_document(console: Console) -> None:
    document = (await console.api.get("/openapi.json")).json()
    assert all(path.startswith(("/v1/", "/healthz", "/readyz", "/metrics")) for path in document["paths"])
    assert (await console.api.get("/docs")).status_code == 200
    htmx = await console.api.get("/static/vendor/htmx/htmx.min.js")
    assert htmx.status_code == 200
    assert "javascript" in htmx.headers["content-type"]
    assert (await console.api.get("/static/console.css")).status_code == 200


async def test_the_signals_service_alone_serves_the_whole_console(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('signals-only') / 'ew.db'}",
        admin_key=ADMIN_KEY,
    )
    app = create_app(settings, ["signals"])
    async with app.router.lifespan_context(app), httpx.AsyncClient() as unused:
        console = Console(app, {"admin": ADMIN_KEY}, unused)
        async with console.signed_in("admin") as client:
            assert (await client.get("/")).status_code == 200
            # The notifier's pages work through its routes, which this app does not serve itself.
            assert (await client.get("/subscriptions")).status_code == 200
            created = await client.post(
                "/subscriptions",
                data={"csrf": csrf(client), "name": "desk", "channel": "email", "email": "desk@example.com"},
            )
            assert created.status_code == 303, text_of(created.text)
            assert "desk@example.com" in (await client.get("/subscriptions")).text
            not_served = await client.get(
                "/v1/subscriptions", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
            )
            assert not_served.status_code == 404
