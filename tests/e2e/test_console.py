"""The console in a real browser: Debian's Chromium, headless, driven by Playwright, on `earlywarning up`
started as a user starts it (a process on a free port, a fresh SQLite database, `EW_ADMIN_KEY`).

Data goes in through the HTTP API (portfolio, gazette publications, an observation); the browser then
signs in, clicks from the inbox to a company and back, acknowledges and resolves in place, and checks
what a read-only key, a wrong key, a hostile company name and a phone screen get. Every step leaves a
screenshot in `tests/artifacts/console/`.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.e2e.test_processes import EARLYWARNING, Process, _env
from tests.harness import REPO_ROOT, free_port
from tests.integration.test_signals_service import new_company, new_reference

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO_ROOT / "tests" / "artifacts" / "console"
ADMIN_KEY = "ew_e2e_console_admin_key_0000000000000000000"
BREWERY = "Brouwerij Voorbeeld NV"
HOSTILE = '<script>window.__owned = 1</script><img src=x onerror="window.__owned = 2"> & Zonen'
PHONE = {"width": 375, "height": 812}
LAPTOP = {"width": 1366, "height": 768}


@dataclass
class Server:
    base: str
    read_key: str
    brewery: str
    brewery_signal: str
    hostile: str
    hostile_signal: str


def _signals(base: str, company: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{base}/v1/signals", params={"company_id": company}, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _raise_signal(base: str, name: str, rubric: str, **portfolio: Any) -> tuple[str, str]:
    """A monitored company with one open signal from a gazette publication: (company id, signal id)."""
    company = new_company()
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    put = httpx.put(f"{base}/v1/portfolio/{company}", json={"name": name, **portfolio}, headers=auth)
    assert put.status_code == 202, put.text
    publication = {
        "reference": new_reference(),
        "company_id": company,
        "published_on": datetime.now(UTC).date().isoformat(),
        "rubrics": [rubric],
    }
    assert httpx.post(f"{base}/v1/publications", json=publication, headers=auth).status_code == 202
    deadline = time.monotonic() + 30
    while not (found := _signals(base, company)) or found[0]["company_name"] != name:
        assert time.monotonic() < deadline, f"no signal for {company}"
        time.sleep(0.1)
    return company, str(found[0]["id"])


CUSTOMERS = 12


def _order_history(base: str) -> None:
    """Customers with two years of orders, so that the analytics pages have something to chart."""
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    now = datetime.now(UTC)
    lines = ["packaging", "labels", "film", "boxes"]
    orders = []
    for n in range(CUSTOMERS):
        company = new_company()
        segment = ("horeca", "retail", "construction")[n % 3]
        entry = {"name": f"Customer {n + 1:02d} BV", "segment": segment, "employees": 5 + 20 * n}
        assert httpx.put(f"{base}/v1/portfolio/{company}", json=entry, headers=auth).status_code == 202
        # Customer n orders every (n + 1) months, for the last 24 - 2n months: recency and frequency vary.
        for month in range(2 * n, 24, n + 1):
            orders.append(
                {
                    "company_id": company,
                    "order_id": f"SO-{n}-{month}",
                    "ordered_at": (now - timedelta(days=30 * month + 1)).isoformat(),
                    "amount_eur": 1000 + 250 * n,
                    "product_line": lines[(n + month) % (1 + n % len(lines))],
                }
            )
    posted = httpx.post(f"{base}/v1/orders:batch", json=orders, headers=auth)
    assert posted.status_code == 202, posted.text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("console-e2e")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = _env(
        EW_DATABASE_URL=f"sqlite+aiosqlite:///{home / 'ew.db'}",
        EW_ADMIN_KEY=ADMIN_KEY,
        EW_WEBHOOK_ALLOW_PRIVATE="true",
        EW_BUS_POLL_INTERVAL="0.05",
    )
    up = Process(["up", "--port", str(port)], home, env)
    try:
        up.wait_ready(base)
        created = subprocess.run(
            [EARLYWARNING, "keys", "create", "--name", "viewer", "--scope", "read"],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        brewery, brewery_signal = _raise_signal(
            base,
            BREWERY,
            "bankruptcy",
            account_manager="an.peeters@example.com",
            segment="horeca",
            credit_limit_eur=50000,
            region="Flanders",
        )
        observation = {
            "company_id": brewery,
            "kind": "late_payment_suppliers",
            "reporter": "jan@example.com",
            "note": "Suppliers are waiting for their money.",
        }
        observed = httpx.post(
            f"{base}/v1/observations", json=observation, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
        assert observed.status_code == 202, observed.text
        hostile, hostile_signal = _raise_signal(base, HOSTILE, "dissolution")
        _order_history(base)
        yield Server(base, created.stdout.strip(), brewery, brewery_signal, hostile, hostile_signal)
    finally:
        up.terminate()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=LAPTOP)
    try:
        yield context
    finally:
        context.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def sign_in(page: Page, base: str, key: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Inbox")


def only_local_requests(page: Page, base: str) -> list[str]:
    """Every URL the page asks for that is neither the console's nor inline: must stay empty."""
    foreign: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((base, "data:")) else foreign.append(r.url))
    return foreign


