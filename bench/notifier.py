"""Webhook delivery of the notifier: deliveries/s to a local receiver, and the latency of a healthy target
with and without a dead target beside it, on the embedded bus (SQLite) and on Kafka + PostgreSQL.

    .venv/bin/python bench/notifier.py [--events 20000] [--rate 200] [--duration 15]
                                       [--bus both|embedded|kafka] [--bootstrap HOST:PORT]
                                       [--database-url postgresql+asyncpg://...]

The notifier runs as a real subprocess, as users run it: `earlywarning up` in a temporary directory
(embedded bus on SQLite, ingest and signals idle beside it) and `earlywarning serve notifier` (Kafka +
PostgreSQL; a broker and a PostgreSQL from tests/harness unless --bootstrap / --database-url are given).
Subscriptions are made through its HTTP API; the webhook receivers are asyncio HTTP servers in this
process, recording the arrival of every signal. This process publishes the signal events
(`earlywarning.signal.raised`, a valid `Signal` with a unique id, keyed by company) onto `ew.signals`
itself: on Kafka, or on the embedded bus in the service's SQLite file (so there the notifier sees them at
its next poll, EW_BUS_POLL_INTERVAL, 0.2 s by default, as it sees messages of any other process).
Each phase gets a fresh service and database, and starts once a few warm-up events went through.
  (A) throughput: one healthy subscription; --events events published in batches of 1,000 as fast as
      possible; deliveries/s = events / (last arrival - first arrival), also within each quarter of the
      arrivals (a rate that rises as the backlog drains is a cost per delivery that grows with it), and
      the time from the first publish to the last arrival;
  (B) latency: --rate events/s for --duration s, each published on a fixed schedule whatever happens
      (open loop); latency = arrival at the healthy target - scheduled publish time. (B1) the healthy
      subscription alone; (B2) the same plus a subscription of a dead target (accepts connections, never
      answers) matching the same events. The p99s of B1 and B2 are printed side by side, with their ratio.
A phase waits until every delivery arrived, or none did for 90 s (longer than the dispatcher's lease).
Delivery counts per status come from GET /v1/deliveries at the end of each phase. Prints the table only
(progress goes to stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import math
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import orjson

from bench.ingest import Server
from shared import topics
from shared.bus import Bus, EmbeddedBus, KafkaBus, Record
from shared.cloudevents import new_event
from shared.db import create_engine
from shared.schemas import Signal, SignalEventType, example_of
from tests.harness import free_port, start_watchdog
from tests.harness.kafka import KafkaBroker
from tests.harness.postgres import PostgresServer, create_database, drop_database

EARLYWARNING = str(Path(sys.executable).with_name("earlywarning"))
COMPANIES = 300
PUBLISH_BATCH = 1000
WARMUP_EVENTS = 20
STALL = 90.0  # seconds without a new arrival after which a phase stops waiting (> the 60 s lease)
TARGET_RATE = 2_000.0
STATUSES = ("delivered", "failed", "pending")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- signal events -----------------------------------------------------------------------------------


def company_ids(count: int) -> list[str]:
    """Valid Belgian enterprise numbers: check digits 97 - (first eight digits mod 97)."""
    return [f"BE{first:08d}{97 - first % 97:02d}" for first in (1_000_000 + n * 7 for n in range(count))]


class Events:
    """Signal events with unique signal ids, company ids spread over `COMPANIES` companies."""

    def __init__(self) -> None:
        self.template = Signal.model_validate(example_of(Signal))
        self.companies = company_ids(COMPANIES)
        self.run = secrets.token_hex(4)
        self.count = 0

    def make(self, count: int) -> list[tuple[str, Record]]:
        """`count` new events as (signal id, record)."""
        made = []
        for n in range(self.count, self.count + count):
            company = self.companies[n % len(self.companies)]
            signal_id = f"sig_bench_{self.run}_{n}"
            payload = self.template.model_copy(update={"id": signal_id, "company_id": company})
            event = new_event(
                SignalEventType.RAISED, "/bench/notifier", company, payload, id=f"evt_{signal_id}"
            )
            made.append((signal_id, event.to_record(topics.SIGNALS, company)))
        self.count += count
        return made


# -- webhook receivers -------------------------------------------------------------------------------

_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


class Sink:
    """A webhook receiver on 127.0.0.1, lean enough not to be the bottleneck.

    Records when each signal (the `id` of the body) first arrived (`time.perf_counter`), and answers 200;
    `hang=True` reads each request and never answers (a dead target: the sender times out).
    """

    def __init__(self, *, hang: bool = False) -> None:
        self.hang = hang
        self.port = free_port()
        self.requests = 0
        self.arrivals: dict[str, float] = {}
        self.repeats = 0  # the same signal again (a retry of a delivery that had arrived)
        self._expected: set[str] = set()
        self._got = 0
        self._complete = asyncio.Event()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def __aenter__(self) -> Sink:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, backlog=1024)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), timeout=2)

    def expect(self, signal_ids: Sequence[str]) -> None:
        self._expected = set(signal_ids)
        self._got = sum(1 for signal_id in self._expected if signal_id in self.arrivals)
        self._complete.clear()

    @property
    def missing(self) -> int:
        return len(self._expected) - self._got

    async def wait(self, stall: float = STALL, on_progress: Callable[[], object] = lambda: None) -> bool:
        """Until every expected signal arrived (True), or nothing arrived for `stall` seconds (False).
        `on_progress` is called when arrivals were seen, at most every 0.2 s, and after the last one."""
        last, seen = time.monotonic(), self._got
        while self.missing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._complete.wait(), timeout=0.2)
            if self._got != seen:
                last, seen = time.monotonic(), self._got
                on_progress()
            elif time.monotonic() - last > stall:
                return False
        return True

    def arrived(self, signal_ids: Sequence[str]) -> list[float]:
        return [self.arrivals[s] for s in signal_ids if s in self.arrivals]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                now = time.perf_counter()
                self.requests += 1
                if self.hang:
                    while await reader.read(65536):
                        pass
                    return
                self._record(orjson.loads(body)["id"], now)
                writer.write(_OK)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    def _record(self, signal_id: str, now: float) -> None:
        if signal_id in self.arrivals:
            self.repeats += 1
            return
        self.arrivals[signal_id] = now
        if signal_id in self._expected:
            self._got += 1
            if self._got == len(self._expected):
                self._complete.set()


# -- CPU ---------------------------------------------------------------------------------------------


def _process_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, user + system CPU seconds) of every process."""
    table = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return table


