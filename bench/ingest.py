"""HTTP intake throughput and latency, embedded bus on SQLite and Kafka + PostgreSQL side by side.

    .venv/bin/python bench/ingest.py [--duration 10] [--rate 500] [--bootstrap HOST:PORT]
                                     [--database-url postgresql+asyncpg://...] [--bus both|embedded|kafka]

For each bus the intake runs as a real subprocess: `earlywarning up` in a temporary directory (embedded
bus on SQLite, with the signals and notifier consumers in the same process, as users run it) and
`earlywarning serve ingest` (Kafka + PostgreSQL; a broker and a PostgreSQL from tests/harness unless
--bootstrap / --database-url are given). Each phase gets a freshly started server (and, for the embedded
bus, a fresh database), so that the backlog of one phase does not load the next. Phases:
  (a) POST /v1/observations, --concurrency requests in flight over keep-alive connections: requests/s;
  (b) open loop: POST /v1/observations sent on a fixed schedule of --rate requests/s whatever the answers,
      latency measured from the scheduled send time (so a stalled client or server is not hidden);
  (c) POST /v1/observations:batch with --batch-size observations each, --batch-inflight in flight: events/s.
Each phase runs --warmup seconds first, not counted. Only 202 answers count as accepted.
The raw aiokafka produce rate, measured in the same run against the same broker, is the ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import logging
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from aiokafka import AIOKafkaProducer

from bench.bus import PARTITIONS, new_topic, raw_produce
from services.ingest.intake import SOURCE, observation_item
from services.ingest.models import ObservationIn
from shared.bus import KafkaBus
from shared.bus._partition import partition_for
from shared.cloudevents import new_event
from tests.harness import free_port, start_watchdog, tail
from tests.harness.kafka import KafkaBroker
from tests.harness.postgres import PostgresServer

EARLYWARNING = str(Path(sys.executable).with_name("earlywarning"))
READY_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
IDLE_LIMIT = 4.0  # seconds a client connection may idle before it is replaced
KINDS = (
    "headcount_decline",
    "order_volume_drop",
    "late_payment_suppliers",
    "growth",
    "expansion_plans",
    "new_product_interest",
)
TARGET_SINGLE = 2_000.0
TARGET_BATCH = 50_000.0
TARGET_P99_MS = 50.0
TARGET_RATE = 500.0


# -- payloads ----------------------------------------------------------------------------------------


def company_ids(count: int) -> list[str]:
    """Valid Belgian enterprise numbers: check digits 97 - (first eight digits mod 97)."""
    ids = []
    for i in range(count):
        base = 1_000_000 + i * 997  # stays below 10**7: the first of the ten digits is 0
        ids.append(f"0{base:07d}{97 - base % 97:02d}")
    return ids


def observation(company_id: str, n: int) -> dict[str, Any]:
    return {
        "company_id": company_id,
        "kind": KINDS[n % len(KINDS)],
        "reporter": f"rep{n % 50}@example.com",
        "note": "Heard at the trade fair that suppliers wait 90 days for payment.",
    }


def single_bodies(count: int) -> list[bytes]:
    """Serialised once, so that the client spends its CPU on HTTP and not on JSON."""
    return [json.dumps(observation(cid, n)).encode() for n, cid in enumerate(company_ids(count))]


def batch_bodies(size: int, variants: int = 4) -> list[bytes]:
    ids = company_ids(size * variants)
    return [
        json.dumps([observation(ids[v * size + n], n) for n in range(size)]).encode() for v in range(variants)
    ]


def observation_value_size() -> int:
    """Bytes of one observation event value as the intake publishes it: the raw produce uses the same size."""
    body = ObservationIn.model_validate(observation(company_ids(1)[0], 0))
    item = observation_item(body, idempotency=None, now=datetime.now(UTC))
    event = new_event(item.event_type, SOURCE, item.company_id, item.payload, id=item.event_id)
    return len(event.to_record(item.topic, item.company_id).value)


# -- processes ---------------------------------------------------------------------------------------


def _die_with_parent() -> None:
    # Linux: the server gets SIGTERM if this process dies without running its cleanup (kill -9).
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (0 when unknown or gone)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """One `earlywarning` subprocess in its own process group, stopped on exit whatever happens."""

    def __init__(self, label: str, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.label = label
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = cwd / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: TextIO | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [*self.argv, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # No other thread runs while the bench starts a server, so preexec_fn is safe here.
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"{self.label} exited with {self.process.returncode}:\n{tail(self.log_path)}"
                )
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"{self.label} not ready after {READY_TIMEOUT:.0f} s:\n{tail(self.log_path)}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            self._signal_group(process, signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._signal_group(process, signal.SIGKILL)
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    @staticmethod
    def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)

    def __enter__(self) -> Server:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def base_env(admin_key: str) -> dict[str, str]:
    # A developer's own EW_* settings must not leak into the servers under test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("EW_")}
    env["EW_ADMIN_KEY"] = admin_key
    return env


@dataclass
class Bus:
    """How to start the intake on one bus."""

    name: str
    argv: list[str]
    env: dict[str, str]
    other_pids: dict[str, int] = field(default_factory=dict)  # e.g. the broker, for its CPU use

    @contextlib.contextmanager
    def server(self) -> Iterator[Server]:
        workdir = Path(tempfile.mkdtemp(prefix="ew-bench-ingest-"))
        # Removes the directory even if this process is killed outright (the server dies with it).
        watchdog = start_watchdog(remove=workdir)
        try:
            with Server(self.name, self.argv, self.env, workdir) as server:
                yield server
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            if watchdog is not None:
                watchdog.kill()
                watchdog.wait()


# -- measurements ------------------------------------------------------------------------------------


@dataclass
class Cpu:
    """CPU cores used during a phase by the client (this process), the server and the other processes."""

    client: float = 0.0
    server: float = 0.0
    others: dict[str, float] = field(default_factory=dict)

    def text(self) -> str:
        parts = [f"server {self.server:.2f}", f"client {self.client:.2f}"]
        parts += [f"{name} {value:.2f}" for name, value in self.others.items()]
        return ", ".join(parts)


class CpuMeter:
    def __init__(self, server_pid: int | None, others: dict[str, int]) -> None:
        self.server_pid = server_pid
        self.others = others
        self.wall = time.perf_counter()
        self.client = time.process_time()
        self.server = cpu_seconds(server_pid)
        self.other = {name: cpu_seconds(pid) for name, pid in others.items()}

    def read(self) -> Cpu:
        wall = time.perf_counter() - self.wall
        return Cpu(
            client=(time.process_time() - self.client) / wall,
            server=(cpu_seconds(self.server_pid) - self.server) / wall,
            others={n: (cpu_seconds(p) - self.other[n]) / wall for n, p in self.others.items()},
        )


@dataclass
class Throughput:
    requests: int
    errors: int
    seconds: float
    error_kinds: Counter[str]
    cpu: Cpu

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass
class Latency:
    offered: int
    latencies: list[float]  # seconds, successful requests only
    failed: int
    max_send_lag: float
    error_kinds: Counter[str]
    cpu: Cpu

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile in milliseconds (nan without any successful request)."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000

    def over(self, ms: float) -> int:
        return sum(1 for latency in self.latencies if latency * 1000 > ms)


@dataclass
class Batched:
    events: int
    rejected: int
    requests: int
    errors: int
    seconds: float
    error_kinds: Counter[str]
    cpu: Cpu

    @property
    def rate(self) -> float:
        return self.events / self.seconds


class HttpError(Exception):
    """The server broke the HTTP exchange (closed early, sent something unparsable)."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes


