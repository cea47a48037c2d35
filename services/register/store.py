"""What the register keeps: the extract's tables the system uses, and the state of the imports.

Tables are SQLAlchemy Core on the shared metadata (migration 0008 creates them). Enterprises are keyed by
company id (`BE0403170701`) so that they join the rest of the system as they are. Only what the system
uses is kept: enterprises, their names, registered offices and main activities, establishment units with
their enterprise, and the code tables of those columns.

Bulk writes go through `insert_rows`: PostgreSQL's `COPY` on the driver connection (inside the caller's
transaction), SQLite's `executemany`. Functions take an open connection: the loader commits each batch
together with the progress that says it was written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    case,
    delete,
    func,
    literal,
    null,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from services.register.changes import Candidate, State
from services.signals.store import companies
from shared.db import UTCDateTime, among, dialect_insert, id_chunks, metadata

# --- the register ------------------------------------------------------------------------------------

register_codes = Table(
    "register_codes",
    metadata,
    Column("category", String(32), primary_key=True),
    Column("code", String(16), primary_key=True),
    Column("language", String(2), primary_key=True),
    Column("description", String(500), nullable=False),
)

register_enterprises = Table(
    "register_enterprises",
    metadata,
    Column("company_id", String(16), primary_key=True),
    Column("status", String(2), nullable=False),
    Column("juridical_situation", String(3), nullable=False),
    Column("type_of_enterprise", String(1), nullable=False),
    Column("juridical_form", String(3), nullable=True),
    Column("juridical_form_cac", String(3), nullable=True),
    Column("start_date", Date, nullable=True),
)

# The tables below have no primary key: the extract gives none (an enterprise may have several names of
# one type and language), and a duplicate row must not stop a load of millions.
register_denominations = Table(
    "register_denominations",
    metadata,
    Column("company_id", String(16), nullable=False),
    Column("language", String(1), nullable=False),
    Column("type", String(3), nullable=False),
    Column("name", String(320), nullable=False),
    Index("ix_register_denominations_company_id", "company_id"),
)

# Registered offices (TypeOfAddress REGO) of enterprises; `office_key` fingerprints the address.
register_offices = Table(
    "register_offices",
    metadata,
    Column("company_id", String(16), nullable=False),
    Column("zipcode", String(20), nullable=True),
    Column("municipality_nl", String(200), nullable=True),
    Column("municipality_fr", String(200), nullable=True),
    Column("street_nl", String(200), nullable=True),
    Column("street_fr", String(200), nullable=True),
    Column("house_number", String(22), nullable=True),
    Column("box", String(20), nullable=True),
    Column("country_nl", String(100), nullable=True),
    Column("country_fr", String(100), nullable=True),
    Column("struck_off_on", Date, nullable=True),
    Column("office_key", String(16), nullable=False),
    Index("ix_register_offices_company_id", "company_id"),
)

# Main activities (Classification MAIN) of enterprises, NACE-BEL 2008 and 2025.
register_activities = Table(
    "register_activities",
    metadata,
    Column("company_id", String(16), nullable=False),
    Column("activity_group", String(3), nullable=False),
    Column("nace_version", String(4), nullable=False),
    Column("nace_code", String(8), nullable=False),
    Index("ix_register_activities_company_id", "company_id"),
)

register_establishments = Table(
    "register_establishments",
    metadata,
    Column("establishment_number", String(10), primary_key=True),
    Column("company_id", String(16), nullable=False),
    Column("start_date", Date, nullable=True),
    Index("ix_register_establishments_company_id", "company_id"),
)

# Enterprises that left the register (the open data holds active enterprises only): their last row, and
# the extract that no longer had them. Removed again if they come back.
register_departed = Table(
    "register_departed",
    metadata,
    Column("company_id", String(16), primary_key=True),
    Column("extract_number", Integer, nullable=False),
    Column("snapshot_date", Date, nullable=False),
    Column("juridical_situation", String(3), nullable=True),
    Column("juridical_form", String(3), nullable=True),
    Column("start_date", Date, nullable=True),
)

# --- the imports -------------------------------------------------------------------------------------

register_extracts = Table(
    "register_extracts",
    metadata,
    Column("extract_number", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(10), nullable=False),
    Column("snapshot_date", Date, nullable=False),
    Column("extract_timestamp", UTCDateTime, nullable=False),
    # loading, then done
    Column("status", String(10), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
)

# One row per step of an extract's import (a file, the baseline, the events): how far it got. Written in
# the transaction of the rows it counts, so that a resumed import continues exactly after them.
register_progress = Table(
    "register_progress",
    metadata,
    Column("extract_number", Integer, primary_key=True, autoincrement=False),
    Column("step", String(64), primary_key=True),
    Column("rows", Integer, nullable=False),
    Column("written", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    # JSON list of the first rejected rows: ["line 12: reason", ...]
    Column("examples", Text, nullable=False),
    Column("done", Boolean, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Per monitored company, its register state as last announced on ew.register: changes are found against
# it. `baseline` marks a state taken before an import for a company never announced yet.
register_watch = Table(
    "register_watch",
    metadata,
    Column("company_id", String(16), primary_key=True),
    Column("present", Boolean, nullable=True),
    Column("juridical_situation", String(3), nullable=True),
    Column("office_key", String(16), nullable=True),
    Column("baseline", Boolean, nullable=False),
    Column("extract_number", Integer, nullable=False),
)

KEYED: dict[str, str] = {
    register_enterprises.name: "company_id",
    register_establishments.name: "establishment_number",
}
"""Tables with one row per key: an inserted row replaces the row of its key."""


# --- extracts and progress ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExtractRecord:
    number: int
    kind: str
    snapshot_date: date
    timestamp: datetime
    status: str
    finished_at: datetime | None


@dataclass(slots=True)
class Progress:
    """How far one step of an import got."""

    rows: int = 0
    """Data rows of the file consumed (kept, skipped or rejected)."""
    written: int = 0
    """Rows inserted, or keys deleted."""
    rejected: int = 0
    examples: list[str] = field(default_factory=list)
    done: bool = False


async def extracts(conn: AsyncConnection) -> list[ExtractRecord]:
    """Every extract ever started, oldest first."""
    t = register_extracts
    result = await conn.execute(
        select(
            t.c.extract_number,
            t.c.kind,
            t.c.snapshot_date,
            t.c.extract_timestamp,
            t.c.status,
            t.c.finished_at,
        ).order_by(t.c.extract_number)
    )
    return [ExtractRecord(*row) for row in result]


async def begin_extract(
    conn: AsyncConnection, number: int, kind: str, snapshot: date, timestamp: datetime, now: datetime
) -> None:
    """Record that extract `number` is being loaded (nothing changes if it was started before)."""
    insert = dialect_insert(conn, register_extracts).values(
        extract_number=number,
        kind=kind,
        snapshot_date=snapshot,
        extract_timestamp=timestamp,
        status="loading",
        started_at=now,
    )
    await conn.execute(insert.on_conflict_do_nothing(index_elements=["extract_number"]))


async def finish_extract(conn: AsyncConnection, number: int, now: datetime) -> None:
    t = register_extracts
    await conn.execute(t.update().where(t.c.extract_number == number).values(status="done", finished_at=now))


async def progress(conn: AsyncConnection, number: int) -> dict[str, Progress]:
    """The progress of each step of extract `number` started so far."""
    t = register_progress
    result = await conn.execute(
        select(t.c.step, t.c.rows, t.c.written, t.c.rejected, t.c.examples, t.c.done).where(
            t.c.extract_number == number
        )
    )
    return {
        step: Progress(rows, written, rejected, json.loads(examples), bool(done))
        for step, rows, written, rejected, examples, done in result
    }


async def save_progress(
    conn: AsyncConnection, number: int, step: str, state: Progress, now: datetime
) -> None:
    values = {
        "rows": state.rows,
        "written": state.written,
        "rejected": state.rejected,
        "examples": json.dumps(state.examples),
        "done": state.done,
        "updated_at": now,
    }
    insert = dialect_insert(conn, register_progress).values(extract_number=number, step=step, **values)
    await conn.execute(insert.on_conflict_do_update(index_elements=["extract_number", "step"], set_=values))


# --- bulk writes -------------------------------------------------------------------------------------


async def clear(conn: AsyncConnection, table: Table) -> None:
    """Empty `table` (inside the transaction: rolled back with it)."""
    if conn.dialect.name == "postgresql":
        await conn.exec_driver_sql(f"TRUNCATE {table.name}")
    else:
        await conn.execute(delete(table))


async def insert_rows(
    conn: AsyncConnection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert `rows` (tuples in the order of `columns`); in a keyed table a row replaces its key's row."""
    if not rows:
        return
    key = KEYED.get(table.name)
    if conn.dialect.name == "postgresql":
        if key is not None:
            at = columns.index(key)
            rows = list({row[at]: row for row in rows}.values())  # the last of repeated keys wins
            await delete_keys(conn, table, key, [row[at] for row in rows])
        await _copy(conn, table, columns, rows)
        return
    dates = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, Date)]
    if dates:
        # sqlite3's date adapter is deprecated; the Date type stores ISO text.
        rows = [
            tuple(v.isoformat() if i in dates and v is not None else v for i, v in enumerate(row))
            for row in rows
        ]
    verb = "INSERT OR REPLACE" if key is not None else "INSERT"
    marks = ", ".join("?" for _ in columns)
    await conn.exec_driver_sql(f"{verb} INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", rows)


