"""`/v1/analytics/*`: the portfolio analyses over HTTP (`read` scope)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from services.signals.analytics.churn import ChurnReport, churn_report
from services.signals.analytics.cross_sell import CrossSellReport, cross_sell_report
from services.signals.analytics.dmu import STALE_DAYS, DmuReport, dmu_report
from services.signals.analytics.profile import ProfileReport, profile_report
from services.signals.analytics.rfm import RfmReport, rfm_report
from services.signals.analytics.value import ValueReport, value_report
from services.signals.bands import RfmSegment
from services.signals.deps import Engine, Read, Rules
from shared.db import utcnow
from shared.schemas import UtcDatetime
from shared.web import ApiError, error_responses

Segment = Annotated[str | None, Query(max_length=100, description="Only this segment of the portfolio.")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Customers listed (at most 1000).")]
AsOf = Annotated[UtcDatetime | None, Query(description="The analysis date (default: now).")]


def router() -> APIRouter:
    api = APIRouter(tags=["analytics"], responses=error_responses(401, 403, 422, 503))

    @api.get(
        "/v1/analytics/value",
        summary="Revenue and orders per customer and per segment over a period",
        description="With each customer's payment behaviour (days beyond terms, as the bureau last "
        "reported) and risk level. The period is [from, to); default: the last 365 days.",
    )
    async def value(
        engine: Engine,
        _key: Read,
        start: Annotated[UtcDatetime | None, Query(alias="from", description="Start (inclusive).")] = None,
        end: Annotated[UtcDatetime | None, Query(alias="to", description="End (exclusive).")] = None,
        segment: Segment = None,
        limit: Limit = 100,
    ) -> ValueReport:
        end = end or utcnow()
        start = start or end - timedelta(days=365)
        if start >= end:
            raise ApiError(
                422, "from must be before to", details=[{"path": "query.from", "message": "after to"}]
            )
        async with engine.connect() as conn:
            return await value_report(conn, start, end, segment=segment, limit=limit)

    @api.get(
        "/v1/analytics/profile",
        summary="The customers by size, sector, region, revenue trend and years as customer, with value",
        description="Each group's customers and their revenue in [from, to) (default: the last 365 "
        "days), and the 5 most valuable groups over all dimensions.",
    )
    async def profile(
        engine: Engine,
        _key: Read,
        start: Annotated[UtcDatetime | None, Query(alias="from", description="Start (inclusive).")] = None,
        end: Annotated[UtcDatetime | None, Query(alias="to", description="End (exclusive).")] = None,
        segment: Segment = None,
    ) -> ProfileReport:
        start, end = _period(start, end)
        async with engine.connect() as conn:
            return await profile_report(conn, start, end, segment=segment)

    @api.get(
        "/v1/analytics/rfm",
        summary="Recency, frequency and monetary quintiles, the RFM segments and lapsed customers",
    )
    async def rfm(
        engine: Engine,
        rules: Rules,
        _key: Read,
        as_of: AsOf = None,
        segment: Segment = None,
        rfm_segment: Annotated[RfmSegment | None, Query(description="List only this RFM segment.")] = None,
        period_days: Annotated[
            int | None,
            Query(
                ge=1,
                le=366,
                description="The period compared with the same one a year earlier (default: the rules' "
                "`churn_risk.period_days`, 90).",
            ),
        ] = None,
        limit: Limit = 100,
    ) -> RfmReport:
        period = period_days or rules.churn_risk.period_days
        async with engine.connect() as conn:
            return await rfm_report(
                conn, _at(as_of), segment=segment, period_days=period, limit=limit, only=rfm_segment
            )

    @api.get("/v1/analytics/churn", summary="Customers with no order for a number of years (default 2)")
    async def churn(
        engine: Engine,
        rules: Rules,
        _key: Read,
        as_of: AsOf = None,
        years: Annotated[
            int | None,
            Query(
                ge=1,
                le=20,
                description="Years without an order (default: the rules' `churn_risk.silent_years`, 2).",
            ),
        ] = None,
        segment: Segment = None,
        limit: Limit = 100,
    ) -> ChurnReport:
        silent = years or rules.churn_risk.silent_years
        async with engine.connect() as conn:
            return await churn_report(conn, _at(as_of), years=silent, segment=segment, limit=limit)

    @api.get(
        "/v1/analytics/cross-sell",
        summary="Share of wallet: product lines customers do not buy yet that their segment buys",
        description="Only customers without an open risk signal of medium or above and with a growing or "
        "stable revenue in their last two annual accounts. The potential is the average yearly spend of "
        "the segment's buyers of the line.",
    )
    async def cross_sell(
        engine: Engine,
        _key: Read,
        as_of: AsOf = None,
        min_share: Annotated[
            float, Query(gt=0, le=1, description="Share of the segment's buyers a line needs (default 0.3).")
        ] = 0.3,
        segment: Segment = None,
        limit: Limit = 100,
    ) -> CrossSellReport:
        async with engine.connect() as conn:
            return await cross_sell_report(
                conn, _at(as_of), min_share=min_share, segment=segment, limit=limit
            )

    @api.get(
        "/v1/analytics/dmu",
        summary="The buying units (DMU) of the monitored customers, per segment and overall",
        description="Customers with contacts, average DMU size, share with a known decision maker, "
        "single-threaded customers (one contact), the job titles that most often decide, and the "
        f"customers whose decision maker was not contacted for {STALE_DAYS} days.",
    )
    async def dmu(engine: Engine, _key: Read, segment: Segment = None) -> DmuReport:
        async with engine.connect() as conn:
            return await dmu_report(conn, utcnow(), segment)

    return api


def _at(as_of: datetime | None) -> datetime:
    return as_of or utcnow()


def _period(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """[from, to), by default the last 365 days; a 422 when it is empty."""
    end = end or utcnow()
    start = start or end - timedelta(days=365)
    if start >= end:
        raise ApiError(
            422, "from must be before to", details=[{"path": "query.from", "message": "not before to"}]
        )
    return start, end