def horizontal_overflow(page: Page) -> int:
    """Pixels the page is wider than the screen (0: no horizontal scroll)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


# Contrast (WCAG 2) of each visible element's text against the first opaque background behind it.
_LOWEST_CONTRAST = """
() => {
  const rgb = (value) => (value.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const background = (element) => {
    for (let e = element; e; e = e.parentElement) {
      const color = rgb(getComputedStyle(e).backgroundColor);
      if (color.length === 3 || color[3] > 0) return color;
    }
    return [255, 255, 255];
  };
  let lowest = { ratio: 99, text: "" };
  for (const element of document.querySelectorAll("body *")) {
    const ownText = [...element.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const box = element.getBoundingClientRect();
    if (!ownText || box.width === 0 || box.height === 0) continue;
    const [a, b] = [luminance(rgb(getComputedStyle(element).color)), luminance(background(element))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < lowest.ratio) lowest = { ratio, text: element.textContent.trim().slice(0, 60) };
  }
  return lowest;
}
"""


def assert_contrast(page: Page) -> None:
    lowest = page.evaluate(_LOWEST_CONTRAST)
    assert lowest["ratio"] >= 4.5, lowest


# --- the click-through ---------------------------------------------------------------------------------


def test_inbox_company_acknowledge_resolve(server: Server, context: BrowserContext) -> None:
    page = context.new_page()
    foreign = only_local_requests(page, server.base)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto(f"{server.base}/")
    expect(page).to_have_url(re.compile(r"/login$"))
    shot(page, "01-login")
    # Keyboard only: the skip link comes first and shows its focus; then the home link, the key field.
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "[document.activeElement.textContent, getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused == ["Skip to content", "solid"]
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "key"
    page.keyboard.type(ADMIN_KEY)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Inbox")
    # The session cookie is out of the page's reach.
    assert page.evaluate("document.cookie") == ""

    row = page.locator(f"#signal-{server.brewery_signal}")
    expect(row).to_contain_text("Critical")
    expect(row).to_contain_text("Bankruptcy")
    expect(row).to_contain_text("declared bankrupt")
    # A hostile company name is shown as text, and nothing of it ran.
    hostile_link = page.locator(f"#signal-{server.hostile_signal}").get_by_role("link")
    expect(hostile_link).to_have_text(HOSTILE)
    assert page.evaluate("window.__owned") is None
    assert_contrast(page)
    shot(page, "03-inbox")

    row.get_by_role("link", name=BREWERY).click()
    expect(page).to_have_url(f"{server.base}/companies/{server.brewery}")
    expect(page.get_by_role("heading", level=1)).to_have_text(BREWERY)
    profile = page.get_by_role("region", name="Profile")
    expect(profile).to_contain_text("an.peeters@example.com")
    expect(profile).to_contain_text("€50,000")
    risk = page.get_by_role("region", name="Risk")
    expect(risk).to_contain_text("Critical")
    history = page.get_by_role("region", name=re.compile("^Score over time"))
    expect(history.get_by_role("img", name=re.compile("^Score"))).to_be_visible()
    expect(history.locator("path.line")).to_have_count(1)
    signal = page.locator(f"#signal-{server.brewery_signal}")
    expect(signal.get_by_role("heading", name="Evidence")).to_be_visible()
    expect(signal.locator(".evidence li")).to_contain_text("Publication · Bankruptcy")
    timeline = page.get_by_role("region", name=re.compile("^Timeline"))
    expect(timeline.locator("li.event")).to_have_count(2)
    expect(timeline).to_contain_text("Late payment suppliers")
    expect(timeline).to_contain_text("Publication")
    assert_contrast(page)
    shot(page, "04-company")

    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Inbox")
    page.evaluate("window.__samePage = true")
    row = page.locator(f"#signal-{server.brewery_signal}")
    row.get_by_role("button", name="Acknowledge").click()
    expect(row).to_contain_text("Acknowledged by EW_ADMIN_KEY")
    expect(row.get_by_role("button", name="Acknowledge")).to_have_count(0)
    assert page.evaluate("window.__samePage") is True  # the row changed, the page was not reloaded
    shot(page, "05-inbox-acknowledged")

    row.get_by_label("Resolution note").fill("Claim filed with the curator.")
    row.get_by_role("button", name="Resolve").click()
    expect(row).to_contain_text("Resolved by EW_ADMIN_KEY")
    expect(row).to_contain_text("Note: Claim filed with the curator.")
    expect(row.get_by_role("button")).to_have_count(0)
    assert page.evaluate("window.__samePage") is True
    shot(page, "06-inbox-resolved")

    page.reload()
    expect(page.locator(f"#signal-{server.brewery_signal}")).to_have_count(0)
    expect(page.locator(f"#signal-{server.hostile_signal}")).to_have_count(1)
    shot(page, "07-inbox-after-resolve")

    [resolved] = _signals(server.base, server.brewery)
    assert (resolved["status"], resolved["note"]) == ("resolved", "Claim filed with the curator.")
    assert dialogs == []
    assert foreign == []


def test_a_wrong_key_is_an_error_on_the_login_page(server: Server, context: BrowserContext) -> None:
    page = context.new_page()
    page.goto(f"{server.base}/login")
    page.get_by_label("API key").fill("ew_this_is_not_a_key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Unknown or revoked API key.")
    expect(page.get_by_label("API key")).to_have_attribute("aria-invalid", "true")
    shot(page, "02-login-wrong-key")
    page.goto(f"{server.base}/")
    expect(page).to_have_url(re.compile(r"/login$"))


def test_a_read_only_key_cannot_acknowledge(server: Server, context: BrowserContext) -> None:
    page = context.new_page()
    sign_in(page, server.base, server.read_key)
    row = page.locator(f"#signal-{server.hostile_signal}")
    expect(row).to_be_visible()
    expect(row.get_by_role("button")).to_have_count(0)
    expect(page.get_by_role("link", name="Subscriptions")).to_have_count(0)
    shot(page, "08-read-only-inbox")

    # Sent anyway (as a crafted request would be, with the page's CSRF token): the API refuses it and
    # the page says so in its message area.
    page.evaluate(
        "(path) => htmx.ajax('POST', path, {source: document.body, target: '#messages'})",
        f"/signals/{server.hostile_signal}/acknowledge",
    )
    expect(page.locator("#messages")).to_contain_text("This API key lacks the 'admin' scope.")
    shot(page, "09-read-only-refused")
    [signal] = _signals(server.base, server.hostile)
    assert signal["acknowledged_by"] is None

    page.goto(f"{server.base}/subscriptions")
    expect(page.get_by_role("alert")).to_contain_text("needs an API key with the admin scope")


def test_a_phone_screen(server: Server, browser: Browser) -> None:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        sign_in(page, server.base, ADMIN_KEY)
        assert horizontal_overflow(page) <= 0
        shot(page, "10-phone-inbox")
        page.locator(f"#signal-{server.hostile_signal}").get_by_role("link").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(HOSTILE)
        assert horizontal_overflow(page) <= 0
        shot(page, "11-phone-company")
        for path in ("/subscriptions", "/silences"):
            page.goto(f"{server.base}{path}")
            assert horizontal_overflow(page) <= 0, path
    finally:
        context.close()


def test_analytics_pages(server: Server, context: BrowserContext, browser: Browser) -> None:
    page = context.new_page()
    sign_in(page, server.base, server.read_key)
    page.get_by_role("link", name="Analytics").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Profile and value")
    # The orders reach the analyses through the bus: wait until every customer is in the grid.
    deadline = time.monotonic() + 30
    while True:
        page.goto(f"{server.base}/analytics/rfm")
        counts = [int(n) for n in page.locator("table.heat td").all_inner_texts()]
        if sum(counts) == CUSTOMERS or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert sum(counts) == CUSTOMERS
    for tab, heading, name in (
        ("RFM", "RFM", "20-analytics-rfm"),
        ("Churn", "Churn", "21-analytics-churn"),
        ("Cross-sell", "Cross-sell", "22-analytics-cross-sell"),
        ("Buying units", "Buying units", "23-analytics-dmu"),
        ("Profile and value", "Profile and value", "24-analytics-profile"),
    ):
        page.get_by_role("navigation", name="Analyses").get_by_role("link", name=tab).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        assert_contrast(page)
        shot(page, name)
    page.get_by_role("textbox", name="Segment").fill("horeca")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"segment=horeca"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("segment horeca")

    phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        small = phone.new_page()
        sign_in(small, server.base, server.read_key)
        for path in ("/analytics", "/analytics/rfm", "/analytics/dmu"):
            small.goto(f"{server.base}{path}")
            assert horizontal_overflow(small) <= 0, path
        shot(small, "25-phone-analytics-rfm")
    finally:
        phone.close()


def test_subscriptions_and_silences(server: Server, context: BrowserContext) -> None:
    page = context.new_page()
    sign_in(page, server.base, ADMIN_KEY)
    page.get_by_role("link", name="Subscriptions").click()
    page.get_by_label("Name").fill("Credit desk")
    page.get_by_label("Webhook URL").fill("http://127.0.0.1:9/hook")
    page.get_by_label("Severity at least").select_option("high")
    page.get_by_label("Risk", exact=True).check()
    page.get_by_role("button", name="Create subscription").click()
    secret = page.get_by_label("Webhook secret")
    expect(secret).to_have_value(re.compile(r"^whsec_"))
    assert_contrast(page)
    shot(page, "12-subscription-created")
    page.reload()  # the secret is shown once
    expect(page.get_by_label("Webhook secret")).to_have_count(0)
    expect(page.get_by_role("row", name=re.compile("Credit desk"))).to_be_visible()

    page.get_by_role("link", name="Silences").click()
    page.get_by_label("Company").fill(server.hostile)
    page.get_by_label("Signal").select_option("dissolution")
    page.get_by_label("Why").fill("Liquidator is paying the suppliers.")
    page.get_by_role("button", name="Create silence").click()
    expect(page.get_by_role("row", name=re.compile("Liquidator is paying"))).to_be_visible()
    assert_contrast(page)
    shot(page, "13-silences")
    page.get_by_role("button", name="End now").click()
    expect(page.get_by_text("No active silences")).to_be_visible()
