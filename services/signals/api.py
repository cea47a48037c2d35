"""Read API of the signals service (contract section 5), and the credit team's acknowledge and resolve.

Lists are paged by keyset (`?limit=`, opaque `?cursor=`): a page starts strictly after the last item of
the previous one in the list's order, so items added meanwhile never shift or repeat a page.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from services.register.view import RegisterView, register_view
from services.signals import analytics, store
from services.signals.analytics import DmuSummary
from services.signals.analytics.routes import router as analytics_router
from services.signals.consumer import IntakeHandler, Moved
from services.signals.deps import Admin, Engine, Read, rules_at
from services.signals.outbox import outbox_entry
from services.signals.rules import ChangeKind, risk_level, score
from services.signals.store import CompanyRecord, SignalFilter, SignalRecord
from shared.company_id import CompanyId
from shared.db import utcnow
from shared.paging import DEFAULT_LIMIT, Cursor, Limit, cursor_time, decode_cursor, encode_cursor
from shared.runtime import Infrastructure
from shared.schemas import Category, PortfolioEntry, RequestBody, Severity, Signal, SignalStatus, UtcDatetime
from shared.web import ApiError, error_responses

CompanyPath = Annotated[
    CompanyId, Path(description="Enterprise number in any accepted form, e.g. 0403.170.701.")
]

_ERRORS = error_responses(401, 403, 422, 503)


# --- models ------------------------------------------------------------------------------------------


class SignalOut(Signal):
    """A signal with what the credit team did with it."""

    acknowledged_by: str | None = Field(None, description="Who acknowledged the signal.")
    acknowledged_at: UtcDatetime | None = Field(None, description="When it was acknowledged.")
    resolved_by: str | None = Field(
        None, description="Who resolved it by hand (null when it resolved itself)."
    )
    resolved_at: UtcDatetime | None = Field(None, description="When it was resolved.")
    note: str | None = Field(None, description="The note given when acknowledging or resolving.")


class CompanyOut(BaseModel):
    """A company: its portfolio record (null when not monitored), risk level, score and open signals."""

    company_id: str
    name: str | None = Field(description="The portfolio name, else the name the gazette published.")
    monitored: bool = Field(description="Whether the company is in the portfolio.")
    portfolio: PortfolioEntry | None = Field(description="The portfolio record; null when not monitored.")
    risk_level: Severity | None = Field(description="The highest open risk severity; null without any.")
    score: int = Field(ge=0, le=100, description="0-100, higher is safer.")
    updated_at: datetime
    open_signals: list[SignalOut] = Field(description="Open signals, most severe first.")
    dmu: DmuSummary = Field(description="The buying unit: contacts recorded, decision maker known or not.")
    # `register` on the wire (contract section 9); another name in Python, where BaseModel has one.
    kbo: RegisterView | None = Field(
        alias="register",
        description="What the public register (KBO/BCE) says, with its extract; null when not in it.",
    )


class TimelineItem(BaseModel):
    """A source event of the company."""

    source: str = Field(description="observation, publication, bureau, order, register or contact.")
    event_id: str = Field(description="The source's own id; evidence of signals refers to it.")
    type: str = Field(description="Observation kind, bureau event type, register change...")
    at: datetime = Field(description="When it happened (event time).")
    summary: str
    received_at: datetime = Field(description="When the signals service received it.")
    data: dict[str, Any] = Field(description="The event as received.")


class TimelinePage(BaseModel):
    items: list[TimelineItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")


class SignalPage(BaseModel):
    items: list[SignalOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")


class SignalAction(RequestBody):
    """Who acknowledges or resolves a signal, and why."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    by: str = Field(min_length=1, max_length=200, description="Who (name or email).")
    note: str | None = Field(None, max_length=5000, description="Why, for the colleagues.")