class Connection:
    """One keep-alive HTTP/1.1 connection, one request at a time.

    A pooled general-purpose client (httpx measured here: ~150 requests/s with 64 connections at a full
    core) would be the bottleneck and take the CPU the server needs; this does only what the bench needs.
    """

    def __init__(self, host: str, port: int, headers: bytes) -> None:
        self.host = host
        self.port = port
        self.headers = headers
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = 0.0

    async def post(self, path: str, body: bytes) -> Answer:
        # uvicorn closes a connection idle for 5 s; reusing one it closed (or is closing) would fail a
        # request the server never saw, which is the client's fault, not the server's.
        if self.reader is not None and (self.reader.at_eof() or time.monotonic() - self.used > IDLE_LIMIT):
            self.close()
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        try:
            self.writer.write(
                b"POST %s HTTP/1.1\r\n%scontent-length: %d\r\n\r\n%s"
                % (path.encode(), self.headers, len(body), body)
            )
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            fields = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines[1:] if line)
            }
            if fields.get("transfer-encoding", "").lower() == "chunked":
                content = await self._chunked()
            else:
                content = await self.reader.readexactly(int(fields.get("content-length", "0")))
            self.used = time.monotonic()
            if fields.get("connection", "").lower() == "close":
                self.close()
            return Answer(status, content)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError) as exc:
            self.close()
            raise HttpError(type(exc).__name__) from exc
        except BaseException:
            self.close()
            raise

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await self.reader.readexactly(size + 2)
            parts.append(chunk[:-2])
            if size == 0:
                return b"".join(parts)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Client:
    """Connections reused across requests, at most `limit` open; waiting for one counts as latency."""

    def __init__(self, url: str, admin_key: str, limit: int, timeout: float) -> None:
        address = url.removeprefix("http://")
        host, _, port = address.partition(":")
        self.host, self.port = host, int(port)
        self.headers = (
            f"host: {address}\r\nauthorization: Bearer {admin_key}\r\ncontent-type: application/json\r\n"
        ).encode()
        self.timeout = timeout
        self.slots = asyncio.Semaphore(limit)
        self.idle: list[Connection] = []
        self.all: list[Connection] = []

    async def post(self, path: str, body: bytes) -> Answer:
        async with self.slots:
            if self.idle:
                connection = self.idle.pop()
            else:
                connection = Connection(self.host, self.port, self.headers)
                self.all.append(connection)
            try:
                async with asyncio.timeout(self.timeout):
                    return await connection.post(path, body)
            finally:
                self.idle.append(connection)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for connection in self.all:
            connection.close()


