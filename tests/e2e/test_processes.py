"""The `earlywarning` processes as a user starts them: `up` on an empty directory, `serve` on Kafka + PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness import free_port

EARLYWARNING = str(Path(sys.executable).with_name("earlywarning"))
# Uvicorn re-raises SIGTERM once it has shut down gracefully, so the exit status reports the signal.
GRACEFUL_EXIT = (0, -signal.SIGTERM)


class Process:
    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.log = cwd / f"{args[0]}-{free_port()}.log"
        self._log_file = self.log.open("wb")
        self.popen = subprocess.Popen(
            [EARLYWARNING, *args], cwd=cwd, env=env, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, base: str, timeout: float = 60.0) -> float:
        """Seconds from now until /readyz answers 200."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.popen.poll() is not None:
                raise AssertionError(f"exited with {self.popen.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"not ready after {timeout}s:\n{self.output()}")

    def terminate(self, timeout: float = 45.0) -> int:
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        finally:
            if self.popen.poll() is None:
                self.popen.kill()
            self._log_file.close()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EW_")}
    return {**env, "EW_LOG_FORMAT": "json", **extra}


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        if process.popen.poll() is None:
            process.popen.kill()
            process.popen.wait()


def test_up_on_an_empty_directory(tmp_path: Path, processes: list[Process]) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    up = Process(["up", "--port", str(port)], tmp_path, _env())
    processes.append(up)
    up.wait_ready(base)

    assert (tmp_path / "earlywarning.db").is_file()
    ready = httpx.get(f"{base}/readyz").json()
    assert ready == {
        "status": "ready",
        "checks": {
            "database": "ok",
            "bus": "ok",
            "signals:ew.signals": "ok",
            "notifier:ew.notifier": "ok",
            "ew.dlq.gauge": "ok",
        },
    }
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{base}/openapi.json").json()["info"]["title"] == "Early Warning"

    missing = httpx.get(f"{base}/no-such-thing")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "Not Found", "details": []}

    metrics = httpx.get(f"{base}/metrics").text
    assert (
        'ew_http_requests_total{method="GET",route="/healthz",service="ingest+signals+notifier",status="200"} 1.0'
        in metrics
    )
    assert 'route="unmatched"' in metrics
    assert 'status="404"' in metrics

    # Graceful shutdown: after SIGTERM the consumers stop, then the application shuts down.
    assert up.terminate() in GRACEFUL_EXIT
    messages = [json.loads(line)["msg"] for line in up.output().splitlines() if line.startswith("{")]
    assert "stopped ingest, signals, notifier" in messages, up.output()
    assert messages.index("stopped ingest, signals, notifier") < messages.index(
        "Application shutdown complete."
    )


def test_topics_and_dlq_commands_on_the_embedded_bus(tmp_path: Path) -> None:
    env = _env()
    topics = subprocess.run([EARLYWARNING, "topics"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert topics.returncode == 0, topics.stderr
    # On a pipe the command prints tab-separated rows with a header, for scripts.
    rows = [line.split("\t") for line in topics.stdout.splitlines()]
    assert rows[0] == ["topic", "partition", "end offset", "group", "committed", "lag"]
    listed = {row[0] for row in rows[1:]}
    assert {"ew.observations", "ew.signals", "ew.dlq.ew.bureau"} <= listed
    assert all(len(row) == 6 for row in rows)
    dlq = subprocess.run(
        [EARLYWARNING, "dlq", "list", "ew.orders"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert dlq.returncode == 0, dlq.stderr
    assert "no dead letters for ew.orders" in dlq.stdout


@pytest.mark.kafka
@pytest.mark.postgres
def test_each_service_serves_on_kafka_and_postgres(
    tmp_path: Path, kafka_bootstrap: str, pg_database_url: str, processes: list[Process]
) -> None:
    env = _env(EW_KAFKA_BOOTSTRAP=kafka_bootstrap, EW_DATABASE_URL=pg_database_url, EW_BUS_PARTITIONS="3")
    bases = {}
    for service in ("ingest", "signals", "notifier"):
        port = free_port()
        bases[service] = f"http://127.0.0.1:{port}"
        processes.append(
            Process(["serve", service, "--host", "127.0.0.1", "--port", str(port)], tmp_path, env)
        )
    for process, base in zip(processes, bases.values(), strict=True):
        process.wait_ready(base)
        checks = httpx.get(f"{base}/readyz").json()["checks"]
        assert {"database", "bus"} <= set(checks)
        assert set(checks.values()) == {"ok"}
    assert httpx.get(f"{bases['signals']}/openapi.json").json()["info"]["title"] == "Early Warning signals"

    topics = subprocess.run([EARLYWARNING, "topics"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert topics.returncode == 0, topics.stderr
    assert "ew.publications" in topics.stdout
    assert "ew.dlq.ew.signals" in topics.stdout

    for process in processes:
        assert process.terminate() in GRACEFUL_EXIT, process.output()
        assert "Application shutdown complete." in process.output()


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    env = _env()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [EARLYWARNING, "keys", *args], cwd=tmp_path, env=env, capture_output=True, text=True
        )

    created = run("create", "--name", "crm-sync", "--scope", "ingest", "--scope", "read")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("ew_")
    assert len(key) > 40
    assert "crm-sync" in created.stderr  # the id and scopes go to stderr, the key alone to stdout

    rows = [line.split("\t") for line in run("list").stdout.splitlines()]
    assert rows[0] == ["id", "name", "prefix", "scopes", "created", "revoked"]
    [(key_id, name, prefix, scopes, _created, revoked)] = rows[1:]
    assert (name, scopes, revoked) == ("crm-sync", "ingest read", "")
    assert key.startswith(prefix.rstrip("…"))
    assert key not in run("list").stdout  # never the value

    assert run("revoke", key_id).returncode == 0
    assert run("list").stdout.splitlines()[1].split("\t")[5] != ""
    missing = run("revoke", "no-such-key")
    assert missing.returncode == 1
    assert "no live key" in missing.stderr

    refused = run("create", "--name", "x", "--scope", "superuser")
    assert refused.returncode == 2