def signal_out(record: SignalRecord, company: CompanyRecord | None) -> SignalOut:
    return SignalOut(
        **record.to_signal(company).model_dump(),
        acknowledged_by=record.acknowledged_by,
        acknowledged_at=record.acknowledged_at,
        resolved_by=record.resolved_by,
        resolved_at=record.resolved_at,
        note=record.note,
    )


# --- routes ------------------------------------------------------------------------------------------


def _judge(request: Request) -> IntakeHandler:
    """The consumer's judgement, for what a hand resolution changes at other companies."""
    infra: Infrastructure = request.app.state.infra
    return IntakeHandler(infra.engine, config=rules_at(infra.settings.rules_file))


Judge = Annotated[IntakeHandler, Depends(_judge)]


async def company_out(conn: AsyncConnection, company_id: str) -> CompanyOut | None:
    """The company as `GET /v1/companies/{id}` shows it (the console's company page too); None if unknown."""
    company = await store.get_company(conn, company_id)
    if company is None:
        return None
    open_now = await store.open_signals(conn, company_id)
    return CompanyOut(
        company_id=company.company_id,
        name=company.name,
        monitored=company.portfolio is not None,
        portfolio=PortfolioEntry.model_validate(company.portfolio) if company.portfolio else None,
        risk_level=company.risk_level,
        score=company.score,
        updated_at=company.updated_at,
        open_signals=[signal_out(record, company) for record in open_now],
        dmu=await analytics.dmu_summary(conn, company_id),
        register=await register_view(conn, company_id),
    )


