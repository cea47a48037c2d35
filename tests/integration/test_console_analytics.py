"""The console's analytics pages on the analyses' data set with known answers (see
`test_signals_analytics`), as of that data set's date; and the score history on the company page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from shared.auth import Scope
from shared.settings import Settings
from tests.harness.app import prepared_database, serving, test_keys
from tests.integration.test_console_pages import login, text_of
from tests.integration.test_signals_analytics import AS_OF, A, B, C, load

ADMIN_KEY = "ew_test_admin_key_for_the_console_analytics"
DAY = {"as_of": AS_OF.date().isoformat()}
PAGES = ["/analytics", "/analytics/rfm", "/analytics/churn", "/analytics/cross-sell", "/analytics/dmu"]


@pytest.fixture
async def browser(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A signed-in browser (a `read` key) of an app whose database holds the data set."""
    await prepared_database(sqlite_url, load)
    settings = Settings(_env_file=None, database_url=sqlite_url, admin_key=ADMIN_KEY, sweep_interval=0)
    async with serving(settings, ["signals"], base_url="http://console.test") as (client, infra):
        keys = await test_keys(infra, ADMIN_KEY, revoked_scope=Scope.read)
        for path in PAGES:
            anonymous = await client.get(path)
            assert anonymous.status_code == 303, path
            assert anonymous.headers["location"].startswith("/login")
        assert (await login(client, keys["read"])).status_code == 303
        yield client


async def page(client: httpx.AsyncClient, path: str, **params: str) -> str:
    response = await client.get(path, params={**DAY, **params})
    assert response.status_code == 200, response.text
    assert "Content-Security-Policy" in response.headers
    return response.text


async def test_profile_and_value(browser: httpx.AsyncClient) -> None:
    html = await page(browser, "/analytics")
    text = text_of(html)
    # Orders from 2025-11-24 on: A 500 + 1000, C 800, F 100; D's order of 2025-10-01 is older.
    assert f"Customer {A[-4:]} horeca €1,500 2" in text  # revenue, then orders
    assert "Revenue by segment" in text
    assert "horeca €2,300" in text  # A and C
    assert 'aria-current="page">Profile and value' in html
    # The other analyses keep the filters.
    assert f'href="/analytics/rfm?as_of={DAY["as_of"]}"' in html


async def test_rfm_grid(browser: httpx.AsyncClient) -> None:
    html = await page(browser, "/analytics/rfm")
    cells = [int(count) for _level, count in re.findall(r'<td class="heat-(\d)">(\d+)</td>', html)]
    assert len(cells) == 25
    assert sum(cells) == 5  # A, B, C, D and F ordered; E and H did not
    assert "Customers per RFM segment" in text_of(html)


async def test_churn_and_the_segment_filter(browser: httpx.AsyncClient) -> None:
    text = text_of(await page(browser, "/analytics/churn"))
    assert "1 customer silent since" in text
    assert f"Customer {B[-4:]}" in text
    retail = text_of(await page(browser, "/analytics/churn", segment="retail"))
    assert "No customer has gone silent." in retail
    assert f"Customer {B[-4:]}" not in retail


async def test_cross_sell(browser: httpx.AsyncClient) -> None:
    text = text_of(await page(browser, "/analytics/cross-sell"))
    assert "1 suggestion" in text
    assert f"Customer {C[-4:]} horeca labels" in text


async def test_buying_units(browser: httpx.AsyncClient) -> None:
    text = text_of(await page(browser, "/analytics/dmu"))
    assert "Customers 7" in text  # every monitored customer, none with contacts yet
    assert "With contacts 0" in text


async def test_a_bad_date_is_an_error_page(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/analytics/rfm", params={"as_of": "23/11/2026"})
    assert response.status_code == 400
    assert "YYYY-MM-DD" in response.text
