"""A throwaway PostgreSQL server in a temporary directory, for tests and benchmarks.

    with PostgresServer() as pg:
        url = pg.url                          # postgresql+asyncpg://ew:...@127.0.0.1:<port>/ew
        db_url = create_database(pg.url)      # a fresh, empty database on the same server

initdb refuses to run as root, so when the process is root every server command runs as the `postgres`
user through `runuser`, on a directory owned by that user.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from sqlalchemy.engine import URL, make_url

from . import free_port, run_sync, start_watchdog, tail

START_TIMEOUT = 60
STOP_TIMEOUT = 30

_counter = itertools.count(1)


class PostgresHarnessError(RuntimeError):
    """The server binaries are missing or the server could not be initialised or started."""


def find_bindir() -> Path:
    """The directory of initdb/pg_ctl/postgres: $EW_PG_BINDIR, else the newest /usr/lib/postgresql/*/bin."""
    candidates: list[Path] = []
    if env := os.environ.get("EW_PG_BINDIR"):
        candidates.append(Path(env))
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()),
        key=lambda p: int(p.parent.name),
        reverse=True,
    )
    candidates.extend(versions)
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
            candidates.append(Path(out.stdout.strip()))
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres", "psql")):
            return bindir
    raise PostgresHarnessError(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres, psql) not found in "
        f"{[str(c) for c in candidates] or '/usr/lib/postgresql/*/bin'}; install them "
        "(Debian: apt-get install -y postgresql), set EW_PG_BINDIR, or point the tests at a running "
        "server with EW_TEST_DATABASE_URL"
    )