def router() -> APIRouter:
    api = APIRouter(tags=["signals"], responses=_ERRORS)
    api.include_router(analytics_router())

    @api.get(
        "/v1/companies/{company_id}",
        summary="A company: portfolio record, risk level, score and open signals",
        responses=error_responses(404),
    )
    async def get_company(company_id: CompanyPath, engine: Engine, _key: Read) -> CompanyOut:
        async with engine.connect() as conn:
            found = await company_out(conn, company_id)
        if found is None:
            raise ApiError(404, f"{company_id} is unknown: nothing was received about it")
        return found

    @api.get(
        "/v1/companies/{company_id}/timeline",
        summary="Every source event of a company, newest first (event time), paged",
        responses=error_responses(404),
    )
    async def get_timeline(
        company_id: CompanyPath,
        engine: Engine,
        _key: Read,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> TimelinePage:
        after = None
        if cursor is not None:
            at, source, event_id = decode_cursor(cursor, "timeline", 3)
            after = (cursor_time(at), source, event_id)
        async with engine.connect() as conn:
            if await store.get_company(conn, company_id) is None:
                raise ApiError(404, f"{company_id} is unknown: nothing was received about it")
            events = await store.timeline_page(conn, company_id, after, limit + 1)
        page = events[:limit]
        next_cursor = None
        if len(events) > limit:
            last = page[-1]
            next_cursor = encode_cursor("timeline", last.at.isoformat(), last.source, last.event_id)
        items = [
            TimelineItem(
                source=e.source,
                event_id=e.event_id,
                type=e.type,
                at=e.at,
                summary=e.summary,
                received_at=e.received_at,
                data=e.payload,
            )
            for e in page
        ]
        return TimelinePage(items=items, next_cursor=next_cursor)

    @api.get("/v1/signals", summary="Signals, newest first (by raised_at), filtered and paged")
    async def list_signals(
        engine: Engine,
        _key: Read,
        status: Annotated[SignalStatus | None, Query(description="open or resolved.")] = None,
        category: Annotated[Category | None, Query(description="risk, opportunity or retention.")] = None,
        min_severity: Annotated[Severity | None, Query(description="This severity or a higher one.")] = None,
        company_id: Annotated[CompanyId | None, Query(description="One company.")] = None,
        since: Annotated[
            UtcDatetime | None, Query(description="Raised at or after this time (with an offset).")
        ] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> SignalPage:
        after = None
        if cursor is not None:
            raised_at, signal_id = decode_cursor(cursor, "signals", 2)
            after = (cursor_time(raised_at), signal_id)
        where = SignalFilter(status, category, min_severity, company_id, since)
        async with engine.connect() as conn:
            rows = await store.signal_page(conn, where, after, limit + 1)
        page = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = page[-1][0]
            next_cursor = encode_cursor("signals", last.raised_at.isoformat(), last.id)
        return SignalPage(items=[signal_out(r, c) for r, c in page], next_cursor=next_cursor)

    @api.post(
        "/v1/signals/{signal_id}/acknowledge",
        summary="Acknowledge a signal (needs the admin scope: the credit team's decision)",
        description="Records who has seen the signal, with an optional note. It changes neither the "
        "signal's state nor the company's score, and emits no event. Needs an `admin` key.",
        responses=error_responses(404),
    )
    async def acknowledge(
        signal_id: Annotated[str, Path(max_length=100)], body: SignalAction, engine: Engine, _key: Admin
    ) -> SignalOut:
        now = utcnow()
        async with engine.begin() as conn:
            record, company = await _locked(conn, signal_id, now)
            record = replace(
                record, acknowledged_by=body.by, acknowledged_at=now, note=body.note or record.note
            )
            await store.update_signals(conn, [record])
        return signal_out(record, company)

    @api.post(
        "/v1/signals/{signal_id}/resolve",
        summary="Resolve a signal by hand (needs the admin scope: the credit team's decision)",
        description="Closes an open signal and emits `earlywarning.signal.resolved`; the company's risk "
        "level and score no longer count it, and companies it holds shares in are judged again "
        "(`parent_distress`). It is raised again only on NEW evidence. Resolving a signal that is "
        "already resolved changes nothing and answers its current state. Needs an `admin` key.",
        responses=error_responses(404),
    )
    async def resolve(
        signal_id: Annotated[str, Path(max_length=100)],
        body: SignalAction,
        engine: Engine,
        judge: Judge,
        _key: Admin,
    ) -> SignalOut:
        now = utcnow()
        async with engine.begin() as conn:
            record, company = await _locked(conn, signal_id, now)
            if record.status is SignalStatus.RESOLVED:
                return signal_out(record, company)
            record = replace(
                record,
                status=SignalStatus.RESOLVED,
                resolved_at=now,
                resolved_by=body.by,
                note=body.note or record.note,
                version=record.version + 1,
                updated_at=now,
            )
            await store.update_signals(conn, [record])
            open_after = await store.open_signals(conn, record.company_id)
            before = company
            company = replace(
                company,
                risk_level=risk_level(open_after),
                score=score(open_after, judge.config),
                updated_at=now,
            )
            await store.set_company_states(conn, [company])
            if (company.score, company.risk_level) != (before.score, before.risk_level):
                await store.add_score_points(
                    conn, [store.ScorePoint(company.company_id, now, company.score, company.risk_level)]
                )
            # In the same transaction: the resolution is announced if and only if it is stored, and so
            # are its effects on the subsidiaries.
            await store.add_outbox(conn, [outbox_entry(record, ChangeKind.RESOLVED, company, now)])
            resolved = Moved(
                record.company_id,
                record.signal,
                ChangeKind.RESOLVED,
                record.category,
                record.severity,
                record.severity,
            )
            changes = [resolved, *await judge.ripple(conn, [resolved], now)]
        judge.committed(changes)
        return signal_out(record, company)

    return api


async def _locked(conn: AsyncConnection, signal_id: str, now: datetime) -> tuple[SignalRecord, CompanyRecord]:
    """The signal and its company, with the company locked against the consumer for this transaction."""
    found = await store.get_signal(conn, signal_id)
    if found is None:
        raise ApiError(404, f"no signal {signal_id}")
    companies = await store.lock_companies(conn, [found.company_id], now)
    # Read again under the lock: the consumer may have changed the signal meanwhile.
    record = await store.get_signal(conn, signal_id)
    assert record is not None  # signals are never deleted
    return record, companies[found.company_id]