def _tree_cpu(root: int, table: dict[int, tuple[int, float]]) -> dict[int, float]:
    """CPU seconds of `root` and its descendants, per pid."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            found[pid] = table[pid][1]
            todo.extend(children.get(pid, []))
    return found


class CpuMeter:
    """Cores used since it was made by this process (the bench) and by process trees (the service, the
    broker, PostgreSQL with its backends)."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self.wall = time.perf_counter()
        self.bench = time.process_time()
        table = _process_table()
        self.start = {name: _tree_cpu(pid, table) for name, pid in roots.items()}

    def read(self) -> dict[str, float]:
        wall = time.perf_counter() - self.wall
        table = _process_table()
        used = {"bench": (time.process_time() - self.bench) / wall}
        for name, pid in self.roots.items():
            now, before = _tree_cpu(pid, table), self.start[name]
            used[name] = sum(seconds - before.get(p, 0.0) for p, seconds in now.items()) / wall
        return used


def cpu_text(used: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.2f}" for name, value in used.items())


# -- deployments -------------------------------------------------------------------------------------


@dataclass
class Deployment:
    """How to run the notifier on one bus; each `service()` is a fresh process on a fresh database."""

    name: str
    command: list[str]
    admin_key: str
    bootstrap: str | None = None  # None: the embedded bus
    database_server: str | None = None  # PostgreSQL server URL; None: SQLite in the run's directory
    others: dict[str, int] = field(default_factory=dict)  # servers started here, for their CPU

    @contextlib.contextmanager
    def service(self) -> Iterator[tuple[Server, str]]:
        """The running service and its database URL."""
        workdir = Path(tempfile.mkdtemp(prefix="ew-bench-notifier-"))
        watchdog = start_watchdog(remove=workdir)
        database_url = f"sqlite+aiosqlite:///{workdir / 'ew.db'}"
        if self.database_server is not None:
            database_url = create_database(self.database_server)
        env = {k: v for k, v in os.environ.items() if not k.startswith("EW_")} | {
            "EW_DATABASE_URL": database_url,
            "EW_ADMIN_KEY": self.admin_key,
            "EW_SECRET_KEY": secrets.token_urlsafe(32),
            "EW_WEBHOOK_ALLOW_PRIVATE": "true",
            "EW_WEBHOOK_TIMEOUT": "2",
            "EW_SWEEP_INTERVAL": "0",
            "EW_LOG_LEVEL": "WARNING",
        }
        if self.bootstrap is not None:
            env["EW_KAFKA_BOOTSTRAP"] = self.bootstrap
        try:
            with Server(self.name, self.command, env, workdir) as server:
                yield server, database_url
        finally:
            if self.database_server is not None:
                drop_database(self.database_server, database_url)
            shutil.rmtree(workdir, ignore_errors=True)
            if watchdog is not None:
                watchdog.kill()
                watchdog.wait()

    @contextlib.asynccontextmanager
    async def bus(self, database_url: str) -> AsyncIterator[Bus]:
        """The bus the service reads, opened from this process to publish on."""
        if self.bootstrap is not None:
            async with KafkaBus(self.bootstrap) as kafka:
                yield kafka
            return
        engine = create_engine(database_url)
        try:
            async with EmbeddedBus(engine) as embedded:
                yield embedded
        finally:
            await engine.dispose()


