"""The `earlywarning` command."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from services.ingest.import_cli import register as register_import
from services.register.cli import register as register_kbo
from services.signals.rules import RulesConfigError, defaults_text, load_rules
from shared.asyncapi import to_yaml
from shared.auth import ApiKey, Scope
from shared.bus import BusError
from shared.bus.dlq import list_dead_letters, replay
from shared.logging import configure_logging
from shared.runtime import Infrastructure, open_infrastructure
from shared.settings import Settings

T = TypeVar("T")

app = typer.Typer(
    name="earlywarning",
    help=(
        "Early Warning: early-warning signals for credit management from the Belgian Official Gazette, "
        "credit-bureau events and what sales people notice.\n\n"
        "Configuration comes from EW_* environment variables or a .env file: EW_DATABASE_URL "
        "(default sqlite+aiosqlite:///./earlywarning.db) and EW_KAFKA_BOOTSTRAP (unset: the embedded bus "
        "in the database; set: Kafka) matter most. See the README for all of them."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
dlq_app = typer.Typer(
    help="Inspect and re-drive dead-lettered messages (ew.dlq.<topic>).", no_args_is_help=True
)
app.add_typer(dlq_app, name="dlq")
keys_app = typer.Typer(
    help="API keys (bearer tokens). Scopes: ingest (write), read, admin (everything). Only a hash is stored.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")

console = Console()
errors = Console(stderr=True)


class ServiceName(enum.StrEnum):
    ingest = "ingest"
    signals = "signals"
    notifier = "notifier"


def _print_table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """A table on a terminal; tab-separated lines (with the header) for scripts, never truncated."""
    if console.is_terminal:
        table = Table(*headers)
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    for line in (headers, *rows):
        print("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in line))


def _settings(*, server: bool = True) -> Settings:
    settings = Settings()
    # A command that is not a server prints its answer; the log then only says what went wrong.
    configure_logging(settings.log_level if server else "WARNING", settings.log_format)
    if server and settings.rules_file is not None:
        _check_rules(settings.rules_file)  # fail before starting anything, with the reason
    return settings


def _check_rules(path: Path) -> None:
    try:
        load_rules(path)
    except RulesConfigError as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _with_infrastructure(work: Callable[[Infrastructure], Awaitable[T]]) -> T:
    """Open the database and the bus, run `work`, close them; errors are one line, not a traceback."""
    settings = _settings(server=False)

    async def main() -> T:
        async with open_infrastructure(settings, start_timeout=10) as infra:
            return await work(infra)

    try:
        return asyncio.run(main())
    except (BusError, OSError) as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8000,
) -> None:
    """Run ingest, signals and notifier in ONE process (the embedded default: SQLite, no servers needed).

    Serves the HTTP API on HOST:PORT with /healthz, /readyz, /metrics and OpenAPI at /docs.
    """
    from services.runner import run

    run(_settings(), ["ingest", "signals", "notifier"], host, port)


@app.command()
def serve(
    service: Annotated[ServiceName, typer.Argument(help="The service to run.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",  # noqa: S104 - a server
    port: Annotated[
        int | None, typer.Option(help="HTTP port (default: ingest 8001, signals 8002, notifier 8003).")
    ] = None,
) -> None:
    """Run one service on its own, for the distributed deployment (Kafka + PostgreSQL).

    Run several processes of a service to scale it: consumers of one service share a consumer group
    and split the topics' partitions between them.
    """
    from services.runner import DEFAULT_PORTS, run

    run(_settings(), [service.value], host, port or DEFAULT_PORTS[service.value])


@app.command()
def rules(
    check: Annotated[
        Path | None, typer.Option("--check", help="Check this rules file instead of printing the defaults.")
    ] = None,
) -> None:
    """Print the shipped signal rules (thresholds and windows, with comments), or check a rules file.

    To change a threshold, copy the settings you want into your own YAML file, keep the section names,
    and set EW_RULES_FILE to its path; settings you leave out keep their defaults.
    """
    if check is None:
        print(defaults_text(), end="")
        return
    _check_rules(check)
    console.print(f"{check}: the rules are valid")


@app.command()
def migrate() -> None:
    """Apply the database migrations now (every service also applies them at start-up)."""

    async def done(_infra: Infrastructure) -> None:
        return None

    _with_infrastructure(done)
    console.print("database is up to date")


@app.command()
def topics() -> None:
    """Topics, partitions, end offsets and the lag of every consumer group."""

    async def work(infra: Infrastructure) -> None:
        rows: list[tuple[str, ...]] = []
        for info in await infra.bus.describe():
            head = (info.topic, str(info.partition), str(info.end_offset))
            if not info.committed:
                rows.append((*head, "-", "-", "-"))
            for group, committed in sorted(info.committed.items()):
                rows.append((*head, group, str(committed), str(info.lag(group))))
        _print_table(("topic", "partition", "end offset", "group", "committed", "lag"), rows)

    _with_infrastructure(work)


@app.command()
def asyncapi(
    output: Annotated[
        Path | None, typer.Option("--output", help="Write the document to this file instead of printing it.")
    ] = None,
) -> None:
    """Print the AsyncAPI 3.0 document of every topic (YAML), generated from the payload models.

    It describes each topic and its dead-letter topic: the payload schemas, the CloudEvents headers, the
    key, and which service sends and receives it. docs/asyncapi.yaml is this output; after changing a
    payload model, regenerate it with `earlywarning asyncapi --output docs/asyncapi.yaml`.
    """
    text = to_yaml()
    if output is None:
        print(text, end="")
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"wrote {output}")


@dlq_app.command("list")
def dlq_list(
    topic: Annotated[str, typer.Argument(help="A topic (ew.observations) or its dead-letter topic.")],
    limit: Annotated[int, typer.Option(help="At most this many messages.")] = 100,
) -> None:
    """List the dead letters of TOPIC with the error that sent each there."""

    async def work(infra: Infrastructure) -> None:
        letters = await list_dead_letters(infra.bus, topic, limit=limit)
        if not letters:
            console.print(f"no dead letters for {topic}")
            return
        rows = [
            (
                str(letter.message.partition),
                str(letter.message.offset),
                letter.message.key or "",
                f"{letter.original_partition}@{letter.original_offset}",
                "yes" if letter.replayed else "no",
                letter.error,
            )
            for letter in letters
        ]
        _print_table(("partition", "offset", "key", "original", "replayed", "error"), rows)

    _with_infrastructure(work)


@dlq_app.command("replay")
def dlq_replay(
    topic: Annotated[str, typer.Argument(help="A topic (ew.observations) or its dead-letter topic.")],
) -> None:
    """Publish the dead letters of TOPIC that were not replayed yet back onto TOPIC.

    Fix the cause first (a new release, corrected data): a message that fails again is dead-lettered again.
    """

    async def work(infra: Infrastructure) -> int:
        return await replay(infra.bus, topic)

    count = _with_infrastructure(work)
    console.print(f"replayed {count} message(s) onto {topic.removeprefix('ew.dlq.')}")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what uses the key, e.g. 'crm-sync'.")],
    scope: Annotated[list[Scope], typer.Option(help="A scope; repeat for several.")],
) -> None:
    """Create an API key and print it ONCE: store it now, it cannot be shown again."""

    async def work(infra: Infrastructure) -> tuple[ApiKey, str]:
        return await infra.keys.create(name, scope)

    key, value = _with_infrastructure(work)
    errors.print(f"created key {key.id} ({key.name}) with scopes {', '.join(sorted(key.scopes))}")
    console.print(value, highlight=False, soft_wrap=True)


@keys_app.command("list")
def keys_list() -> None:
    """List the API keys (id, name, prefix, scopes, created, revoked); never their values."""

    async def work(infra: Infrastructure) -> list[ApiKey]:
        return await infra.keys.list()

    rows = [
        (
            key.id,
            key.name,
            key.prefix + "…",
            " ".join(sorted(key.scopes)),
            f"{key.created_at:%Y-%m-%d %H:%M}",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
        )
        for key in _with_infrastructure(work)
    ]
    _print_table(("id", "name", "prefix", "scopes", "created", "revoked"), rows)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (or its prefix) from `keys list`.")],
) -> None:
    """Revoke a key; every service refuses it within 10 seconds."""

    async def work(infra: Infrastructure) -> bool:
        return await infra.keys.revoke(key_id)

    if not _with_infrastructure(work):
        errors.print(f"[red]error:[/red] no live key {key_id}")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


register_kbo(register_import(app, _with_infrastructure), _with_infrastructure)


def main() -> None:
    app()
