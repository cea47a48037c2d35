"""`earlywarning import publications|bureau|orders|portfolio|contacts FILE`: bulk loads, with progress."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Protocol, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from services.ingest.importer import DEFAULT_BATCH_SIZE, ImportResult, rejected_path_for, run_import
from services.ingest.intake import Intake
from services.ingest.rows import Format, ImportFileError, Kind, check_file, columns
from services.ingest.store import IntakeStore
from shared.runtime import Infrastructure

T = TypeVar("T")

SOURCE = "/earlywarning/import"
EXIT_REJECTED = 1
EXIT_USAGE = 2
# The shell's convention for a process stopped by Ctrl-C.
EXIT_INTERRUPTED = 130

IMPORT_HELP = """Bulk load NDJSON or CSV files: publications, bureau events, orders, portfolio, contacts.

The format comes from the extension (.ndjson, .jsonl, .json: one JSON object per line, the same body the
HTTP API takes; .csv: a header row, then one row per item) or from --format. CSV files may be separated by
',' or ';' (taken from the header line); an empty cell means "absent"; a quoted cell may span lines.

CSV columns: orders, portfolio and contacts are flat (portfolio: company_id plus the fields of PUT
/v1/portfolio/{company_id}; contacts: company_id and contact_id plus the fields of PUT
/v1/companies/{company_id}/contacts/{contact_id}, claims_director as true/false, 1/0 or yes/no).
publications: 'rubrics' holds one or more rubrics separated by '|' or ';', 'persons' a JSON array.
bureau: the event data as a JSON object in a 'data' column, or one 'data.<field>' column per field
(data.from, data.to, ...). Each command's --help lists its columns.

Rows are checked like the HTTP API checks them. Rejected rows go to FILE.rejected.ndjson with the reason.
An interrupted import continues where it stopped when run again (checkpoint FILE.import-state.json);
repeating rows that were already received creates no new events.