async def _copy(
    conn: AsyncConnection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    if not driver.is_in_transaction():
        # SQLAlchemy begins the transaction lazily, at the first statement: COPY must run inside it.
        await conn.execute(select(literal(1)))
    await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))


async def delete_keys(conn: AsyncConnection, table: Table, column: str, keys: Sequence[str]) -> int:
    """Delete the rows of `table` whose `column` is one of `keys`; how many rows went."""
    deleted = 0
    for chunk in id_chunks(conn, list(dict.fromkeys(keys))):
        result = await conn.execute(delete(table).where(among(conn, table.c[column], chunk)))
        deleted += result.rowcount
    return deleted


async def note_departures(
    conn: AsyncConnection, number: int, snapshot: date, keys: Sequence[str] | None
) -> None:
    """Copy the enterprises about to be deleted (those of `keys`, or all) to `register_departed`.

    Those that come back in the same extract are taken out again by `settle_departures`.
    """
    e, d = register_enterprises, register_departed
    chosen = select(
        e.c.company_id,
        literal(number).label("extract_number"),
        literal(snapshot, Date).label("snapshot_date"),
        e.c.juridical_situation,
        e.c.juridical_form,
        e.c.start_date,
    )
    columns = ["company_id", "extract_number", "snapshot_date", "juridical_situation", "juridical_form"]
    columns.append("start_date")

    async def copy(query: Any) -> None:
        insert = dialect_insert(conn, d).from_select(columns, query)
        excluded = insert.excluded
        await conn.execute(
            insert.on_conflict_do_update(
                index_elements=["company_id"], set_={name: excluded[name] for name in columns[1:]}
            )
        )

    if keys is None:
        # `WHERE true`: SQLite would read the ON of ON CONFLICT as a join's without it.
        await copy(chosen.where(true()))
        return
    for chunk in id_chunks(conn, list(dict.fromkeys(keys))):
        await copy(chosen.where(among(conn, e.c.company_id, chunk)))


