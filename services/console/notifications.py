"""The admin's pages of the notifier: subscriptions (list, create with the secret shown once, delete) and
silences (active ones, create, end).

They read and write through the notifier's API routes (`JsonApi`), never its tables: its models judge the
forms as they judge any client, and the console served by the signals service alone still works.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request, Response

from services.console.errors import LoginRequired, PageError
from services.console.forms import Form, field_errors, read_form, silence_body, subscription_body
from services.console.jsonapi import Answer, JsonApi
from services.console.rendering import path_segment, redirect, render
from services.console.session import Admin, User, drop_handover, hand_over, handed_over
from services.notifier.api import SilenceList, SubscriptionCreated, SubscriptionPage
from shared.db import utcnow

SUBSCRIPTIONS_LIMIT = 50
EMPTY = Form({})
Id = Annotated[str, Path(max_length=40)]


def router(api: JsonApi) -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    async def call(request: Request, user: User, method: str, path: str, body: Any = None) -> Answer:
        answer = await api.call(request.app.state.infra, user.secret, method, path, body)
        if answer.status == 401:
            raise LoginRequired(request.url.path)
        if not answer.ok and answer.status != 422:
            raise PageError(answer.message, status=answer.status)
        return answer

    # --- subscriptions ---------------------------------------------------------------------------------

    async def subscriptions_page(
        request: Request,
        user: User,
        cursor: str = "",
        *,
        status: int = 200,
        values: Form = EMPTY,
        errors: dict[str, str] | None = None,
    ) -> Response:
        created = handed_over(request)
        query = {"limit": SUBSCRIPTIONS_LIMIT, **({"cursor": cursor} if cursor else {})}
        answer = await call(request, user, "GET", f"/v1/subscriptions?{urlencode(query)}")
        if not answer.ok:
            raise PageError("This page link is not valid any more: start from the first page.")
        page = SubscriptionPage.model_validate(answer.body)
        response = render(
            request,
            "subscriptions.html",
            user=user,
            nav="subscriptions",
            status=status,
            page=page,
            first_url="/subscriptions" if cursor else None,
            next_url=f"/subscriptions?{urlencode({'cursor': page.next_cursor})}"
            if page.next_cursor
            else None,
            values=values,
            errors=errors or {},
            created=created,
        )
        if created is not None:
            drop_handover(response, request, "/subscriptions")
        return response

    @pages.get("/subscriptions")
    async def subscriptions(
        request: Request, user: Admin, cursor: Annotated[str, Query(max_length=500)] = ""
    ) -> Response:
        return await subscriptions_page(request, user, cursor)

    @pages.post("/subscriptions")
    async def subscribe(request: Request, user: Admin) -> Response:
        form = await read_form(request)
        answer = await call(request, user, "POST", "/v1/subscriptions", subscription_body(form))
        if not answer.ok:
            return await subscriptions_page(
                request, user, status=422, values=form, errors=field_errors(answer.details)
            )
        created = SubscriptionCreated.model_validate(answer.body)
        # Redirected, so that a reload does not subscribe twice; the secret goes along to be shown once.
        response = redirect("/subscriptions")
        hand_over(response, request, "/subscriptions", {"name": created.name, "secret": created.secret})
        return response

    @pages.post("/subscriptions/{subscription_id}/delete")
    async def unsubscribe(request: Request, subscription_id: Id, user: Admin) -> Response:
        await read_form(request)
        await call(request, user, "DELETE", f"/v1/subscriptions/{path_segment(subscription_id)}")
        return redirect("/subscriptions")

    # --- silences --------------------------------------------------------------------------------------

    async def silences_page(
        request: Request,
        user: User,
        *,
        status: int = 200,
        values: Form | None = None,
        errors: dict[str, str] | None = None,
    ) -> Response:
        answer = await call(request, user, "GET", "/v1/silences")
        # A day from now, in the form's own format (UTC, to the minute).
        default_end = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        return render(
            request,
            "silences.html",
            user=user,
            nav="silences",
            status=status,
            silences=SilenceList.model_validate(answer.body).items,
            values=values or Form({"ends_at": [default_end]}),
            errors=errors or {},
        )

    @pages.get("/silences")
    async def silences(request: Request, user: Admin) -> Response:
        return await silences_page(request, user)

    @pages.post("/silences")
    async def silence(request: Request, user: Admin) -> Response:
        form = await read_form(request)
        answer = await call(request, user, "POST", "/v1/silences", silence_body(form))
        if not answer.ok:
            return await silences_page(
                request, user, status=422, values=form, errors=field_errors(answer.details)
            )
        return redirect("/silences")

    @pages.post("/silences/{silence_id}/end")
    async def end_silence(request: Request, silence_id: Id, user: Admin) -> Response:
        await read_form(request)
        await call(request, user, "DELETE", f"/v1/silences/{path_segment(silence_id)}")
        return redirect("/silences")

    return pages