def error_kind(result: Answer | BaseException) -> str:
    if isinstance(result, Answer):
        return f"HTTP {result.status}"
    if isinstance(result, HttpError):
        return f"broken exchange: {result}"
    return type(result).__name__


async def closed_loop(
    http: Client, path: str, bodies: list[bytes], workers: int, seconds: float
) -> tuple[list[Answer], Counter[str], float]:
    """`workers` loops, each sending its next request when the previous one was answered."""
    answers: list[Answer] = []
    errors: Counter[str] = Counter()
    stop_at = time.perf_counter() + seconds

    async def worker(n: int) -> None:
        while time.perf_counter() < stop_at:
            try:
                answer = await http.post(path, bodies[n % len(bodies)])
            except (OSError, HttpError, TimeoutError) as exc:
                errors[error_kind(exc)] += 1
                await asyncio.sleep(0.01)  # a refused connection must not turn into a busy loop
            else:
                if answer.status == 202:
                    answers.append(answer)
                else:
                    errors[error_kind(answer)] += 1
            n += workers

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(workers)))
    return answers, errors, time.perf_counter() - started


async def measure_throughput(
    url: str, admin_key: str, bodies: list[bytes], args: argparse.Namespace, meter: Callable[[], CpuMeter]
) -> Throughput:
    async with Client(url, admin_key, args.concurrency, 30.0) as http:
        await closed_loop(http, "/v1/observations", bodies, args.concurrency, args.warmup)
        cpu = meter()
        answers, errors, seconds = await closed_loop(
            http, "/v1/observations", bodies, args.concurrency, args.duration
        )
        return Throughput(len(answers), sum(errors.values()), seconds, errors, cpu.read())


