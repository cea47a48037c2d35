"""HTTP intake (contract section 4): every accepted item answers 202 with its id once the bus has it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Header, Path, Request
from pydantic import BaseModel, Discriminator, Field, Tag, TypeAdapter, ValidationError

from services.ingest.intake import (
    Accepted,
    Conflict,
    Intake,
    Item,
    Outcome,
    bureau_item,
    observation_item,
    order_item,
    portfolio_item,
    publication_item,
)
from services.ingest.models import (
    MAX_BATCH,
    AcceptedOut,
    BatchItemOut,
    BatchOut,
    BureauEventIn,
    ItemError,
    ItemsOut,
    ObservationIn,
    OrderIn,
    PortfolioIn,
    PortfolioOut,
    PublicationIn,
)
from services.ingest.store import IntakeStore
from shared.auth import ApiKey, Scope
from shared.company_id import CompanyId
from shared.runtime import Infrastructure
from shared.schemas._base import example_of
from shared.web import ApiError, error_responses, require, validation_details
from shared.webhooks import WebhookVerificationError, verify

M = TypeVar("M", bound=BaseModel)

CompanyPath = Annotated[
    CompanyId, Path(description="Enterprise number in any accepted form, e.g. 0403.170.701.")
]
Ingest = Annotated[ApiKey, require(Scope.ingest)]
Read = Annotated[ApiKey, require(Scope.read)]

_ERRORS = error_responses(400, 401, 403, 413, 422, 503)


def _infra(request: Request) -> Infrastructure:
    infra: Infrastructure = request.app.state.infra
    return infra


def _store(infra: Annotated[Infrastructure, Depends(_infra)]) -> IntakeStore:
    return IntakeStore(infra.engine)


def _intake(
    infra: Annotated[Infrastructure, Depends(_infra)], store: Annotated[IntakeStore, Depends(_store)]
) -> Intake:
    return Intake(infra.bus, store)


IntakeDep = Annotated[Intake, Depends(_intake)]
StoreDep = Annotated[IntakeStore, Depends(_store)]


# One publication or a list: the JSON type decides, so that errors are those of the form sent.
# Tags contain brackets, which `validation_details` leaves out of error paths.
PublicationsBody = Annotated[
    Annotated[PublicationIn, Tag("[one]")]
    | Annotated[list[PublicationIn], Tag("[list]"), Field(max_length=MAX_BATCH)],
    Discriminator(lambda value: "[list]" if isinstance(value, list) else "[one]"),
]


def _one(outcome: Outcome) -> AcceptedOut:
    if isinstance(outcome, Conflict):
        raise ApiError(409, outcome.message)
    return AcceptedOut(id=outcome.id)


async def _batch(
    intake: Intake, raw: Sequence[Any], build: Callable[[Any], Item], model: type[M]
) -> BatchOut:
    """Validate each item on its own; publish the valid ones; answer per item."""
    adapter = TypeAdapter(model)
    results: list[BatchItemOut | None] = [None] * len(raw)
    items: list[tuple[int, Item]] = []
    for index, data in enumerate(raw):
        try:
            items.append((index, build(adapter.validate_python(data))))
        except ValidationError as exc:
            error = ItemError(
                error="validation_error", message="invalid item", details=validation_details(exc.errors())
            )
            results[index] = BatchItemOut(index=index, error=error)
    outcomes = await intake.accept([item for _, item in items])
    for (index, _), outcome in zip(items, outcomes, strict=True):
        if isinstance(outcome, Accepted):
            results[index] = BatchItemOut.model_construct(index=index, id=outcome.id, error=None)
        else:
            results[index] = BatchItemOut(
                index=index, error=ItemError(error="conflict", message=outcome.message)
            )
    done = [r for r in results if r is not None]
    accepted = sum(1 for r in done if r.id is not None)
    return BatchOut(accepted=accepted, rejected=len(done) - accepted, items=done)


def _batch_body(model: type[BaseModel]) -> Any:
    return Body(
        max_length=MAX_BATCH,
        description=f"Up to {MAX_BATCH:,} items, each a {model.__name__}; each is validated on its own.",
        examples=[[example_of(model)]],
    )


def router() -> APIRouter:
    api = APIRouter(tags=["ingest"], responses=_ERRORS)

    @api.put("/v1/portfolio/{company_id}", status_code=202, summary="Start or update monitoring of a company")
    async def put_portfolio(
        company_id: CompanyPath, body: PortfolioIn, intake: IntakeDep, store: StoreDep, _key: Ingest
    ) -> AcceptedOut:
        item = portfolio_item(company_id, body)
        result = _one((await intake.accept([item]))[0])
        await store.put_portfolio([(company_id, item.payload.model_dump(mode="json"))])
        return result

    @api.delete(
        "/v1/portfolio/{company_id}",
        status_code=202,
        summary="Stop monitoring a company",
        responses=error_responses(404),
    )
    async def delete_portfolio(
        company_id: CompanyPath, intake: IntakeDep, store: StoreDep, _key: Ingest
    ) -> AcceptedOut:
        if await store.get_portfolio(company_id) is None:
            raise ApiError(404, f"{company_id} is not monitored")
        result = _one((await intake.accept([portfolio_item(company_id, None)]))[0])
        await store.delete_portfolio(company_id)
        return result

    @api.get("/v1/portfolio/{company_id}", summary="A monitored company", responses=error_responses(404))
    async def get_portfolio(company_id: CompanyPath, store: StoreDep, _key: Read) -> PortfolioOut:
        record = await store.get_portfolio(company_id)
        if record is None:
            raise ApiError(404, f"{company_id} is not monitored")
        return PortfolioOut(**record.entry, updated_at=record.updated_at)

    @api.post(
        "/v1/observations", status_code=202, summary="A sales observation", responses=error_responses(409)
    )
    async def post_observation(
        body: ObservationIn,
        intake: IntakeDep,
        key: Ingest,
        idempotency_key: Annotated[
            str | None,
            Header(
                max_length=255,
                description="Same key and body: the same id and no second event; same key, other body: 409.",
            ),
        ] = None,
    ) -> AcceptedOut:
        idempotency = (key.id, idempotency_key) if idempotency_key else None
        item = observation_item(body, idempotency=idempotency, now=datetime.now(UTC))
        return _one((await intake.accept([item]))[0])

    @api.post("/v1/observations:batch", status_code=202, summary="Up to 10,000 sales observations")
    async def post_observations(
        body: Annotated[list[dict[str, Any]], _batch_body(ObservationIn)], intake: IntakeDep, _key: Ingest
    ) -> BatchOut:
        now = datetime.now(UTC)
        return await _batch(
            intake, body, lambda o: observation_item(o, idempotency=None, now=now), ObservationIn
        )

    @api.post(
        "/v1/publications",
        status_code=202,
        summary="Official Gazette publications: one, or a list",
        responses=error_responses(409),
        # A union body gets no examples from its schema: give the two forms here.
        openapi_extra={
            "requestBody": {
                "content": {
                    "application/json": {
                        "examples": {
                            "one": {"value": example_of(PublicationIn)},
                            "list": {"value": [example_of(PublicationIn)]},
                        }
                    }
                }
            }
        },
    )
    async def post_publications(
        body: PublicationIn | Annotated[list[PublicationIn], Body(max_length=MAX_BATCH)],
        intake: IntakeDep,
        _key: Ingest,
    ) -> AcceptedOut | ItemsOut:
        if isinstance(body, list):
            outcomes = await intake.accept([publication_item(p) for p in body])
            return ItemsOut(items=[_one(o) for o in outcomes])
        return _one((await intake.accept([publication_item(body)]))[0])

    @api.post(
        "/v1/bureau/events",
        status_code=202,
        summary="Credit-bureau webhook (Standard Webhooks signature instead of an API key)",
        responses=error_responses(409),
    )
    async def post_bureau_event(
        body: BureauEventIn, intake: IntakeDep, _signed: Annotated[None, Depends(_verify_bureau_signature)]
    ) -> AcceptedOut:
        return _one((await intake.accept([bureau_item(body)]))[0])

    @api.post("/v1/orders", status_code=202, summary="An order of a customer", responses=error_responses(409))
    async def post_order(body: OrderIn, intake: IntakeDep, _key: Ingest) -> AcceptedOut:
        return _one((await intake.accept([order_item(body)]))[0])

    @api.post("/v1/orders:batch", status_code=202, summary="Up to 10,000 orders")
    async def post_orders(
        body: Annotated[list[dict[str, Any]], _batch_body(OrderIn)], intake: IntakeDep, _key: Ingest
    ) -> BatchOut:
        return await _batch(intake, body, order_item, OrderIn)

    return api


async def _verify_bureau_signature(
    request: Request,
    infra: Annotated[Infrastructure, Depends(_infra)],
    webhook_id: Annotated[str | None, Header()] = None,
    webhook_timestamp: Annotated[str | None, Header()] = None,
    webhook_signature: Annotated[str | None, Header()] = None,
) -> None:
    secret = infra.settings.bureau_secret
    if secret is None:
        raise ApiError(503, "bureau webhooks are not configured here (EW_BUREAU_SECRET is not set)")
    try:
        verify(
            secret.get_secret_value(),
            msg_id=webhook_id,
            timestamp=webhook_timestamp,
            signature=webhook_signature,
            body=await request.body(),
        )
    except WebhookVerificationError as exc:
        raise ApiError(401, f"bad bureau webhook signature: {exc}") from None