async def settle_departures(conn: AsyncConnection) -> None:
    """Enterprises in the register are not departed (again)."""
    d, e = register_departed, register_enterprises
    await conn.execute(delete(d).where(d.c.company_id.in_(select(e.c.company_id))))


# --- monitored companies and what was announced of them ----------------------------------------------


def _monitored() -> Any:
    return and_(companies.c.portfolio.is_not(None), companies.c.company_id.like("BE%"))


def _office_key_of(company_id: Any) -> Any:
    o = register_offices
    return select(func.min(o.c.office_key)).where(o.c.company_id == company_id).scalar_subquery()


async def adopt_monitored(conn: AsyncConnection, number: int) -> None:
    """Give every monitored company without an announced state its state now, before extract `number`
    changes anything, as a baseline: a change the extract brings is then a change, not a first sight."""
    c, e, w = companies, register_enterprises, register_watch
    state = (
        select(
            c.c.company_id,
            case((e.c.company_id.is_not(None), true()), else_=null()).label("present"),
            e.c.juridical_situation,
            _office_key_of(c.c.company_id).label("office_key"),
            true().label("baseline"),
            literal(number).label("extract_number"),
        )
        .select_from(c.outerjoin(e, e.c.company_id == c.c.company_id))
        .where(_monitored(), ~select(w.c.company_id).where(w.c.company_id == c.c.company_id).exists())
    )
    columns = ["company_id", "present", "juridical_situation", "office_key", "baseline", "extract_number"]
    insert = dialect_insert(conn, w).from_select(columns, state)
    await conn.execute(insert.on_conflict_do_nothing(index_elements=["company_id"]))