async def open_loop(
    http: Client, bodies: list[bytes], rate: float, seconds: float
) -> tuple[list[float], int, float, Counter[str]]:
    """Send on the schedule start + i/rate whatever the answers; latency counts from the scheduled time."""
    count = int(rate * seconds)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    max_lag = 0.0

    async def one(n: int, scheduled: float) -> None:
        try:
            answer = await http.post("/v1/observations", bodies[n % len(bodies)])
        except (OSError, HttpError, TimeoutError) as exc:
            errors[error_kind(exc)] += 1
            return
        if answer.status == 202:
            latencies.append(time.perf_counter() - scheduled)
        else:
            errors[error_kind(answer)] += 1

    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter() + 0.05
    for n in range(count):
        scheduled = start + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        max_lag = max(max_lag, time.perf_counter() - scheduled)
        tasks.append(asyncio.create_task(one(n, scheduled)))
    await asyncio.gather(*tasks)
    return latencies, sum(errors.values()), max_lag, errors


async def measure_latency(
    url: str, admin_key: str, bodies: list[bytes], args: argparse.Namespace, meter: Callable[[], CpuMeter]
) -> Latency:
    # Connections are not what limits an open loop: a slow server gets more requests in flight.
    async with Client(url, admin_key, 512, 30.0) as http:
        await open_loop(http, bodies, args.rate, args.warmup)
        cpu = meter()
        latencies, failed, max_lag, errors = await open_loop(http, bodies, args.rate, args.duration)
        return Latency(int(args.rate * args.duration), latencies, failed, max_lag, errors, cpu.read())


async def measure_batches(
    url: str, admin_key: str, bodies: list[bytes], args: argparse.Namespace, meter: Callable[[], CpuMeter]
) -> Batched:
    async with Client(url, admin_key, args.batch_inflight, 120.0) as http:
        await closed_loop(http, "/v1/observations:batch", bodies, args.batch_inflight, args.warmup)
        cpu = meter()
        answers, errors, seconds = await closed_loop(
            http, "/v1/observations:batch", bodies, args.batch_inflight, args.duration
        )
        events = rejected = 0
        for answer in answers:
            result = json.loads(answer.body)
            events += result["accepted"]
            rejected += result["rejected"]
        return Batched(events, rejected, len(answers), sum(errors.values()), seconds, errors, cpu.read())


# -- raw Kafka ---------------------------------------------------------------------------------------


