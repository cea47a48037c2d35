"""HTTP API of the notifier (contract section 6): subscriptions, silences and the delivery log.

Subscriptions hold where alerts go (URLs may carry tokens), so every subscription route needs `admin`;
so do silences and retries, which change what credit teams are told. Reading the delivery log and the
silences needs `read`.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Literal, Self

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field, field_validator, model_validator

from services.notifier import store, targets
from services.notifier.policy import Match
from services.notifier.sealing import Sealer, SealingUnavailable, sealer_for
from services.notifier.store import DeliveryRecord, SilenceRecord, SubscriptionRecord
from shared.company_id import CompanyId
from shared.db import utcnow
from shared.paging import DEFAULT_LIMIT, Cursor, Limit, cursor_time, decode_cursor, encode_cursor
from shared.runtime import Infrastructure
from shared.schemas import RequestBody, SignalName, UtcDatetime
from shared.web import AdminKey, ApiError, ReadKey, error_responses
from shared.webhooks import generate_secret

Read = ReadKey
Admin = AdminKey
_ERRORS = error_responses(401, 403, 422, 503)
_EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$"
_SIGNAL_NAMES = frozenset(name.value for name in SignalName)


# --- models ------------------------------------------------------------------------------------------


class SubscriptionIn(RequestBody):
    """Where to send which signals."""

    model_config = {"extra": "forbid", "str_strip_whitespace": True}

    name: str = Field(min_length=1, max_length=200, description="What the subscription is for.")
    channel: Literal["webhook", "email"] = Field(description="webhook (signed POST) or email.")
    url: str | None = Field(
        None, max_length=2000, description="Webhook target (http or https); webhook only."
    )
    email: str | None = Field(None, pattern=_EMAIL, max_length=320, description="Recipient; email only.")
    match: Match = Field(default_factory=Match, description="Which signals; every given field must hold.")
    mode: Literal["immediate", "digest"] = Field(
        "immediate", description="immediate: one notification per signal event; digest: one email a day."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return targets.check_url(value)
        except targets.TargetRefused as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _channel(self) -> Self:
        if self.channel == "webhook" and (self.url is None or self.email is not None):
            raise ValueError("a webhook subscription has a url and no email")
        if self.channel == "email" and (self.email is None or self.url is not None):
            raise ValueError("an email subscription has an email and no url")
        if self.channel == "webhook" and self.mode == "digest":
            raise ValueError("digest mode is for email subscriptions")
        return self


class SubscriptionOut(BaseModel):
    id: str
    name: str
    channel: str
    url: str | None
    email: str | None
    match: Match
    mode: str
    created_at: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str | None = Field(
        None, description="`whsec_…` to verify the webhook signatures with; shown this once only."
    )


class SubscriptionPage(BaseModel):
    items: list[SubscriptionOut]
    next_cursor: str | None


class SilenceIn(RequestBody):
    """Stop notifying (the signal itself is still raised) until `ends_at`."""

    model_config = {"extra": "forbid", "str_strip_whitespace": True}

    company_id: CompanyId | None = Field(None, description="Only this company (omit: every company).")
    signal: str | None = Field(None, max_length=64, description="Only this signal (omit: every signal).")
    ends_at: UtcDatetime = Field(description="When notifications resume (in the future).")
    comment: str = Field(min_length=1, max_length=1000, description="Why; shown to the other users.")

    @field_validator("signal")
    @classmethod
    def _signal(cls, value: str | None) -> str | None:
        if value is not None and value not in _SIGNAL_NAMES:
            raise ValueError(f"unknown signal {value!r}")
        return value


class SilenceOut(BaseModel):
    id: str
    company_id: str | None
    signal: str | None
    ends_at: datetime
    comment: str
    created_by: str
    created_at: datetime
    active: bool


class SilenceList(BaseModel):
    items: list[SilenceOut]


class DeliveryOut(BaseModel):
    id: str = Field(description="The delivery id: the `webhook-id` header of every attempt.")
    subscription_id: str
    event_id: str = Field(description="The signal event (CloudEvent id on ew.signals).")
    event_type: str
    signal_id: str
    company_id: str
    signal: str
    severity: str
    channel: str
    status: str = Field(
        description="pending, delivered, failed, digest (waiting for the daily digest), silenced, "
        "inhibited (a bankruptcy of the company is open) or cancelled (subscription deleted)."
    )
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


def _subscription_out(record: SubscriptionRecord) -> SubscriptionOut:
    return SubscriptionOut.model_validate(record, from_attributes=True)


def _silence_out(record: SilenceRecord, now: datetime) -> SilenceOut:
    return SilenceOut(
        id=record.id,
        company_id=record.company_id,
        signal=record.signal,
        ends_at=record.ends_at,
        comment=record.comment,
        created_by=record.created_by,
        created_at=record.created_at,
        active=record.ends_at > now,
    )


def _delivery_out(record: DeliveryRecord) -> DeliveryOut:
    return DeliveryOut.model_validate(record, from_attributes=True)


# --- dependencies ------------------------------------------------------------------------------------


def _infra(request: Request) -> Infrastructure:
    infra: Infrastructure = request.app.state.infra
    return infra


Infra = Annotated[Infrastructure, Depends(_infra)]


def _sealer(infra: Infrastructure) -> Sealer:
    try:
        return sealer_for(infra.settings)
    except SealingUnavailable as exc:
        raise ApiError(409, str(exc)) from None


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


# --- routes ------------------------------------------------------------------------------------------


def router() -> APIRouter:
    api = APIRouter(tags=["notifier"], responses=_ERRORS)

    @api.post(
        "/v1/subscriptions",
        status_code=201,
        summary="Subscribe a webhook or an email address to signals (admin)",
        description="A webhook subscription gets a `whsec_` secret, shown in this answer only: "
        "deliveries are signed with it (Standard Webhooks). The webhook host must resolve to public "
        "addresses (unless EW_WEBHOOK_ALLOW_PRIVATE=true); it is checked again at every delivery.",
        responses=error_responses(409),
    )
    async def create_subscription(body: SubscriptionIn, infra: Infra, _key: Admin) -> SubscriptionCreated:
        if body.url is not None:
            try:
                await targets.check_target(body.url, allow_private=infra.settings.webhook_allow_private)
            except targets.TargetRefused as exc:
                raise ApiError(
                    422, "webhook target refused", details=[{"path": "body.url", "message": str(exc)}]
                ) from None
        record = SubscriptionRecord(
            id=_new_id("sub"),
            name=body.name,
            channel=body.channel,
            url=body.url,
            email=body.email.lower() if body.email else None,
            match=body.match.model_dump(mode="json", exclude_none=True),
            mode=body.mode,
            secret=None,
            created_at=utcnow(),
        )
        secret = None
        if body.channel == "webhook":
            secret = generate_secret()
            record = replace(record, secret=_sealer(infra).seal(secret, bound_to=record.id))
        async with infra.engine.begin() as conn:
            await store.add_subscription(conn, record)
        return SubscriptionCreated(**_subscription_out(record).model_dump(), secret=secret)

    @api.get("/v1/subscriptions", summary="Subscriptions, in id order, paged (admin)")
    async def list_subscriptions(
        infra: Infra, _key: Admin, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> SubscriptionPage:
        after = decode_cursor(cursor, "subscriptions", 1)[0] if cursor else None
        async with infra.engine.connect() as conn:
            records = await store.subscription_page(conn, after, limit + 1)
        page = records[:limit]
        next_cursor = encode_cursor("subscriptions", page[-1].id) if len(records) > limit else None
        return SubscriptionPage(items=[_subscription_out(r) for r in page], next_cursor=next_cursor)

    @api.get(
        "/v1/subscriptions/{subscription_id}",
        summary="One subscription (admin)",
        responses=error_responses(404),
    )
    async def get_subscription(
        subscription_id: Annotated[str, Path(max_length=40)], infra: Infra, _key: Admin
    ) -> SubscriptionOut:
        async with infra.engine.connect() as conn:
            record = await store.get_subscription(conn, subscription_id)
        if record is None:
            raise ApiError(404, f"no subscription {subscription_id}")
        return _subscription_out(record)

    @api.delete(
        "/v1/subscriptions/{subscription_id}",
        status_code=204,
        summary="Delete a subscription; what it had still to send is dropped (admin)",
        responses=error_responses(404),
    )
    async def delete_subscription(
        subscription_id: Annotated[str, Path(max_length=40)], infra: Infra, _key: Admin
    ) -> Response:
        async with infra.engine.begin() as conn:
            if not await store.delete_subscription(conn, subscription_id, utcnow()):
                raise ApiError(404, f"no subscription {subscription_id}")
        return Response(status_code=204)

    @api.post(
        "/v1/silences",
        status_code=201,
        summary="Silence notifications for a company, a signal or both until a time (admin)",
        description="Signals are still raised and shown; only notifications stop. Deliveries that a "
        "silence held back are in the delivery log with status `silenced`.",
    )
    async def create_silence(body: SilenceIn, infra: Infra, key: Admin) -> SilenceOut:
        now = utcnow()
        if body.ends_at <= now:
            raise ApiError(
                422, "ends_at is in the past", details=[{"path": "body.ends_at", "message": "must be later"}]
            )
        record = SilenceRecord(
            id=_new_id("sil"),
            company_id=body.company_id,
            signal=body.signal,
            ends_at=body.ends_at,
            comment=body.comment,
            created_by=key.name,
            created_at=now,
        )
        async with infra.engine.begin() as conn:
            await store.add_silence(conn, record)
        return _silence_out(record, now)

    @api.get("/v1/silences", summary="Active silences (read)")
    async def list_silences(infra: Infra, _key: Read) -> SilenceList:
        now = utcnow()
        async with infra.engine.connect() as conn:
            found = await store.active_silences(conn, now)
        return SilenceList(items=[_silence_out(record, now) for record in found])

    @api.delete(
        "/v1/silences/{silence_id}",
        summary="End a silence now (admin)",
        responses=error_responses(404),
    )
    async def end_silence(
        silence_id: Annotated[str, Path(max_length=40)], infra: Infra, _key: Admin
    ) -> SilenceOut:
        now = utcnow()
        async with infra.engine.begin() as conn:
            await store.end_silence(conn, silence_id, now)
            record = await store.get_silence(conn, silence_id)
        if record is None:
            raise ApiError(404, f"no silence {silence_id}")
        return _silence_out(record, now)

    @api.get("/v1/deliveries", summary="The delivery log, newest first, paged (read)")
    async def list_deliveries(
        infra: Infra,
        _key: Read,
        signal_id: Annotated[str | None, Query(max_length=100, description="Only this signal's.")] = None,
        status: Literal["pending", "delivered", "failed", "digest", "silenced", "inhibited", "cancelled"]
        | None = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> DeliveryPage:
        before = None
        if cursor:
            at, id_ = decode_cursor(cursor, "deliveries", 2)
            before = (cursor_time(at), id_)
        async with infra.engine.connect() as conn:
            records = await store.delivery_page(
                conn, signal_id=signal_id, status=status, before=before, limit=limit + 1
            )
        page = records[:limit]
        next_cursor = None
        if len(records) > limit:
            next_cursor = encode_cursor("deliveries", page[-1].created_at.isoformat(), page[-1].id)
        return DeliveryPage(items=[_delivery_out(r) for r in page], next_cursor=next_cursor)

    @api.post(
        "/v1/deliveries/{delivery_id}/retry",
        status_code=202,
        summary="Send a delivery again now (admin)",
        description="For a failed delivery (or one waiting for its next attempt): the dispatcher sends it "
        "again within a second, with the same `webhook-id`, and retries it for another 24 hours.",
        responses=error_responses(404, 409),
    )
    async def retry_delivery(
        delivery_id: Annotated[str, Path(max_length=40)], infra: Infra, _key: Admin
    ) -> DeliveryOut:
        async with infra.engine.begin() as conn:
            record = await store.get_delivery(conn, delivery_id)
            if record is None:
                raise ApiError(404, f"no delivery {delivery_id}")
            if record.status not in ("failed", "pending"):
                raise ApiError(409, f"a {record.status} delivery is not sent again")
            await store.retry_now(conn, delivery_id, utcnow())
            record = await store.get_delivery(conn, delivery_id)
        assert record is not None  # deliveries are never deleted
        return _delivery_out(record)

    return api
