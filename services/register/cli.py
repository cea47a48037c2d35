"""`earlywarning import kbo PATH`: load a KBO/BCE Open Data extract, with a progress bar and a summary."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from services.ingest.import_cli import EXIT_INTERRUPTED, EXIT_USAGE, WithInfrastructure
from services.register.extract import Extract, ExtractError
from services.register.load import DEFAULT_BATCH_SIZE, LoadResult, RegisterLoadError, load_extract
from shared.runtime import Infrastructure

EXIT_REFUSED = 1
SHOWN_EXAMPLES = 5

KBO_HELP = """Load a KBO/BCE Open Data extract (full or update): PATH is its folder or the zip as published.

Keeps the register of enterprises (names, legal form, juridical situation, start date, registered office,
main NACE activity, establishment units) that gives the portfolio its firmographics, and publishes on
ew.register the changes of monitored companies: a new juridical situation (048-050 raise bankruptcy,
091/040/041 judicial_reorganisation, 010/012/013 dissolution), a new registered office, or an enterprise
that left the register (struck off). A first load announces a standing situation only when the enterprise
started within EW_REGISTER_HORIZON_YEARS (5): the open data does not date situations.

A full extract replaces the register; an update deletes then inserts, table by table. An extract already
loaded changes nothing; one older than the register is refused. An interrupted import continues where it
stopped when run again. Broken rows are counted and shown in the summary, and do not stop the import.

Exit code: 0 when the extract is loaded (or was already), 1 when it was refused or the database or bus
failed, 2 when PATH is not a readable extract, 130 when interrupted."""


class _Bars:
    """One progress bar per step, added when the step starts."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, step: str, done: int, total: int, rows: int) -> None:
        task = self.tasks.get(step)
        if task is None:
            self.tasks[step] = self.progress.add_task(step, total=total or None, completed=done, rows=rows)
        else:
            self.progress.update(task, total=total or None, completed=done, rows=rows)


def register(import_app: typer.Typer, with_infrastructure: WithInfrastructure) -> None:
    """Add `kbo` to the `import` commands."""
    import_app.command("kbo", help=KBO_HELP)(_command(with_infrastructure))


def _command(with_infrastructure: WithInfrastructure) -> Callable[..., None]:
    def import_kbo(
        path: Annotated[
            Path,
            typer.Argument(metavar="PATH", help="The extract: its folder, or the zip as published."),
        ],
        batch_size: Annotated[
            int,
            typer.Option(min=100, max=1_000_000, help="Rows written (and checkpointed) together."),
        ] = DEFAULT_BATCH_SIZE,
    ) -> None:
        _run(with_infrastructure, path, batch_size)

    return import_kbo


def _run(with_infrastructure: WithInfrastructure, path: Path, batch_size: int) -> None:
    out, err = Console(), Console(stderr=True)
    try:
        # The extract's own problems are usage errors, found before the database and the bus are opened.
        with Extract(path) as extract:
            meta = extract.meta
    except ExtractError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    err.print(
        f"extract {meta.number} ({meta.kind}, snapshot {meta.snapshot_date:%d-%m-%Y}) from {path}",
        highlight=False,
    )
    progress = Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]:>12,} rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
    )

    async def work(infra: Infrastructure) -> LoadResult:
        with progress:
            return await load_extract(
                infra.engine,
                infra.bus,
                path,
                horizon_years=infra.settings.register_horizon_years,
                batch_size=batch_size,
                progress=_Bars(progress),
            )

    try:
        result = with_infrastructure(work)
    except ExtractError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    except RegisterLoadError as exc:
        err.print(f"[red]refused:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_REFUSED) from None
    except KeyboardInterrupt:
        err.print("interrupted: run the same command again to continue where the import stopped")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    for note in result.notes:
        err.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    out.print(headline(result), highlight=False)
    out.print(summary(result))
    for step in result.steps:
        for example in step.examples[:SHOWN_EXAMPLES]:
            err.print(f"[yellow]rejected[/yellow] {step.step} {example}", highlight=False)


def headline(result: LoadResult) -> str:
    """What happened to the extract, in one line."""
    meta = result.meta
    line = f"extract {meta.number} ({meta.kind}, snapshot {meta.snapshot_date:%d-%m-%Y})"
    if result.already_loaded:
        return line + ": already loaded, nothing changed"
    if result.resumed:
        line += ": continued an interrupted import"
    return line + f": loaded in {result.elapsed:,.1f} s"


def summary(result: LoadResult) -> Table:
    """The summary table: per step its rows, writes and rejected rows, then the events published."""
    table = Table("step", "rows", "written", "rejected")
    for step in result.steps:
        rows = f"{step.rows:,}"
        if step.resumed_at is not None:
            rows += f" (continued at {step.resumed_at:,})"
        table.add_row(step.step, rows, f"{step.written:,}", f"{step.rejected:,}")
    if not result.already_loaded:
        published = ", ".join(f"{kind} {count:,}" for kind, count in sorted(result.events.items()))
        table.add_row("events published", published or "none", "", "")
    return table