async def raw_concurrent_send(
    bootstrap: str, topic: str, value: bytes, workers: int, seconds: float
) -> float:
    """`workers` loops each awaiting the ack of one message before the next: what single requests do."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        await producer.partitions_for(topic)
        sent = 0
        stop_at = time.perf_counter() + seconds

        async def worker(n: int) -> None:
            nonlocal sent
            while time.perf_counter() < stop_at:
                key = f"key-{n % 10_000}"
                partition = partition_for(key, PARTITIONS)
                await producer.send_and_wait(topic, value, key=key.encode(), partition=partition)
                sent += 1
                n += workers

        started = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(workers)))
        return sent / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def measure_raw_kafka(bootstrap: str, args: argparse.Namespace, size: int) -> dict[str, float]:
    value = os.urandom(size)
    async with KafkaBus(bootstrap, partitions=PARTITIONS) as kafka:
        batch_topic, single_topic = new_topic("ingest-raw"), new_topic("ingest-raw-single")
        await kafka.create_topics([batch_topic, single_topic])
        return {
            "send_batch": await raw_produce(bootstrap, batch_topic, args.raw_messages, value),
            "send_and_wait": await raw_concurrent_send(
                bootstrap, single_topic, value, args.concurrency, args.duration
            ),
        }


# -- one bus -----------------------------------------------------------------------------------------


@dataclass
class BusResult:
    throughput: Throughput
    latency: Latency
    batched: Batched


def run_bus(bus: Bus, args: argparse.Namespace, admin_key: str) -> BusResult:
    singles = single_bodies(1000)
    batches = batch_bodies(args.batch_size)

    def phase(measure: Callable[..., Coroutine[Any, Any, Any]], bodies: list[bytes]) -> Any:
        with bus.server() as server:
            log(f"{bus.name}: {measure.__name__} on {server.url}")
            return asyncio.run(
                measure(server.url, admin_key, bodies, args, lambda: CpuMeter(server.pid, bus.other_pids))
            )

    return BusResult(
        throughput=phase(measure_throughput, singles),
        latency=phase(measure_latency, singles),
        batched=phase(measure_batches, batches),
    )


# -- output ------------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def num(value: float, decimals: int = 0) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.{decimals}f}"


def errors_text(total: int, kinds: Counter[str]) -> str:
    if not total:
        return "0"
    return f"{total} (" + ", ".join(f"{k} x{v}" for k, v in kinds.most_common(3)) + ")"


def verdict(results: dict[str, BusResult], ok: Callable[[BusResult], bool]) -> str:
    return "; ".join(f"{name}: {'met' if ok(r) else 'NOT met'}" for name, r in results.items())


def print_report(
    results: dict[str, BusResult],
    raw: dict[str, float] | None,
    args: argparse.Namespace,
    value_size: int,
    load_before: tuple[float, float, float],
) -> None:
    names = list(results)
    rows: list[tuple[str, list[str], str, str]] = []

    def row(label: str, cell: Callable[[BusResult], str], target: str = "", met: str = "") -> None:
        rows.append((label, [cell(results[n]) for n in names], target, met))

    def section(label: str) -> None:
        rows.append((label, ["" for _ in names], "", ""))

    def p99_ok(r: BusResult) -> bool:
        return r.latency.failed == 0 and r.latency.percentile(99) < TARGET_P99_MS

    section(f"(a) POST /v1/observations, {args.concurrency} in flight, {args.duration:g} s")
    row(
        "    requests/s (202)",
        lambda r: num(r.throughput.rate),
        f">= {TARGET_SINGLE:,.0f}",
        verdict(results, lambda r: r.throughput.errors == 0 and r.throughput.rate >= TARGET_SINGLE),
    )
    row("    errors", lambda r: errors_text(r.throughput.errors, r.throughput.error_kinds))
    row("    CPU cores used", lambda r: r.throughput.cpu.text())
    section(f"(b) open loop at {args.rate:g} requests/s, {args.duration:g} s")
    row("    p50 ms", lambda r: num(r.latency.percentile(50), 1))
    target_p99 = f"< {TARGET_P99_MS:g} at {TARGET_RATE:g}/s"
    met_p99 = (
        verdict(results, p99_ok)
        if args.rate >= TARGET_RATE
        else f"n/a: offered {args.rate:g}/s < {TARGET_RATE:g}/s"
    )
    row("    p99 ms", lambda r: num(r.latency.percentile(99), 1), target_p99, met_p99)
    row("    max ms", lambda r: num(r.latency.percentile(100), 1))
    row(
        f"    late (> {TARGET_P99_MS:g} ms) / failed of sent",
        lambda r: f"{r.latency.over(TARGET_P99_MS)} / {r.latency.failed} of {r.latency.offered}",
    )
    row("    failures", lambda r: errors_text(r.latency.failed, r.latency.error_kinds))
    row("    client send lag, max ms", lambda r: num(r.latency.max_send_lag * 1000, 1))
    row("    CPU cores used", lambda r: r.latency.cpu.text())
    section(
        f"(c) POST /v1/observations:batch, {args.batch_size:,} each, {args.batch_inflight} in flight, "
        f"{args.duration:g} s"
    )
    row(
        "    events/s (accepted)",
        lambda r: num(r.batched.rate),
        f">= {TARGET_BATCH:,.0f}",
        verdict(results, lambda r: r.batched.errors == 0 and r.batched.rate >= TARGET_BATCH),
    )
    row("    batch requests/s", lambda r: num(r.batched.requests / r.batched.seconds, 1))
    row(
        "    errors / rejected items",
        lambda r: f"{errors_text(r.batched.errors, r.batched.error_kinds)} / {r.batched.rejected}",
    )
    row("    CPU cores used", lambda r: r.batched.cpu.text())

    headers = ["figure", *names, "target", "met?"]
    table = [[label, *cells, target, met] for label, cells, target, met in rows]
    if raw is not None:
        blank = ["" for _ in names]
        kafka_col = names.index("kafka+postgresql") if "kafka+postgresql" in names else None

        def raw_row(label: str, value: float) -> list[str]:
            cells = list(blank)
            if kafka_col is not None:
                cells[kafka_col] = num(value)
            return [label, *cells, "ceiling", ""]

        table.append([f"raw aiokafka produce, {value_size}-byte values, same broker", *blank, "", ""])
        table.append(raw_row(f"    send_batch msg/s ({args.raw_messages:,} messages)", raw["send_batch"]))
        table.append(
            raw_row(f"    send_and_wait msg/s ({args.concurrency} concurrent)", raw["send_and_wait"])
        )

    widths = [max(len(line[i]) for line in [headers, *table]) for i in range(len(headers))]
    print(
        f"Early Warning ingest benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPU cores, "
        f"warm-up {args.warmup:g} s per phase (not counted), a fresh server per phase; load average "
        f"{load_before[0]:.2f} before the run, {os.getloadavg()[0]:.2f} after."
    )
    print(
        "NOTE: the load generator (this process: keep-alive HTTP/1.1 over asyncio) shares the machine's "
        f"{os.cpu_count()} cores with the server, the broker and the database; the CPU rows show who used "
        "them. Figures are single runs on a shared machine."
    )
    print(
        "embedded+sqlite = `earlywarning up` (ingest + signals + notifier in one process; its consumers work "
        "on the ingested events meanwhile); kafka+postgresql = `earlywarning serve ingest`."
    )
    print(" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    print("-+-".join("-" * w for w in widths))
    for line in table:
        print(" | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


# -- main --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per phase")
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="offered requests/s of phase (b)")
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="seconds run before each phase, not counted"
    )
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight in phase (a)")
    parser.add_argument("--batch-size", type=int, default=1000, help="observations per batch request")
    parser.add_argument("--batch-inflight", type=int, default=4, help="batch requests in flight")
    parser.add_argument(
        "--raw-messages", type=int, default=200_000, help="messages of the raw send_batch run"
    )
    parser.add_argument("--bus", choices=["both", "embedded", "kafka"], default="both")
    parser.add_argument("--bootstrap", help="use this Kafka instead of starting one")
    parser.add_argument("--database-url", help="use this PostgreSQL (postgresql+asyncpg://...) instead")
    args = parser.parse_args()

    # aiokafka logs expected retries right after topic creation; the servers log to their own files.
    logging.disable(logging.ERROR)
    # SIGTERM ends the run like Ctrl-C does, so that the finally blocks stop every server started here.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    # Other work on the machine takes cores from the run: the load average shows whether there was any.
    load_before = os.getloadavg()
    admin_key = f"bench-{secrets.token_hex(16)}"
    value_size = observation_value_size()
    broker: KafkaBroker | None = None
    postgres: PostgresServer | None = None
    results: dict[str, BusResult] = {}
    raw: dict[str, float] | None = None
    try:
        if args.bus in ("both", "embedded"):
            embedded = Bus("embedded+sqlite", [EARLYWARNING, "up"], base_env(admin_key))
            results["embedded+sqlite"] = run_bus(embedded, args, admin_key)
        if args.bus in ("both", "kafka"):
            bootstrap = args.bootstrap
            others: dict[str, int] = {}
            if bootstrap is None:
                log("starting a Kafka broker")
                broker = KafkaBroker()
                broker.start()
                bootstrap = broker.bootstrap
                if broker.process is not None:
                    others["broker"] = broker.process.pid
            database_url = args.database_url
            if database_url is None:
                log("starting PostgreSQL")
                postgres = PostgresServer(database=f"ew_bench_{uuid.uuid4().hex[:8]}")
                postgres.start()
                database_url = postgres.url
            env = base_env(admin_key) | {"EW_KAFKA_BOOTSTRAP": bootstrap, "EW_DATABASE_URL": database_url}
            kafka = Bus("kafka+postgresql", [EARLYWARNING, "serve", "ingest"], env, others)
            results["kafka+postgresql"] = run_bus(kafka, args, admin_key)
            log("raw aiokafka produce")
            raw = asyncio.run(measure_raw_kafka(bootstrap, args, value_size))
    finally:
        if broker is not None:
            broker.close()
        if postgres is not None:
            postgres.close()
    print_report(results, raw, args, value_size, load_before)


if __name__ == "__main__":
    main()
