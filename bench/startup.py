"""Time from `earlywarning up` on an empty directory to the first 200 of /readyz.

    .venv/bin/python bench/startup.py [--repeat 5]

Prints each run and the median, in seconds.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.harness import free_port

EARLYWARNING = str(Path(sys.executable).with_name("earlywarning"))


def time_to_ready() -> float:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EW_")}
    with tempfile.TemporaryDirectory() as cwd:
        started = time.monotonic()
        process = subprocess.Popen(
            [EARLYWARNING, "up", "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"earlywarning up exited with {process.returncode}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        return time.monotonic() - started
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    runs = [time_to_ready() for _ in range(args.repeat)]
    for i, seconds in enumerate(runs, 1):
        print(f"run {i}: ready after {seconds:.2f} s")
    print(f"earlywarning up, empty directory -> /readyz 200: median {statistics.median(runs):.2f} s")


if __name__ == "__main__":
    main()