@dataclass
class Run:
    """What a phase measures on one service run."""

    deployment: Deployment
    server: Server
    bus: Bus
    http: httpx.AsyncClient
    events: Events

    def meter(self) -> CpuMeter:
        assert self.server.pid is not None
        return CpuMeter({"notifier": self.server.pid, **self.deployment.others})

    async def subscribe(self, sink: Sink, name: str) -> None:
        body = {"name": name, "channel": "webhook", "url": sink.url}
        response = await self.http.post("/v1/subscriptions", json=body)
        if response.status_code != 201:
            raise SystemExit(f"POST /v1/subscriptions: {response.status_code} {response.text}")

    async def warm_up(self, sink: Sink) -> None:
        """A few events through, so that the consumer owns its partitions and connections are open."""
        batch = self.events.make(WARMUP_EVENTS)
        sink.expect([signal_id for signal_id, _ in batch])
        await self.bus.publish([record for _, record in batch])
        if not await sink.wait(stall=120.0):
            raise SystemExit(f"{self.deployment.name}: warm-up events did not arrive")

    async def counts(self) -> dict[str, int]:
        """Deliveries per status, from the delivery log, once the recorded attempts stopped changing (the
        log may lag the arrivals a little), or after 10 s."""
        counts = await self._counts()
        for _ in range(20):
            await asyncio.sleep(0.5)
            again = await self._counts()
            if again == counts:
                break
            counts = again
        return counts

    async def _counts(self) -> dict[str, int]:
        counts = {}
        for status in STATUSES:
            total, cursor = 0, None
            while True:
                params: dict[str, Any] = {"status": status, "limit": 1000}
                if cursor:
                    params["cursor"] = cursor
                response = await self.http.get("/v1/deliveries", params=params)
                response.raise_for_status()
                page = response.json()
                total += len(page["items"])
                cursor = page["next_cursor"]
                if not cursor:
                    break
            counts[status] = total
        return counts


def run_phase(deployment: Deployment, measure: Callable[[Run], Awaitable[Any]], label: str) -> Any:
    with deployment.service() as (server, database_url):
        log(f"{deployment.name}: {label} on {server.url}")

        async def main() -> Any:
            headers = {"authorization": f"Bearer {deployment.admin_key}"}
            async with (
                deployment.bus(database_url) as bus,
                httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as http,
            ):
                return await measure(Run(deployment, server, bus, http, Events()))

        return asyncio.run(main())


# -- phases ------------------------------------------------------------------------------------------


