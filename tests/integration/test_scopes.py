"""The scope table of every endpoint of `earlywarning up`, per contract section 3: no, unknown or revoked key
401; a known key without the scope 403; a key with the scope (or an admin key) neither. The table must name
every operation of the OpenAPI document, so that a new endpoint cannot go without its line."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from shared.auth import Scope
from shared.settings import Settings
from tests.harness.app import serving, test_keys
from tests.integration.test_signals_service import BUREAU_SECRET

ADMIN_KEY = "ew_test_admin_key_for_the_scope_table_0000"
PUBLIC = "public"
SIGNED = "signed"  # the bureau webhook: its Standard Webhooks signature, not a key
COMPANY = "BE0403170701"

TABLE: dict[tuple[str, str], Scope | str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("POST", "/v1/bureau/events"): SIGNED,
    ("PUT", "/v1/portfolio/{company_id}"): Scope.ingest,
    ("DELETE", "/v1/portfolio/{company_id}"): Scope.ingest,
    ("GET", "/v1/portfolio/{company_id}"): Scope.read,
    ("PUT", "/v1/companies/{company_id}/contacts/{contact_id}"): Scope.ingest,
    ("DELETE", "/v1/companies/{company_id}/contacts/{contact_id}"): Scope.ingest,
    ("GET", "/v1/companies/{company_id}/contacts/{contact_id}"): Scope.read,
    ("GET", "/v1/companies/{company_id}/contacts"): Scope.read,
    ("POST", "/v1/observations"): Scope.ingest,
    ("POST", "/v1/observations:batch"): Scope.ingest,
    ("POST", "/v1/publications"): Scope.ingest,
    ("POST", "/v1/orders"): Scope.ingest,
    ("POST", "/v1/orders:batch"): Scope.ingest,
    ("GET", "/v1/analytics/value"): Scope.read,
    ("GET", "/v1/analytics/profile"): Scope.read,
    ("GET", "/v1/analytics/rfm"): Scope.read,
    ("GET", "/v1/analytics/churn"): Scope.read,
    ("GET", "/v1/analytics/cross-sell"): Scope.read,
    ("GET", "/v1/analytics/dmu"): Scope.read,
    ("GET", "/v1/companies/{company_id}"): Scope.read,
    ("GET", "/v1/companies/{company_id}/timeline"): Scope.read,
    ("GET", "/v1/signals"): Scope.read,
    # Acknowledging and resolving is the credit team's decision: admin (see the note in the README).
    ("POST", "/v1/signals/{signal_id}/acknowledge"): Scope.admin,
    ("POST", "/v1/signals/{signal_id}/resolve"): Scope.admin,
    ("POST", "/v1/subscriptions"): Scope.admin,
    ("GET", "/v1/subscriptions"): Scope.admin,
    ("GET", "/v1/subscriptions/{subscription_id}"): Scope.admin,
    ("DELETE", "/v1/subscriptions/{subscription_id}"): Scope.admin,
    ("GET", "/v1/silences"): Scope.read,
    ("POST", "/v1/silences"): Scope.admin,
    ("DELETE", "/v1/silences/{silence_id}"): Scope.admin,
    # The delivery log is what was alerted: `read` ("read companies, signals, alerts").
    ("GET", "/v1/deliveries"): Scope.read,
    ("POST", "/v1/deliveries/{delivery_id}/retry"): Scope.admin,
}
WHO = ["missing", "unknown", "revoked", "ingest", "read", "admin"]


@pytest.fixture(scope="module")
async def app(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    database = tmp_path_factory.mktemp("scopes") / "ew.db"
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{database}",
        admin_key=ADMIN_KEY,
        bureau_secret=BUREAU_SECRET,
        sweep_interval=0,
    )
    async with serving(settings, ["ingest", "signals", "notifier"], base_url="http://ew") as (client, infra):
        yield client, await test_keys(infra, ADMIN_KEY, revoked_scope=Scope.admin)


async def test_the_table_names_every_operation(app: tuple[httpx.AsyncClient, dict[str, str]]) -> None:
    client, _keys = app
    document = (await client.get("/openapi.json")).json()
    operations = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert operations == set(TABLE)


def expected(rule: Scope | str, who: str) -> set[int] | None:
    """The statuses `who` must get (None: anything but 401 and 403)."""
    if rule == PUBLIC:
        return None
    if rule == SIGNED:
        return {401}  # a key is no signature, whoever holds it
    if who in ("missing", "unknown", "revoked"):
        return {401}
    if who == "admin" or who == rule:
        return None
    return {403}


@pytest.mark.parametrize(("method", "path"), sorted(TABLE))
async def test_each_key_gets_what_its_scope_allows(
    app: tuple[httpx.AsyncClient, dict[str, str]], method: str, path: str
) -> None:
    client, keys = app
    url = path.format(company_id=COMPANY, contact_id="crm-1", signal_id="sig_x", subscription_id="sub_x",
                      silence_id="sil_x", delivery_id="dlv_x")  # fmt: skip
    for who in WHO:
        headers = {} if who == "missing" else {"Authorization": f"Bearer {keys.get(who, 'ew_not_a_key')}"}
        response = await client.request(method, url, headers=headers, json={})
        allowed = expected(TABLE[(method, path)], who)
        if allowed is None:
            assert response.status_code not in (401, 403), (who, response.text)
            assert response.status_code < 500, (who, response.text)
        else:
            assert response.status_code in allowed, (who, response.status_code, response.text)
            assert response.json()["error"] == (
                "unauthorized" if response.status_code == 401 else "forbidden"
            )
