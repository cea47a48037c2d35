"""Load time and peak memory of `earlywarning import kbo` for a full-size KBO/BCE extract, and an update.

    .venv/bin/python bench/register.py [--enterprises 2000000] [--update-rows 10000] [--monitored 10000]
                                       [--db both|postgresql|sqlite] [--database-url postgresql+asyncpg://...]

Generates, streaming to a temporary folder, a full extract of --enterprises enterprises in the proportions
of the real one (2 million: about 46 million rows over all tables, 2.1 GB) and an update extract of about
--update-rows rows; puts --monitored companies in the portfolio; then loads the full extract and the
update, each in a process of its own whose peak resident memory (VmHWM) is reported. Starts its own
PostgreSQL (tests/harness) unless --database-url is given. Prints the table only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.register.load import load_extract
from services.signals.store import companies
from shared.db import create_engine, migrate
from shared.runtime import open_infrastructure
from shared.settings import Settings
from tests.harness.kbo import company_id, enterprise_number, write_generated_full, write_generated_update
from tests.harness.postgres import PostgresServer, create_database

NOW = datetime(2025, 10, 12, 9, 0, tzinfo=UTC)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    """The peak resident memory of this process (VmHWM), in MB."""
    for text in Path("/proc/self/status").read_text().splitlines():
        if text.startswith("VmHWM:"):
            return int(text.split()[1]) / 1024
    return float("nan")


async def monitor(url: str, count: int, enterprises: int) -> None:
    """`count` companies of the generated register in the portfolio, as the signals service keeps them."""
    engine = create_engine(url)
    try:
        await migrate(engine)
        step = max(enterprises // max(count, 1), 1)
        rows = []
        for n in range(0, min(count * step, enterprises), step):
            cid = company_id(enterprise_number(n))
            entry = {"company_id": cid, "name": f"Customer {n}"}
            rows.append(
                {"company_id": cid, "name": entry["name"], "portfolio": json.dumps(entry), "score": 100}
            )
        async with engine.begin() as conn:
            for start in range(0, len(rows), 5000):
                await conn.execute(
                    companies.insert(), [{**r, "updated_at": NOW} for r in rows[start : start + 5000]]
                )
    finally:
        await engine.dispose()


async def child(url: str, path: Path) -> dict[str, object]:
    """Load one extract as `earlywarning import kbo` does (database and bus opened the same way)."""
    settings = Settings(database_url=url, kafka_bootstrap=None, log_level="ERROR")
    async with open_infrastructure(settings, start_timeout=30) as infra:
        started = time.perf_counter()
        result = await load_extract(infra.engine, infra.bus, path)
        elapsed = time.perf_counter() - started
    return {
        "elapsed": elapsed,
        "peak_mb": peak_rss_mb(),
        "rows": sum(step.rows for step in result.steps if step.step != "events"),
        "written": sum(step.written for step in result.steps if step.step != "events"),
        "rejected": result.rejected,
        "events": result.events,
    }


def run_child(url: str, path: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", url, str(path)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"the load failed:\n{out.stderr[-4000:]}")
    figures: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def measure(url: str, full: Path, update: Path, args: argparse.Namespace) -> dict[str, dict[str, object]]:
    asyncio.run(monitor(url, args.monitored, args.enterprises))
    log(f"loading the full extract into {url.split(':', 1)[0]}")
    loaded = run_child(url, full)
    log(f"full: {loaded}")
    log("loading the update")
    updated = run_child(url, update)
    log(f"update: {updated}")
    return {"full": loaded, "update": updated}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--enterprises", type=int, default=2_000_000)
    parser.add_argument("--update-rows", type=int, default=10_000)
    parser.add_argument("--monitored", type=int, default=10_000, help="companies in the portfolio")
    parser.add_argument("--db", choices=["both", "postgresql", "sqlite"], default="both")
    parser.add_argument("--database-url", help="a PostgreSQL server to use (a database is created on it)")
    parser.add_argument("--workdir", type=Path, help="where to generate the extracts (default: a temp dir)")
    parser.add_argument("--child", nargs=2, metavar=("URL", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.disable(logging.ERROR)
    if args.child:
        print(json.dumps(asyncio.run(child(args.child[0], Path(args.child[1])))))
        return
    results: dict[str, dict[str, dict[str, object]]] = {}
    postgres: PostgresServer | None = None
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        folder = Path(tmp)
        log(f"generating a full extract of {args.enterprises:,} enterprises in {folder}")
        started = time.perf_counter()
        counts = write_generated_full(folder / "full", 140, date(2025, 10, 3), args.enterprises)
        generated = time.perf_counter() - started
        size = sum(p.stat().st_size for p in (folder / "full").iterdir())
        log(f"{sum(counts.values()):,} rows, {size / 1e9:.2f} GB in {generated:.0f} s: {counts}")
        update_rows = write_generated_update(
            folder / "update", 141, date(2025, 10, 6), args.enterprises, args.update_rows
        )
        try:
            if args.db in ("both", "postgresql"):
                server = args.database_url
                if server is None:
                    log("starting PostgreSQL")
                    postgres = PostgresServer()
                    postgres.start()
                    server = postgres.url
                url = create_database(server)
                results["postgresql"] = measure(url, folder / "full", folder / "update", args)
            if args.db in ("both", "sqlite"):
                url = f"sqlite+aiosqlite:///{folder}/ew.db"
                results["sqlite"] = measure(url, folder / "full", folder / "update", args)
        finally:
            if postgres is not None:
                postgres.close()
    total = sum(counts.values())
    print(
        f"KBO import: full extract of {args.enterprises:,} enterprises ({total:,} rows, {size / 1e9:.2f} GB), "
        f"update of {update_rows:,} rows, {args.monitored:,} monitored companies"
    )
    print(f"{'database':12}{'full (s)':>10}{'rows/s':>12}{'peak MB':>10}{'update (s)':>12}{'peak MB':>10}")
    for name, figures in results.items():
        full, update = figures["full"], figures["update"]
        rate = total / float(full["elapsed"])  # type: ignore[arg-type]
        print(
            f"{name:12}{full['elapsed']:>10.1f}{rate:>12,.0f}{full['peak_mb']:>10.0f}"
            f"{update['elapsed']:>12.2f}{update['peak_mb']:>10.0f}"
        )


if __name__ == "__main__":
    main()
