"""A single-node KRaft Kafka broker run from the Maven Central jars, for tests and benchmarks.

with KafkaBroker() as broker:
    use(broker.bootstrap)       # "127.0.0.1:<port>"
    broker.restart()            # same data dir and ports: for fault injection
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

from . import REPO_ROOT, free_port, run_sync, start_watchdog, tail

DEFAULT_VERSION = "4.1.1"
POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
# The same place scripts/bootstrap fetches the jars to.
CACHE_ROOT = Path(
    os.environ.get("EW_CACHE_DIR")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "earlywarning"
)

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

_PR_SET_PDEATHSIG = 1


class KafkaHarnessError(RuntimeError):
    """The broker could not be fetched, formatted or started."""


def kafka_version() -> str:
    """The Kafka version pinned in deploy/kafka/pom.xml (the constant when the pom cannot be read)."""
    try:
        match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    except OSError:
        return DEFAULT_VERSION
    return match.group(1).strip() if match else DEFAULT_VERSION


def ensure_jars(version: str | None = None) -> Path:
    """The directory holding the broker's jars, fetched with Maven into the cache when missing."""
    version = version or kafka_version()
    lib = CACHE_ROOT / f"kafka-{version}" / "lib"
    if (lib / f"kafka_2.13-{version}.jar").is_file():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaHarnessError(
            f"Kafka {version} jars are not in {lib} and Maven (mvn) is not installed to fetch them"
        )
    # Fetch into a sibling directory and rename, so an interrupted download never looks complete.
    lib.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="lib-", dir=lib.parent))
    try:
        proc = subprocess.run(
            [
                mvn,
                "-q",
                "-f",
                str(POM),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staging}",
                f"-Dkafka.version={version}",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0 or not (staging / f"kafka_2.13-{version}.jar").is_file():
            raise KafkaHarnessError(
                f"mvn could not fetch Kafka {version} (exit {proc.returncode}):\n"
                f"{(proc.stdout + proc.stderr)[-4000:]}"
            )
        try:
            staging.rename(lib)
        except OSError:
            # Another process filled the cache meanwhile; its copy is as good as ours.
            if not (lib / f"kafka_2.13-{version}.jar").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return lib


async def _port_open(host: str, port: int) -> bool:
    try:
        async with asyncio.timeout(2.0):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def _die_with_parent() -> None:
    # Linux only: the broker gets SIGTERM when the thread that started it dies, even on kill -9,
    # which atexit cannot cover.
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class KafkaBroker:
    """One combined broker/controller KRaft node on free ports in a temporary directory."""

    def __init__(
        self,
        *,
        version: str | None = None,
        workdir: Path | None = None,
        heap: str = "768m",
        ready_timeout: float = READY_TIMEOUT,
    ) -> None:
        self.version = version or kafka_version()
        self.heap = heap
        self.ready_timeout = ready_timeout
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="ew-kafka-"))
        self.data_dir = self.workdir / "data"
        self.config_file = self.workdir / "server.properties"
        self.log4j_file = self.workdir / "log4j2.properties"
        self.log_file = self.workdir / "broker.log"
        self.stdout_file = self.workdir / "broker.out"
        self.port = free_port()
        self.controller_port = free_port()
        self.lib: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.start_seconds: float | None = None
        """Seconds from launching the JVM until the broker answered a metadata request (last start)."""
        self.start_times: list[float] = []
        self._atexit_registered = False
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._closed = False

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Fetch the jars if needed, format the storage on first start, launch and wait until ready."""
        if self._closed:
            raise KafkaHarnessError("this broker was closed; create a new one")
        if self.running:
            return
        if shutil.which("java") is None:
            raise KafkaHarnessError(
                "java is not installed (Debian: apt-get install -y openjdk-17-jre-headless)"
            )
        self.lib = ensure_jars(self.version)
        if not self._atexit_registered:
            atexit.register(self.close)
            self._atexit_registered = True
        if not (self.data_dir / "meta.properties").is_file():
            self._write_config()
            self._format()
        self._launch()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the broker and wait; SIGKILL it after `timeout` seconds. The data dir is kept."""
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                proc.wait()
        self._reap()

    def kill(self) -> None:
        """SIGKILL the broker at once (a crash, for fault injection). The data dir is kept."""
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            self._signal(signal.SIGKILL)
            proc.wait()
        self._reap()

    def restart(self, *, hard: bool = False) -> None:
        """Stop (or kill, with `hard`) and start again on the same data dir and ports."""
        if hard:
            self.kill()
        else:
            self.stop()
        self._launch()

    def close(self) -> None:
        """Stop the broker and remove its temporary directory; idempotent, also run at exit."""
        if self._closed:
            return
        try:
            self.stop()
        finally:
            self._closed = True
            self._end_watchdog()
            if self._atexit_registered:
                atexit.unregister(self.close)
                self._atexit_registered = False
            if self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> KafkaBroker:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def log_tail(self, lines: int = 40) -> str:
        return (
            f"--- {self.log_file} ---\n{tail(self.log_file, lines)}\n"
            f"--- {self.stdout_file} ---\n{tail(self.stdout_file, lines)}"
        )

    # -- internals ------------------------------------------------------------------------------------

    def _classpath(self) -> str:
        assert self.lib is not None
        return f"{self.lib}/*"

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={self.data_dir}",
                    "num.partitions=1",
                    "offsets.topic.replication.factor=1",
                    # Fewer offset partitions: each one is a log the single node must load on start.
                    "offsets.topic.num.partitions=10",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "transaction.state.log.num.partitions=4",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "",
                ]
            )
        )
        # WARN and above to a file in the work dir; the tail goes into start-up errors.
        self.log4j_file.write_text(
            "\n".join(
                [
                    "status = warn",
                    "appender.file.type = File",
                    "appender.file.name = FILE",
                    f"appender.file.fileName = {self.log_file}",
                    "appender.file.layout.type = PatternLayout",
                    "appender.file.layout.pattern = [%d] %p %m (%c)%n",
                    "rootLogger.level = WARN",
                    "rootLogger.appenderRef.file.ref = FILE",
                    "",
                ]
            )
        )

    def _format(self) -> None:
        base = ["java", f"-Dlog4j2.configurationFile={self.log4j_file}", "-cp", self._classpath()]
        uuid = subprocess.run(
            [*base, "kafka.tools.StorageTool", "random-uuid"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        cluster_id = uuid.stdout.strip().splitlines()[-1] if uuid.stdout.strip() else ""
        if uuid.returncode != 0 or not cluster_id:
            raise KafkaHarnessError(f"StorageTool random-uuid failed:\n{uuid.stdout}{uuid.stderr}")
        # A static controller.quorum.voters excludes --standalone (Kafka 4.x refuses both).
        fmt = subprocess.run(
            [*base, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self.config_file)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if fmt.returncode != 0:
            raise KafkaHarnessError(f"StorageTool format failed:\n{fmt.stdout}{fmt.stderr}")

    def _launch(self) -> None:
        cmd = [
            "java",
            "-Xms256m",
            f"-Xmx{self.heap}",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.log4j_file}",
            "-cp",
            self._classpath(),
            "kafka.Kafka",
            str(self.config_file),
        ]
        # The parent-death signal fires when the starting *thread* exits, so only use it from the main one.
        preexec = _die_with_parent if threading.current_thread() is threading.main_thread() else None
        began = time.monotonic()
        with open(self.stdout_file, "ab") as out:
            self.process = subprocess.Popen(
                cmd,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=preexec,
            )
        if self._own_workdir:
            # The broker dies with this process (parent-death signal); the helper then removes its files.
            self._end_watchdog()
            self._watchdog = start_watchdog(remove=self.workdir, wait_pid=self.process.pid)
        try:
            run_sync(lambda: self._wait_ready(began + self.ready_timeout))
        except BaseException:
            self.kill()
            raise
        self.start_seconds = time.monotonic() - began
        self.start_times.append(self.start_seconds)

    async def _wait_ready(self, deadline: float) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            proc = self.process
            assert proc is not None
            if proc.poll() is not None:
                raise KafkaHarnessError(
                    f"Kafka broker exited with code {proc.returncode} during start-up\n{self.log_tail()}"
                )
            # aiokafka logs every refused connection; wait quietly for the port before asking for metadata.
            if not await _port_open("127.0.0.1", self.port):
                last_error = KafkaHarnessError(f"port {self.port} not open yet")
                await asyncio.sleep(0.25)
                continue
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.bootstrap, request_timeout_ms=5000, client_id="ew-harness"
            )
            try:
                async with asyncio.timeout(max(1.0, min(10.0, deadline - time.monotonic()))):
                    await admin.start()
                    cluster = await admin.describe_cluster()
                if cluster.get("brokers"):
                    return
                last_error = KafkaHarnessError("metadata lists no broker yet")
            except Exception as exc:
                last_error = exc
            finally:
                with contextlib.suppress(Exception):
                    await admin.close()
            await asyncio.sleep(0.25)
        raise KafkaHarnessError(
            f"Kafka broker not ready after {self.ready_timeout:.0f} s (last error: {last_error!r})\n"
            f"{self.log_tail()}"
        )

    def _signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def _end_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()
            self._watchdog = None

    def _reap(self) -> None:
        self.process = None