async def candidates(conn: AsyncConnection, after: str, limit: int) -> list[Candidate]:
    """Monitored companies after `after` (by id) whose register state is not the one announced."""
    c, e, w = companies, register_enterprises, register_watch
    office = _office_key_of(c.c.company_id)
    present = e.c.company_id.is_not(None)
    query = (
        select(
            c.c.company_id,
            w.c.company_id.is_not(None),
            w.c.baseline,
            w.c.present,
            w.c.juridical_situation,
            w.c.office_key,
            present,
            e.c.juridical_situation,
            office,
            e.c.start_date,
        )
        .select_from(
            c.outerjoin(w, w.c.company_id == c.c.company_id).outerjoin(e, e.c.company_id == c.c.company_id)
        )
        .where(
            _monitored(),
            c.c.company_id > after,
            or_(
                w.c.company_id.is_(None),
                w.c.baseline == true(),
                w.c.present.is_distinct_from(case((present, true()), else_=literal(False))),
                w.c.juridical_situation.is_distinct_from(e.c.juridical_situation),
                w.c.office_key.is_distinct_from(office),
            ),
        )
        .order_by(c.c.company_id)
        .limit(limit)
    )
    found: list[Candidate] = []
    for row in await conn.execute(query):
        (company_id, announced, baseline, was_present, was_situation, was_office) = row[:6]
        present, situation, office_key, start_date = row[6:]
        before = State(None if was_present is None else bool(was_present), was_situation, was_office)
        found.append(
            Candidate(
                company_id=company_id,
                before=before if announced else None,
                baseline=bool(baseline),
                now=State(bool(present), situation, office_key),
                start_date=start_date,
            )
        )
    return found


async def save_watch(conn: AsyncConnection, states: Mapping[str, State], number: int) -> None:
    """What was announced of these companies (by company id), as of extract `number`."""
    if not states:
        return
    rows = [
        {
            "company_id": company_id,
            "present": bool(state.present),
            "juridical_situation": state.situation,
            "office_key": state.office,
            "baseline": False,
            "extract_number": number,
        }
        for company_id, state in states.items()
    ]
    insert = dialect_insert(conn, register_watch)
    set_ = {name: insert.excluded[name] for name in rows[0] if name != "company_id"}
    await conn.execute(insert.on_conflict_do_update(index_elements=["company_id"], set_=set_), rows)


@dataclass(frozen=True, slots=True)
class Office:
    zipcode: str | None
    municipality_nl: str | None
    municipality_fr: str | None
    street_nl: str | None
    street_fr: str | None
    house_number: str | None
    box: str | None
    country_nl: str | None
    country_fr: str | None
    struck_off_on: date | None
    office_key: str

    @property
    def municipality(self) -> str | None:
        return self.municipality_nl or self.municipality_fr

    @property
    def street(self) -> str | None:
        return self.street_nl or self.street_fr

    @property
    def country(self) -> str | None:
        return self.country_nl or self.country_fr


_OFFICE_COLUMNS = [register_offices.c[name] for name in Office.__dataclass_fields__]


async def offices(conn: AsyncConnection, ids: Iterable[str]) -> dict[str, Office]:
    """The registered office of each of `ids` that has one (the lowest key if the register gives several)."""
    o = register_offices
    found: dict[str, Office] = {}
    for chunk in id_chunks(conn, sorted(set(ids))):
        result = await conn.execute(
            select(o.c.company_id, *_OFFICE_COLUMNS)
            .where(among(conn, o.c.company_id, chunk))
            .order_by(o.c.company_id, o.c.office_key.desc())
        )
        for company_id, *values in result:
            found[company_id] = Office(*values)
    return found


async def descriptions(
    conn: AsyncConnection, category: str, codes: Iterable[str] | None = None
) -> dict[str, str]:
    """Readable text of the codes of `category` (all of them when `codes` is None): Dutch, else French,
    else whatever language the register has."""
    t = register_codes
    query = select(t.c.code, t.c.language, t.c.description).where(t.c.category == category)
    wanted = None if codes is None else sorted({code for code in codes if code})
    if wanted is not None:
        if not wanted:
            return {}
        query = query.where(t.c.code.in_(wanted))
    rank = {"NL": 0, "FR": 1, "DE": 2, "EN": 3}
    best: dict[str, tuple[int, str]] = {}
    for code, language, description in await conn.execute(query):
        score = rank.get(language, 9)
        if code not in best or score < best[code][0]:
            best[code] = (score, description)
    return {code: description for code, (_, description) in best.items()}


async def analyse(conn: AsyncConnection, tables: Iterable[Table]) -> None:
    """Fresh planner statistics after a bulk load (PostgreSQL; SQLite plans without them well enough)."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        await conn.execute(text(f"ANALYZE {table.name}"))