async def settle(sink: Sink, meter: CpuMeter) -> dict[str, float]:
    """Wait for the expected deliveries; the cores used until the last of them arrived."""
    cpu = meter.read()

    def sample() -> None:
        cpu.update(meter.read())

    if not await sink.wait(on_progress=sample):
        log(f"gave up: {sink.missing:,} deliveries missing after {STALL:.0f} s without an arrival")
    return cpu


@dataclass
class Throughput:
    events: int
    arrivals: list[float]  # seconds after the first publish, in order
    publish_seconds: float
    repeats: int
    counts: dict[str, int]
    cpu: dict[str, float]

    def rate(self, share: float = 1.0) -> float:
        """Deliveries/s from the first arrival until `share` of the events had arrived (nan if they never
        did)."""
        needed = math.ceil(share * self.events)
        if needed < 2 or len(self.arrivals) < needed:
            return math.nan
        return (needed - 1) / (self.arrivals[needed - 1] - self.arrivals[0])

    def quarters(self) -> list[float]:
        """Deliveries/s within each quarter of the arrivals: rising as the backlog drains means the cost of a
        delivery grows with the backlog."""
        n = len(self.arrivals)
        bounds = [n * k // 4 for k in range(5)]
        rates = []
        for lo, hi in itertools.pairwise(bounds):
            span = self.arrivals[hi - 1] - self.arrivals[lo] if hi - lo > 1 else 0.0
            rates.append((hi - lo - 1) / span if span > 0 else math.nan)
        return rates

    @property
    def total(self) -> float:
        return self.arrivals[-1] if self.arrivals else math.nan


async def measure_throughput(run: Run, events: int) -> Throughput:
    async with Sink() as healthy:
        await run.subscribe(healthy, "bench healthy")
        await run.warm_up(healthy)
        batch = run.events.make(events)
        ids = [signal_id for signal_id, _ in batch]
        healthy.expect(ids)
        meter = run.meter()
        started = time.perf_counter()
        for n in range(0, len(batch), PUBLISH_BATCH):
            await run.bus.publish([record for _, record in batch[n : n + PUBLISH_BATCH]])
        published = time.perf_counter() - started
        log(f"published {events:,} events in {published:.1f} s; waiting for the deliveries")
        cpu = await settle(healthy, meter)
        return Throughput(
            events=events,
            arrivals=sorted(at - started for at in healthy.arrived(ids)),
            publish_seconds=published,
            repeats=healthy.repeats,
            counts=await run.counts(),
            cpu=cpu,
        )


@dataclass
class Latency:
    offered: int
    latencies: list[float]  # seconds
    publish: list[float]  # seconds from the scheduled time to the bus's acknowledgement
    max_send_lag: float
    counts: dict[str, int]
    dead_requests: int | None
    cpu: dict[str, float]

    def percentile(self, p: float, values: list[float] | None = None) -> float:
        """Nearest-rank percentile in milliseconds (nan without values)."""
        ordered = sorted(self.latencies if values is None else values)
        if not ordered:
            return math.nan
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000


async def measure_latency(run: Run, rate: float, duration: float, dead_target: bool) -> Latency:
    async with Sink() as healthy, Sink(hang=True) as dead:
        await run.subscribe(healthy, "bench healthy")
        if dead_target:
            await run.subscribe(dead, "bench dead")
        await run.warm_up(healthy)
        batch = run.events.make(int(rate * duration))
        ids = [signal_id for signal_id, _ in batch]
        healthy.expect(ids)
        meter = run.meter()
        scheduled: dict[str, float] = {}
        acknowledged: list[float] = []
        max_lag = 0.0

        async def publish(record: Record, at: float) -> None:
            await run.bus.publish([record])
            acknowledged.append(time.perf_counter() - at)

        tasks = []
        start = time.perf_counter() + 0.05
        for n, (signal_id, record) in enumerate(batch):
            at = start + n / rate
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            max_lag = max(max_lag, time.perf_counter() - at)
            scheduled[signal_id] = at
            tasks.append(asyncio.create_task(publish(record, at)))
        await asyncio.gather(*tasks)
        cpu = await settle(healthy, meter)
        latencies = [healthy.arrivals[s] - at for s, at in scheduled.items() if s in healthy.arrivals]
        counts = await run.counts()
        return Latency(
            offered=len(batch),
            latencies=latencies,
            publish=acknowledged,
            max_send_lag=max_lag,
            counts=counts,
            dead_requests=dead.requests if dead_target else None,
            cpu=cpu,
        )


@dataclass
class BusResult:
    throughput: Throughput
    alone: Latency
    beside_dead: Latency


def run_deployment(deployment: Deployment, args: argparse.Namespace) -> BusResult:
    throughput = run_phase(
        deployment, lambda run: measure_throughput(run, args.events), f"(A) {args.events:,} events"
    )
    alone = run_phase(
        deployment,
        lambda run: measure_latency(run, args.rate, args.duration, dead_target=False),
        f"(B1) {args.rate:g}/s for {args.duration:g} s, healthy target alone",
    )
    beside_dead = run_phase(
        deployment,
        lambda run: measure_latency(run, args.rate, args.duration, dead_target=True),
        f"(B2) {args.rate:g}/s for {args.duration:g} s, a dead target beside it",
    )
    return BusResult(throughput, alone, beside_dead)


# -- output ------------------------------------------------------------------------------------------


def num(value: float, decimals: int = 0) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.{decimals}f}"


