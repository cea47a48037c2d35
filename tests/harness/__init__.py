"""Real infrastructure for tests and benchmarks: a single-node Kafka broker and a throwaway PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a private loop in a private thread.

    The harness is called from synchronous fixtures while pytest-asyncio owns the thread's event loop;
    `asyncio.run` in that thread would replace and then clear the current loop, so it runs elsewhere.
    """
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(factory()))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="harness-sync", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def tail(path: Path, lines: int = 40) -> str:
    """The last `lines` lines of a log file, or a note that it does not exist."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:]) or f"({path} is empty)"


_WATCHDOG = """
import ctypes, json, os, shutil, signal, subprocess, sys, time
parent, command, wait_pid, remove = int(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
signals = {signal.SIGTERM, signal.SIGHUP, signal.SIGINT}
signal.pthread_sigmask(signal.SIG_BLOCK, signals)
ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
if os.getppid() == parent:
    signal.sigwait(signals)
if command:
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
deadline = time.monotonic() + 30
while wait_pid and os.path.exists(f"/proc/{wait_pid}") and time.monotonic() < deadline:
    time.sleep(0.2)
if remove:
    shutil.rmtree(remove, ignore_errors=True)
"""


def start_watchdog(
    command: list[str] | None = None, remove: Path | None = None, wait_pid: int | None = None
) -> subprocess.Popen[bytes] | None:
    """A helper process that cleans up after this one if it dies by a signal (atexit does not run then).

    When this process dies the helper runs `command`, waits for `wait_pid` to end and removes `remove`.
    Kill the helper once the cleanup was done normally. Linux only; None off the main thread, because
    the parent-death signal follows the thread that started the helper.
    """
    if threading.current_thread() is not threading.main_thread() or not sys.platform.startswith("linux"):
        return None
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            _WATCHDOG,
            str(os.getpid()),
            json.dumps(command or []),
            str(wait_pid or 0),
            str(remove or ""),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
