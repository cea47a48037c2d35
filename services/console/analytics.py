"""The analytics pages: profile and value, RFM, churn, cross-sell and the buying units, each with its charts.

They run the signals service's analyses (`services.signals.analytics`) on the database, as its
`/v1/analytics/*` routes do, with the same defaults: the rules file gives the RFM period and the churn
silence. Every page takes the supplier's own segment as a filter.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncEngine

from services.console import charts
from services.console.errors import PageError
from services.console.rendering import eur, render
from services.console.session import Reader
from services.signals.analytics.churn import churn_report
from services.signals.analytics.cross_sell import cross_sell_report
from services.signals.analytics.dmu import STALE_DAYS, dmu_report
from services.signals.analytics.profile import profile_report
from services.signals.analytics.rfm import rfm_report
from services.signals.analytics.value import value_report
from services.signals.deps import rules_at
from shared.db import utcnow
from shared.runtime import Infrastructure

LIMIT = 50
"""Customers listed per analysis page."""
QUINTILES = (1, 2, 3, 4, 5)
Segment = Annotated[str, Query(max_length=100)]
AsOf = Annotated[str, Query(max_length=20)]

PAGES = (
    ("profile", "/analytics", "Profile and value"),
    ("rfm", "/analytics/rfm", "RFM"),
    ("churn", "/analytics/churn", "Churn"),
    ("cross-sell", "/analytics/cross-sell", "Cross-sell"),
    ("dmu", "/analytics/dmu", "Buying units"),
)


def _infra(request: Request) -> Infrastructure:
    infra: Infrastructure = request.app.state.infra
    return infra


def _engine(request: Request) -> AsyncEngine:
    return _infra(request).engine


def moment(as_of: str) -> datetime:
    """The analysis time of a page's `as_of` date: the end of that day (UTC); now when empty.

    Parsed here, not by FastAPI, so that a bad date is an HTML page and not the API's JSON error.
    """
    if not as_of:
        return utcnow()
    try:
        day = date.fromisoformat(as_of)
    except ValueError:
        raise PageError("Write the date as YYYY-MM-DD.") from None
    return datetime.combine(day + timedelta(days=1), time(), UTC)


def router() -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    def page(
        request: Request, user: Reader, template: str, tab: str, segment: str, as_of: str, **context: Any
    ) -> Response:
        # The other analyses' links keep the filters.
        kept = urlencode({name: value for name, value in (("segment", segment), ("as_of", as_of)) if value})
        return render(
            request,
            template,
            user=user,
            nav="analytics",
            tabs=PAGES,
            tab=tab,
            segment=segment,
            as_of=as_of,
            kept=f"?{kept}" if kept else "",
            **context,
        )

    @pages.get("/analytics")
    async def profile(request: Request, user: Reader, segment: Segment = "", as_of: AsOf = "") -> Response:
        end = moment(as_of)
        start = end - timedelta(days=365)
        async with _engine(request).connect() as conn:
            report = await profile_report(conn, start, end, segment=segment or None)
            value = await value_report(conn, start, end, segment=segment or None, limit=LIMIT)
        dimensions = {
            dimension: charts.bars(
                [(g.group, float(g.revenue_eur)) for g in report.groups if g.dimension == dimension], eur
            )
            for dimension in ("size", "sector", "region", "trend", "tenure")
        }
        segments = charts.bars(
            [(s.segment or "no segment", float(s.revenue_eur)) for s in value.segments], eur
        )
        return page(
            request,
            user,
            "analytics_profile.html",
            "profile",
            segment=segment,
            as_of=as_of,
            report=report,
            value=value,
            dimensions=dimensions,
            segments=segments,
        )

    @pages.get("/analytics/rfm")
    async def rfm(request: Request, user: Reader, segment: Segment = "", as_of: AsOf = "") -> Response:
        rules = rules_at(_infra(request).settings.rules_file)
        async with _engine(request).connect() as conn:
            report = await rfm_report(
                conn,
                moment(as_of),
                segment=segment or None,
                period_days=rules.churn_risk.period_days,
                limit=LIMIT,
            )
        grid = charts.heat_grid(
            {(cell.r, cell.f): cell.customers for cell in report.grid}, tuple(reversed(QUINTILES)), QUINTILES
        )
        named = charts.bars([(s.rfm_segment.value, s.customers) for s in report.segments], "{:,.0f}".format)
        return page(
            request,
            user,
            "analytics_rfm.html",
            "rfm",
            segment=segment,
            as_of=as_of,
            report=report,
            grid=grid,
            named=named,
        )

    @pages.get("/analytics/churn")
    async def churn(request: Request, user: Reader, segment: Segment = "", as_of: AsOf = "") -> Response:
        rules = rules_at(_infra(request).settings.rules_file)
        async with _engine(request).connect() as conn:
            report = await churn_report(
                conn,
                moment(as_of),
                years=rules.churn_risk.silent_years,
                segment=segment or None,
                limit=LIMIT,
            )
        return page(
            request, user, "analytics_churn.html", "churn", segment=segment, as_of=as_of, report=report
        )

    @pages.get("/analytics/cross-sell")
    async def cross_sell(request: Request, user: Reader, segment: Segment = "", as_of: AsOf = "") -> Response:
        async with _engine(request).connect() as conn:
            report = await cross_sell_report(conn, moment(as_of), segment=segment or None, limit=LIMIT)
        lines: dict[str, float] = {}
        for suggestion in report.suggestions:
            line = suggestion.product_line
            lines[line] = lines.get(line, 0.0) + float(suggestion.potential_eur)
        by_line = charts.bars(sorted(lines.items(), key=lambda item: -item[1]), eur)
        return page(
            request,
            user,
            "analytics_cross_sell.html",
            "cross-sell",
            segment=segment,
            as_of=as_of,
            report=report,
            by_line=by_line,
        )

    @pages.get("/analytics/dmu")
    async def dmu(request: Request, user: Reader, segment: Segment = "", as_of: AsOf = "") -> Response:
        async with _engine(request).connect() as conn:
            report = await dmu_report(conn, moment(as_of), segment or None)
        known = charts.bars(
            [(s.segment or "no segment", 100 * s.decision_maker_known_share) for s in report.segments],
            "{:.0f}%".format,
        )
        functions = charts.bars(
            [(f.function, f.decision_makers) for f in report.deciding_functions], "{:,.0f}".format
        )
        return page(
            request,
            user,
            "analytics_dmu.html",
            "dmu",
            segment=segment,
            as_of=as_of,
            report=report,
            known=known,
            functions=functions,
            stale_days=STALE_DAYS,
        )

    return pages