def counts_text(counts: dict[str, int]) -> str:
    return " / ".join(f"{counts.get(status, 0):,}" for status in STATUSES)


def latency_text(latency: Latency) -> str:
    return " / ".join(num(latency.percentile(p), 1) for p in (50, 99, 100))


def print_report(
    results: dict[str, BusResult], args: argparse.Namespace, load_before: tuple[float, float, float]
) -> None:
    names = list(results)
    rows: list[tuple[str, list[str], str, str]] = []

    def row(label: str, cell: Callable[[BusResult], str], target: str = "", met: str = "") -> None:
        rows.append((label, [cell(results[n]) for n in names], target, met))

    def section(label: str) -> None:
        rows.append((label, ["" for _ in names], "", ""))

    def verdict(ok: Callable[[BusResult], bool]) -> str:
        return "; ".join(f"{n}: {'met' if ok(r) else 'NOT met'}" for n, r in results.items())

    def ratio(r: BusResult) -> float:
        return r.beside_dead.percentile(99) / r.alone.percentile(99)

    section(f"(A) {args.events:,} events published in batches of {PUBLISH_BATCH:,}, one healthy target")
    row(
        "    deliveries/s (first to last arrival)",
        lambda r: num(r.throughput.rate()),
        f">= {TARGET_RATE:,.0f}",
        verdict(lambda r: r.throughput.rate() >= TARGET_RATE),
    )
    row("    deliveries/s (first arrival to 99 %)", lambda r: num(r.throughput.rate(0.99)))
    row(
        "    deliveries/s in each quarter of the arrivals",
        lambda r: " / ".join(num(rate) for rate in r.throughput.quarters()),
    )
    row("    first publish to last arrival, s", lambda r: num(r.throughput.total, 1))
    row("    publishing took, s", lambda r: num(r.throughput.publish_seconds, 1))
    row(
        "    received / repeated",
        lambda r: f"{len(r.throughput.arrivals):,} of {r.throughput.events:,} / {r.throughput.repeats}",
    )
    row("    log: delivered / failed / pending", lambda r: counts_text(r.throughput.counts))
    row("    CPU cores used", lambda r: cpu_text(r.throughput.cpu))
    section(
        f"(B) {args.rate:g} events/s for {args.duration:g} s on a schedule; "
        "healthy target's latency from the scheduled publish"
    )
    row("    B1 alone: p50 / p99 / max ms", lambda r: latency_text(r.alone))
    row("    B2 beside a dead target: p50 / p99 / max ms", lambda r: latency_text(r.beside_dead))
    row(
        "    p99 B2 / B1",
        lambda r: num(ratio(r), 2),
        "no change",
        "; ".join(f"{n}: {num(ratio(r), 2)}x" for n, r in results.items()),
    )
    row(
        "    received B1 / B2",
        lambda r: (
            f"{len(r.alone.latencies):,} of {r.alone.offered:,} / "
            f"{len(r.beside_dead.latencies):,} of {r.beside_dead.offered:,}"
        ),
    )
    row(
        "    publish ack p99 ms B1 / B2",
        lambda r: (
            f"{num(r.alone.percentile(99, r.alone.publish), 1)} / "
            f"{num(r.beside_dead.percentile(99, r.beside_dead.publish), 1)}"
        ),
    )
    row(
        "    send lag max ms B1 / B2",
        lambda r: f"{num(r.alone.max_send_lag * 1000, 1)} / {num(r.beside_dead.max_send_lag * 1000, 1)}",
    )
    row("    B1 log: delivered / failed / pending", lambda r: counts_text(r.alone.counts))
    row("    B2 log: delivered / failed / pending", lambda r: counts_text(r.beside_dead.counts))
    row("    B2 requests to the dead target", lambda r: f"{r.beside_dead.dead_requests or 0:,}")
    row("    B1 CPU cores used", lambda r: cpu_text(r.alone.cpu))
    row("    B2 CPU cores used", lambda r: cpu_text(r.beside_dead.cpu))

    headers = ["figure", *names, "target", "met?"]
    table = [[label, *cells, target, met] for label, cells, target, met in rows]
    widths = [max(len(line[i]) for line in [headers, *table]) for i in range(len(headers))]
    print(
        f"Early Warning notifier benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPU "
        f"cores; load average {load_before[0]:.2f} before the run, {os.getloadavg()[0]:.2f} after. A fresh "
        f"service and database per phase, each after {WARMUP_EVENTS} warm-up events (not counted; they are "
        "in the log counts)."
    )
    print(
        "embedded+sqlite = `earlywarning up`; kafka+postgresql = `earlywarning serve notifier`. The "
        "receivers and the publisher run in this process (CPU: bench); webhook timeout 2 s. Embedded: the "
        "notifier polls for events of other processes every 0.2 s, which the latency includes."
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
    parser.add_argument("--events", type=int, default=20_000, help="events of the throughput phase (A)")
    parser.add_argument("--rate", type=float, default=200.0, help="events/s of the latency phases (B)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of each latency phase (B)")
    parser.add_argument("--bus", choices=["both", "embedded", "kafka"], default="both")
    parser.add_argument("--bootstrap", help="use this Kafka instead of starting one")
    parser.add_argument(
        "--database-url", help="use this PostgreSQL server (a database per phase is created on it)"
    )
    args = parser.parse_args()

    # aiokafka logs expected retries right after connecting; the services log to their own files.
    logging.disable(logging.ERROR)
    # SIGTERM ends the run like Ctrl-C does, so that the finally blocks stop every server started here.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    load_before = os.getloadavg()
    admin_key = f"bench-{secrets.token_hex(16)}"
    broker: KafkaBroker | None = None
    postgres: PostgresServer | None = None
    results: dict[str, BusResult] = {}
    try:
        if args.bus in ("both", "embedded"):
            embedded = Deployment("embedded+sqlite", [EARLYWARNING, "up"], admin_key)
            results["embedded+sqlite"] = run_deployment(embedded, args)
        if args.bus in ("both", "kafka"):
            others: dict[str, int] = {}
            bootstrap = args.bootstrap
            if bootstrap is None:
                log("starting a Kafka broker")
                broker = KafkaBroker()
                broker.start()
                bootstrap = broker.bootstrap
                if broker.process is not None:
                    others["broker"] = broker.process.pid
            server = args.database_url
            if server is None:
                log("starting PostgreSQL")
                postgres = PostgresServer()
                postgres.start()
                server = postgres.url
                pid_file = postgres.data_dir / "postmaster.pid"
                others["postgresql"] = int(pid_file.read_text().split()[0])
            kafka = Deployment(
                "kafka+postgresql",
                [EARLYWARNING, "serve", "notifier"],
                admin_key,
                bootstrap=bootstrap,
                database_server=server,
                others=others,
            )
            results["kafka+postgresql"] = run_deployment(kafka, args)
    finally:
        if broker is not None:
            broker.close()
        if postgres is not None:
            postgres.close()
    print_report(results, args, load_before)


if __name__ == "__main__":
    main()