class PostgresServer:
    """One PostgreSQL cluster on a free port, listening on 127.0.0.1 and on a socket in its own dir."""

    def __init__(
        self,
        *,
        user: str = "ew",
        password: str = "ew-test-password",
        database: str = "ew",
        workdir: Path | None = None,
        start_timeout: int = START_TIMEOUT,
    ) -> None:
        self.user = user
        self.password = password
        self.database = database
        self.start_timeout = start_timeout
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="ew-pg-"))
        self.data_dir = self.workdir / "data"
        self.socket_dir = self.workdir
        self.log_file = self.workdir / "postgres.log"
        self.port = free_port()
        self.bindir: Path | None = None
        self.start_seconds: float | None = None
        """Seconds `pg_ctl start` took until the server accepted connections (last start)."""
        self.init_seconds: float | None = None
        """Seconds initdb took (first start only)."""
        self.start_times: list[float] = []
        self._run_as: str | None = "postgres" if os.geteuid() == 0 else None
        self._atexit_registered = False
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._closed = False

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the test database over TCP with the password role."""
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        return URL.create(
            "postgresql+asyncpg",
            username=self.user,
            password=self.password,
            host="127.0.0.1",
            port=self.port,
            database=database,
        ).render_as_string(hide_password=False)

    @property
    def running(self) -> bool:
        if self.bindir is None or not self.data_dir.exists():
            return False
        proc = self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "status"], check=False)
        return proc.returncode == 0

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        """initdb on first start, then start the server and wait until it accepts connections."""
        if self._closed:
            raise PostgresHarnessError("this server was closed; create a new one")
        self.bindir = find_bindir()
        if self._run_as is not None:
            try:
                pwd.getpwnam(self._run_as)
            except KeyError:
                raise PostgresHarnessError(
                    f"running as root needs the '{self._run_as}' user to run initdb/pg_ctl "
                    "(Debian's postgresql package creates it)"
                ) from None
        if not self._atexit_registered:
            atexit.register(self.close)
            self._atexit_registered = True
        self._start_watchdog()
        first = not (self.data_dir / "PG_VERSION").is_file()
        if first:
            self._initdb()
        self._pg_ctl_start()
        if first:
            self._create_role_and_database()

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m fast` (or smart/immediate); the data dir is kept for a restart."""
        if self.bindir is None or not (self.data_dir / "postmaster.pid").exists():
            return
        proc = self._run(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                mode,
                "-w",
                "-t",
                str(STOP_TIMEOUT),
                "stop",
            ],
            check=False,
        )
        if proc.returncode != 0 and (self.data_dir / "postmaster.pid").exists():
            self.kill()

    def kill(self) -> None:
        """SIGKILL the postmaster (a crash, for fault injection) and wait until its PID is gone."""
        pid = self._postmaster_pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)

    def restart(self, *, mode: str = "fast") -> None:
        """Stop with `mode` ("immediate" simulates a crash) and start again on the same data dir and port."""
        self.stop(mode)
        self._pg_ctl_start()

    def close(self) -> None:
        """Stop the server and remove its directory; idempotent, also run at exit."""
        if self._closed:
            return
        try:
            self.stop("immediate")
        finally:
            self._closed = True
            if self._watchdog is not None:
                self._watchdog.kill()
                self._watchdog.wait()
                self._watchdog = None
            if self._atexit_registered:
                atexit.unregister(self.close)
                self._atexit_registered = False
            if self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def log_tail(self, lines: int = 40) -> str:
        return f"--- {self.log_file} ---\n{tail(self.log_file, lines)}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL as the superuser over the unix socket; returns psql's output."""
        assert self.bindir is not None
        proc = self._run(
            [
                str(self.bindir / "psql"),
                "-X",
                "-q",
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            check=False,
        )
        if proc.returncode != 0:
            raise PostgresHarnessError(f"psql failed: {proc.stdout}{proc.stderr}")
        return proc.stdout

    # -- internals ------------------------------------------------------------------------------------

    def _run(
        self, cmd: list[str], *, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        if self._run_as is not None:
            cmd = ["runuser", "-u", self._run_as, "--", *cmd]
        proc = subprocess.run(
            cmd, cwd=self.workdir, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise PostgresHarnessError(
                f"{' '.join(cmd)} failed with exit {proc.returncode}:\n{proc.stdout}{proc.stderr}\n{self.log_tail()}"
            )
        return proc

    def _initdb(self) -> None:
        assert self.bindir is not None
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self._run_as is not None:
            entry = pwd.getpwnam(self._run_as)
            os.chown(self.workdir, entry.pw_uid, entry.pw_gid)
        os.chmod(self.workdir, 0o700)
        began = time.monotonic()
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                # The superuser only over the private socket; TCP clients use the password role.
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-instructions",
            ]
        )
        self.init_seconds = time.monotonic() - began

    def _pg_ctl_start(self) -> None:
        assert self.bindir is not None
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=on "
            "-c max_connections=200 -c shared_buffers=64MB"
        )
        began = time.monotonic()
        proc = self._run(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                options,
                "-w",
                "-t",
                str(self.start_timeout),
                "start",
            ],
            check=False,
            timeout=self.start_timeout + 30,
        )
        if proc.returncode != 0:
            raise PostgresHarnessError(
                f"pg_ctl start failed with exit {proc.returncode}:\n{proc.stdout}{proc.stderr}\n{self.log_tail()}"
            )
        self.start_seconds = time.monotonic() - began
        self.start_times.append(self.start_seconds)

    def _create_role_and_database(self) -> None:
        password = self.password.replace("'", "''")
        self.psql(f"CREATE ROLE {self.user} LOGIN CREATEDB PASSWORD '{password}'")
        self.psql(f"CREATE DATABASE {self.database} OWNER {self.user}")

    def _start_watchdog(self) -> None:
        # pg_ctl detaches the postmaster and atexit does not run when this process dies by a signal.
        if self._watchdog is not None:
            return
        assert self.bindir is not None
        stop = [str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"]
        if self._run_as is not None:
            stop = ["runuser", "-u", self._run_as, "--", *stop]
        self._watchdog = start_watchdog(stop, self.workdir if self._own_workdir else None)

    def _postmaster_pid(self) -> int | None:
        try:
            first = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
        except (OSError, IndexError):
            return None
        return int(first) if first.strip().isdigit() else None


def _alive(pid: int) -> bool:
    """Whether `pid` exists at all, zombie included.

    Once pg_ctl has exited the postmaster is a child of init, so after a kill it lingers as a zombie until
    init reaps it (about 2 s here), and a new postmaster refuses a lock file whose PID still exists.
    """
    return Path(f"/proc/{pid}").exists()


_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def create_database(server_url: str, name: str | None = None) -> str:
    """Create an empty database on the server of `server_url`; returns its SQLAlchemy URL.

    The default name `ew_test_<pid>_<n>` keeps concurrent and earlier runs on a shared server apart.
    The role of `server_url` needs CREATEDB.
    """
    name = name or f"ew_test_{os.getpid()}_{next(_counter)}"
    if not _DB_NAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    url = make_url(server_url)

    async def create() -> None:
        import asyncpg

        conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=30)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    run_sync(create)
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, database_url: str) -> None:
    """Drop the database of `database_url` (connected through `server_url`), ending its sessions."""
    name = make_url(database_url).database
    if not name or not _DB_NAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    url = make_url(server_url)

    async def drop() -> None:
        import asyncpg

        conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=30)
        try:
            for attempt in range(20):
                try:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    return
                except asyncpg.InsufficientPrivilegeError:
                    # FORCE may not end a superuser's process, such as an autovacuum worker that has
                    # just started on this database; it is gone a moment later.
                    if attempt == 19:
                        raise
                    await asyncio.sleep(0.25)
        finally:
            await conn.close()

    run_sync(drop)


def _asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
