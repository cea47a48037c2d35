"""What the console's pages show: read with the signals service's store functions, shown through the
API's output models, paged with the API's cursors (a console page URL and an API call page alike)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from services.console.charts import LineChart, step_chart
from services.signals import store
from services.signals.api import CompanyOut, SignalOut, company_out, signal_out
from services.signals.store import CompanyRecord, ScorePoint, SignalFilter, StoredEvent
from shared.paging import cursor_time, decode_cursor, encode_cursor
from shared.schemas import Category, Contact, Severity, SignalStatus

T = TypeVar("T")

INBOX_LIMIT = 25
TIMELINE_LIMIT = 25
SCAN_BATCH = 200
SCAN_LIMIT = 2000
"""Signals read at most for one inbox page filtered by account manager (see `inbox`)."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class InboxFilter:
    """The inbox's filters; the store filters severity and category, the console the account manager."""

    min_severity: Severity | None = None
    category: Category | None = None
    account_manager: str | None = None


async def inbox(conn: AsyncConnection, filters: InboxFilter, cursor: str | None) -> Page[SignalOut]:
    """Open signals, newest first (the order of `GET /v1/signals`), one page after `cursor`."""
    limit = INBOX_LIMIT
    after = _signals_after(cursor)
    where = SignalFilter(
        status=SignalStatus.OPEN, category=filters.category, min_severity=filters.min_severity
    )
    if not filters.account_manager:
        rows = await store.signal_page(conn, where, after, limit + 1)
        page = [signal_out(record, company) for record, company in rows[:limit]]
        return Page(page, _signals_cursor(page[-1]) if len(rows) > limit else None)
    # `SignalFilter` has no account manager (it is in the portfolio JSON): the console filters the
    # store's pages, comparing ignoring case as subscriptions do, and reads at most SCAN_LIMIT signals
    # for one page; the next page goes on from where it stopped.
    wanted = filters.account_manager.casefold()
    found: list[SignalOut] = []
    scanned = 0
    while True:
        rows = await store.signal_page(conn, where, after, SCAN_BATCH)
        for record, company in rows:
            scanned += 1
            after = (record.raised_at, record.id)
            if _account_manager(company) != wanted:
                continue
            if len(found) == limit:
                return Page(found, _signals_cursor(found[-1]))
            found.append(signal_out(record, company))
        if len(rows) < SCAN_BATCH or after is None:
            return Page(found, None)
        if scanned >= SCAN_LIMIT:
            return Page(found, encode_cursor("signals", after[0].isoformat(), after[1]))


def _account_manager(company: CompanyRecord | None) -> str | None:
    manager = (company.portfolio or {}).get("account_manager") if company else None
    return manager.casefold() if isinstance(manager, str) else None


def _signals_after(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    raised_at, signal_id = decode_cursor(cursor, "signals", 2)
    return cursor_time(raised_at), signal_id


def _signals_cursor(last: SignalOut) -> str:
    return encode_cursor("signals", last.raised_at.isoformat(), last.id)


@dataclass(frozen=True, slots=True)
class CompanyPage:
    company: CompanyOut
    timeline: Page[StoredEvent]
    contacts: list[Contact]
    scores: list[ScorePoint]
    score_chart: LineChart | None


async def company_page(conn: AsyncConnection, company_id: str, cursor: str | None) -> CompanyPage | None:
    """A company as `GET /v1/companies/{id}` shows it, with one page of its timeline; None if unknown."""
    limit = TIMELINE_LIMIT
    after = None
    if cursor is not None:
        at, source, event_id = decode_cursor(cursor, "timeline", 3)
        after = (cursor_time(at), source, event_id)
    view = await company_out(conn, company_id)
    if view is None:
        return None
    events = await store.timeline_page(conn, company_id, after, limit + 1)
    page = events[:limit]
    next_cursor = None
    if len(events) > limit:
        last = page[-1]
        next_cursor = encode_cursor("timeline", last.at.isoformat(), last.source, last.event_id)
    scores = await store.score_points(conn, company_id)
    # A list for max(): a company whose score never changed has no points, and max(x) of one datetime fails.
    chart = step_chart(
        [(p.at, p.score) for p in scores], max([view.updated_at, *(p.at for p in scores[-1:])])
    )
    return CompanyPage(
        view, Page(page, next_cursor), await store.current_contacts(conn, company_id), scores, chart
    )