Exit code: 0 when every row was accepted, 1 when some rows were rejected (or the database or bus failed),
2 for a usage error such as a missing file."""

_KIND_HELP = {
    Kind.publications: "Official Gazette publications (ew.publications); the same reference is one publication.",
    Kind.bureau: "Credit-bureau events (ew.bureau); the same id is one event.",
    Kind.orders: "Orders of customers (ew.orders); the same company_id and order_id is one order.",
    Kind.portfolio: "Companies to monitor (ew.portfolio), as PUT /v1/portfolio/{company_id} does.",
    Kind.contacts: "Contacts at customers (ew.contacts), as PUT "
    "/v1/companies/{company_id}/contacts/{contact_id} does.",
}

_CSV_NOTES = {
    Kind.publications: "rubrics: several separated by '|' or ';'. persons: a JSON array of "
    "{name, birth_year?, role, action}.",
    Kind.bureau: "Either a 'data' column holding a JSON object or 'data.<field>' columns; "
    "ubo_change needs neither.",
    Kind.orders: "",
    Kind.portfolio: "",
    Kind.contacts: "claims_director: true/false, 1/0 or yes/no; empty: false.",
}


class ImportFormat(enum.StrEnum):
    ndjson = "ndjson"
    csv = "csv"


class WithInfrastructure(Protocol):
    """`services.cli._with_infrastructure`: opens the database and the bus around `work`."""

    def __call__(self, work: Callable[[Infrastructure], Awaitable[T]], /) -> T: ...


class _RowsColumn(ProgressColumn):
    """Rows read by this run and their rate."""

    def render(self, task: Task) -> Text:
        rows = int(task.fields.get("rows", 0))
        elapsed = task.elapsed or 0.0
        rate = f"{rows / elapsed:,.0f} rows/s" if elapsed > 0 else "- rows/s"
        return Text(f"{rows:,} rows  {rate}", style="progress.data.speed")


class _Bar:
    """The progress bar by bytes; the task is created at the first report, so that a resumed import
    starts at its checkpoint instead of showing a burst of speed."""

    def __init__(self, progress: Progress, description: str) -> None:
        self.progress = progress
        self.description = description
        self.task: TaskID | None = None

    def __call__(self, bytes_done: int, bytes_total: int, rows: int) -> None:
        if self.task is None:
            self.task = self.progress.add_task(
                self.description, total=bytes_total or 1, completed=bytes_done, rows=rows
            )
        else:
            self.progress.update(self.task, completed=bytes_done, rows=rows)


def _help(kind: Kind) -> str:
    names, required = columns(kind)
    listed = ", ".join(f"{name}*" if name in required else name for name in names)
    notes = _CSV_NOTES[kind]
    return (
        f"{_KIND_HELP[kind]}\n\n"
        f"NDJSON: one request body per line. CSV columns (* required): {listed}. {notes}\n\n"
        "Exit code 0 when every row was accepted, 1 when some rows were rejected, 2 for a usage error."
    )


def _summary(result: ImportResult) -> Table:
    table = Table("", "rows", show_header=False, title="import summary", title_justify="left")
    table.add_row("accepted (new events)", f"{result.accepted:,}")
    table.add_row("duplicates (received before, no new event)", f"{result.duplicates:,}")
    table.add_row("rejected", f"{result.rejected:,}")
    if result.rejected_path is not None:
        table.add_row("rejected rows with their reason in", str(result.rejected_path))
    if result.resumed_from_line is not None:
        table.add_row("continued an interrupted import at line", f"{result.resumed_from_line:,}")
    rate = result.rows_this_run / result.elapsed if result.elapsed > 0 else 0.0
    table.add_row("time", f"{result.elapsed:,.1f} s ({rate:,.0f} rows/s)")
    return table


def register(app: typer.Typer, with_infrastructure: WithInfrastructure) -> typer.Typer:
    """Add the `import` commands to `app`; returns the `import` sub-app for further import commands."""
    import_app = typer.Typer(help=IMPORT_HELP, no_args_is_help=True)
    for kind in Kind:
        import_app.command(kind.value, help=_help(kind))(_command(kind, with_infrastructure))
    app.add_typer(import_app, name="import")
    return import_app


def _command(kind: Kind, with_infrastructure: WithInfrastructure) -> Callable[..., None]:
    def command(
        file: Annotated[
            Path,
            typer.Argument(
                exists=True,
                dir_okay=False,
                readable=True,
                metavar="FILE",
                help="The NDJSON or CSV file to import.",
            ),
        ],
        format_: Annotated[
            ImportFormat | None,
            typer.Option("--format", help="ndjson or csv (default: from the file's extension)."),
        ] = None,
        rejected: Annotated[
            Path | None,
            typer.Option(help="Where rejected rows are written (default: FILE.rejected.ndjson)."),
        ] = None,
        batch_size: Annotated[
            int, typer.Option(min=1, max=10_000, help="Rows accepted (and checkpointed) together.")
        ] = DEFAULT_BATCH_SIZE,
        restart: Annotated[
            bool,
            typer.Option(
                "--restart", help="Start from the beginning, ignoring the checkpoint of an earlier run."
            ),
        ] = False,
    ) -> None:
        _run(
            with_infrastructure,
            kind,
            file,
            Format(format_.value) if format_ else None,
            rejected or rejected_path_for(file),
            batch_size,
            restart,
        )

    command.__name__ = f"import_{kind.value}"
    return command


def _run(
    with_infrastructure: WithInfrastructure,
    kind: Kind,
    file: Path,
    fmt: Format | None,
    rejected: Path,
    batch_size: int,
    restart: bool,
) -> None:
    out, err = Console(), Console(stderr=True)
    try:
        # The file's own problems are usage errors, found before the database and the bus are opened.
        fmt = check_file(file, kind, fmt)
    except ImportFileError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        _RowsColumn(),
        TimeRemainingColumn(),
        console=err,
    )
    bar = _Bar(progress, f"{kind.value} {file.name}")

    async def work(infra: Infrastructure) -> ImportResult:
        intake = Intake(infra.bus, IntakeStore(infra.engine), source=SOURCE)
        with progress:
            return await run_import(
                intake,
                kind,
                file,
                fmt=fmt,
                rejected_path=rejected,
                batch_size=batch_size,
                restart=restart,
                progress=bar,
            )

    try:
        result = with_infrastructure(work)
    except ImportFileError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    except KeyboardInterrupt:
        err.print("interrupted: run the same command again to continue where the import stopped")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if result.restarted:
        err.print(f"[yellow]note:[/yellow] {result.restarted}", highlight=False)
    out.print(_summary(result))
    if result.rejected:
        raise typer.Exit(EXIT_REJECTED)
