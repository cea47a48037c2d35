"""Fuzzing of the whole HTTP API from its own OpenAPI document (schemathesis).

Every operation of `earlywarning up` (ingest, signals and notifier in one app) gets generated valid and
invalid requests, sent with the admin key to a real uvicorn server, so that the lifespan opens the database
and the bus as in production. Whatever the input, the app must not answer 5xx, and every answer must match
the schema its OpenAPI document declares for that status code.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from services.runner import create_app
from shared.settings import Settings
from shared.webhooks import sign
from tests.harness import free_port

ADMIN_KEY = "ew_fuzz_admin_key"
BUREAU_SECRET = "whsec_" + base64.b64encode(b"fuzz-bureau-secret-0123456789abc").decode()
BUREAU_PATH = "/v1/bureau/events"
START_TIMEOUT = 60.0
CHECKS = [not_a_server_error, response_schema_conformance]


class BackgroundServer(uvicorn.Server):
    """uvicorn in a thread of the test process; off the main thread it installs no signal handlers."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.thread = threading.Thread(target=self.run, name="fuzz-uvicorn", daemon=True)

    def start(self, url: str) -> None:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            # Ready means the lifespan ran: the database is migrated and the bus started.
            try:
                if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the app did not become ready at {url}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.should_exit = True
        self.thread.join(timeout=30)


def app_settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # a developer's .env must not reach the test app
        database_url=database_url,
        kafka_bootstrap=None,
        admin_key=ADMIN_KEY,
        bureau_secret=BUREAU_SECRET,
    )


SERVICES = ["ingest", "signals", "notifier"]
# The document is built without running the app, at collection time: one test per operation. The fixture
# checks that the running app serves this same document. (schemathesis.pytest.from_fixture, which would
# load it from the server, does not work with pytest 9: it sets Function._nodeid, which pytest 9 removed.)
OPENAPI = create_app(app_settings("sqlite+aiosqlite:///:memory:"), SERVICES).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app of `earlywarning up` in a real uvicorn server on its own SQLite database."""
    database = tmp_path_factory.mktemp("fuzz") / "ew.db"
    app = create_app(app_settings(f"sqlite+aiosqlite:///{database}"), SERVICES)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = BackgroundServer(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on")
    )
    server.start(url)
    try:
        assert requests.get(f"{url}/openapi.json", timeout=10).json() == OPENAPI
        yield url
    finally:
        server.stop()


def bureau_signature(case: schemathesis.Case[Any]) -> dict[str, Any]:
    """The request body as bytes plus its Standard Webhooks headers, so that the handler behind the
    signature check is fuzzed too (an unsigned request would only ever meet the 401)."""
    kwargs = case.as_transport_kwargs(base_url="http://127.0.0.1")
    if "json" in kwargs:
        body = json.dumps(kwargs["json"]).encode()
    elif isinstance(kwargs.get("data"), bytes | str):
        data = kwargs["data"]
        body = data if isinstance(data, bytes) else data.encode()
    else:
        return {}
    msg_id, timestamp = f"msg_{uuid.uuid4().hex}", int(time.time())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(BUREAU_SECRET, msg_id, timestamp, body),
    }
    if "content-type" not in {name.lower() for name in kwargs.get("headers", {})}:
        headers["Content-Type"] = "application/json"
    return {"headers": headers, "data": body}


@schema.parametrize()
# 300 examples per operation: ~40 s here. 30 or 100 did not reach the rare inputs (extreme timestamps)
# that broke the app; the example database is off so that the test writes nothing into the tree.
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_server_error_and_responses_match_the_schema(base_url: str, case: schemathesis.Case[Any]) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    extra: dict[str, Any] = {}
    if case.operation.path == BUREAU_PATH:
        signed = bureau_signature(case)
        headers |= signed.pop("headers", {})
        extra = signed
    case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30, **extra)
