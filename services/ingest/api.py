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
    contact_item,
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
    ContactIn,
    ContactOut,
    ContactPage,
    ItemError,
    ItemsOut,
    ObservationIn,
    OrderIn,
    PortfolioIn,
    PortfolioOut,
    PublicationIn,
)
from services.ingest.store import ContactRecord, IntakeStore
from shared.company_id import CompanyId
from shared.paging import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor
from shared.runtime import Infrastructure
from shared.schemas import CONTACT_ID_PATTERN, Contact
from shared.schemas._base import example_of
from shared.web import ApiError, IngestKey, ReadKey, error_responses, validation_details
from shared.webhooks import WebhookVerificationError, verify

M = TypeVar("M", bound=BaseModel)

CompanyPath = Annotated[
    CompanyId, Path(description="Enterprise number in any accepted form, e.g. 0403.170.701.")
]
ContactPath = Annotated[
    str,
    Path(
        pattern=CONTACT_ID_PATTERN,
        description="Your own id of the contact: 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-'.",
        examples=["crm-000123"],
    ),
]
Ingest = IngestKey
Read = ReadKey

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


def _contact_out(record: ContactRecord) -> ContactOut:
    return ContactOut(**record.entry, updated_at=record.updated_at)


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

    @api.put(
        "/v1/companies/{company_id}/contacts/{contact_id}",
        status_code=202,
        summary="Create or update a contact at a customer",
        description="Who the supplier talks to at the customer and their part in the buying unit (DMU). "
        "Published on `ew.contacts`; a contact claiming to be a director who is not a registered one raises "
        "`straw_man`. The whole contact is replaced: fields left out are cleared.",
    )
    async def put_contact(
        company_id: CompanyPath,
        contact_id: ContactPath,
        body: ContactIn,
        intake: IntakeDep,
        store: StoreDep,
        _key: Ingest,
    ) -> AcceptedOut:
        item = contact_item(company_id, contact_id, body)
        result = _one((await intake.accept([item]))[0])
        await store.put_contacts([item.payload.model_dump(mode="json")])
        return result

    @api.delete(
        "/v1/companies/{company_id}/contacts/{contact_id}",
        status_code=202,
        summary="Remove a contact",
        description="Publishes the contact's last record marked `deleted` on `ew.contacts`, which ends its "
        "part in the signals; 404 when the company has no such contact.",
        responses=error_responses(404),
    )
    async def delete_contact(
        company_id: CompanyPath, contact_id: ContactPath, intake: IntakeDep, store: StoreDep, _key: Ingest
    ) -> AcceptedOut:
        record = await store.get_contact(company_id, contact_id)
        if record is None:
            raise ApiError(404, f"{company_id} has no contact {contact_id}")
        last = Contact.model_validate(record.entry)
        result = _one((await intake.accept([contact_item(company_id, contact_id, None, last=last)]))[0])
        await store.delete_contact(company_id, contact_id)
        return result

    @api.get(
        "/v1/companies/{company_id}/contacts",
        summary="The contacts at a customer, in contact id order, paged",
        description="Each contact's latest version. Paged with `limit` and `cursor` (the `next_cursor` of "
        "the page before): a contact added or removed meanwhile never shifts or repeats a page.",
    )
    async def list_contacts(
        company_id: CompanyPath,
        store: StoreDep,
        _key: Read,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ContactPage:
        # The company is in the cursor, so that a cursor of one company's list is refused by another's.
        after = decode_cursor(cursor, f"contacts:{company_id}", 1)[0] if cursor else None
        records = await store.contact_page(company_id, after, limit + 1)
        page = records[:limit]
        next_cursor = (
            encode_cursor(f"contacts:{company_id}", page[-1].contact_id) if len(records) > limit else None
        )
        return ContactPage(items=[_contact_out(r) for r in page], next_cursor=next_cursor)

    @api.get(
        "/v1/companies/{company_id}/contacts/{contact_id}",
        summary="A contact at a customer",
        description="The latest version the intake accepted, and when it was stored; 404 once removed.",
        responses=error_responses(404),
    )
    async def get_contact(
        company_id: CompanyPath, contact_id: ContactPath, store: StoreDep, _key: Read
    ) -> ContactOut:
        record = await store.get_contact(company_id, contact_id)
        if record is None:
            raise ApiError(404, f"{company_id} has no contact {contact_id}")
        return _contact_out(record)

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
