"""The credit team's pages: sign-in, the inbox of open signals (acknowledge and resolve in place) and the
company page; the notifier's pages come from `notifications.py`. Every route answers HTML and stays out
of the OpenAPI document, which describes the JSON API only.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncEngine

from services.console import analytics, views
from services.console.errors import LoginRequired, NotFound, PageError
from services.console.forms import read_form
from services.console.jsonapi import JsonApi
from services.console.notifications import router as notifications_router
from services.console.rendering import path_segment, redirect, render
from services.console.session import (
    SESSION_COOKIE,
    Reader,
    authenticate,
    end_session,
    local_path,
    start_session,
)
from services.signals.api import SignalOut
from shared.auth import KeyStore, Scope
from shared.company_id import InvalidCompanyId, normalise_company_id
from shared.schemas import Category, Severity
from shared.web import ApiError

T = TypeVar("T")
Text = Annotated[str, Query(max_length=500)]
SignalId = Annotated[str, Path(max_length=100)]


def _engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.infra.engine
    return engine


def router(api: JsonApi) -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    # --- sign-in ---------------------------------------------------------------------------------------

    @pages.get("/login")
    async def login_page(
        request: Request, next_path: Annotated[str, Query(alias="next", max_length=500)] = "/"
    ) -> Response:
        secret = request.cookies.get(SESSION_COOKIE)
        if secret and await authenticate(request, secret) is not None:
            return redirect(local_path(next_path))
        return render(request, "login.html", user=None, next=local_path(next_path), error=None)

    @pages.post("/login")
    async def login(request: Request) -> Response:
        form = await read_form(request)
        target, secret = local_path(form.get("next")), form.get("key")
        keys: KeyStore = request.app.state.infra.keys
        key = await keys.authenticate(secret) if secret else None
        if key is not None and key.allows(Scope.read):
            response = redirect(target)
            start_session(response, request, secret)
            return response
        if key is None:
            status, error = 401, "Unknown or revoked API key."
        else:
            status, error = 403, "This key cannot read signals: the console needs a key with the read scope."
        return render(request, "login.html", user=None, status=status, next=target, error=error)

    @pages.post("/logout")
    async def logout(request: Request) -> Response:
        await read_form(request)
        response = redirect("/login")
        end_session(response, request)
        return response

    # --- inbox -----------------------------------------------------------------------------------------

    @pages.get("/")
    async def inbox(
        request: Request,
        user: Reader,
        min_severity: Text = "",
        category: Text = "",
        account_manager: Text = "",
        cursor: Text = "",
    ) -> Response:
        # Query values are parsed here, not by FastAPI: a GET form sends "" for "any", and a bad value
        # is an HTML page, not the API's JSON error.
        try:
            filters = views.InboxFilter(
                Severity(min_severity) if min_severity else None,
                Category(category) if category else None,
                account_manager.strip() or None,
            )
        except ValueError:
            raise PageError("Unknown severity or category in the filter.") from None
        async with _engine(request).connect() as conn:
            page = await _paged(views.inbox(conn, filters, cursor or None))
        query = {"min_severity": min_severity, "category": category, "account_manager": account_manager}
        query = {name: value for name, value in query.items() if value}
        return render(
            request,
            "inbox.html",
            user=user,
            nav="inbox",
            page=page,
            filters=filters,
            first_url="/?" + urlencode(query) if cursor else None,
            next_url="/?" + urlencode({**query, "cursor": page.next_cursor}) if page.next_cursor else None,
            back=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            scan_limit=views.SCAN_LIMIT,
        )

    async def act(request: Request, user: Reader, signal_id: str, action: str, done: str) -> Response:
        """Acknowledge or resolve through the API's own route, with the user's key (it needs `admin`)."""
        form = await read_form(request)
        body = {"by": user.name, "note": form.get("note") or None}
        path = f"/v1/signals/{path_segment(signal_id)}/{action}"
        answer = await api.call(request.app.state.infra, user.secret, "POST", path, body)
        if answer.status == 401:
            raise LoginRequired("/")
        if not answer.ok:
            raise PageError(answer.message, status=answer.status)
        if request.headers.get("HX-Request") != "true":
            return redirect(local_path(form.get("back")))
        return render(
            request,
            "_signal.html",
            user=user,
            s=SignalOut.model_validate(answer.body),
            detailed=form.get("view") == "company",
            back=local_path(form.get("back")),
            notice=done,
        )

    @pages.post("/signals/{signal_id}/acknowledge")
    async def acknowledge(request: Request, signal_id: SignalId, user: Reader) -> Response:
        return await act(request, user, signal_id, "acknowledge", "Acknowledged")

    @pages.post("/signals/{signal_id}/resolve")
    async def resolve(request: Request, signal_id: SignalId, user: Reader) -> Response:
        return await act(request, user, signal_id, "resolve", "Resolved")

    # --- company ---------------------------------------------------------------------------------------

    @pages.get("/companies/{company_id}")
    async def company(
        request: Request, company_id: Annotated[str, Path(max_length=40)], user: Reader, cursor: Text = ""
    ) -> Response:
        try:
            normalised = normalise_company_id(company_id)
        except InvalidCompanyId as exc:
            raise NotFound(f"{company_id} is not an enterprise number: it {exc}.") from None
        async with _engine(request).connect() as conn:
            found = await _paged(views.company_page(conn, normalised, cursor or None))
        if found is None:
            raise NotFound(f"Nothing was received about {normalised}.")
        here = f"/companies/{path_segment(normalised)}"
        timeline = found.timeline
        return render(
            request,
            "company.html",
            user=user,
            page=found,
            c=found.company,
            contacts=found.contacts,
            first_url=here if cursor else None,
            next_url=f"{here}?{urlencode({'cursor': timeline.next_cursor})}"
            if timeline.next_cursor
            else None,
            back=here,
        )

    pages.include_router(analytics.router())
    pages.include_router(notifications_router(api))
    return pages


async def _paged(query: Awaitable[T]) -> T:
    """A page read with a cursor from the URL: a bad cursor is a 400 page, not the API's JSON 422."""
    try:
        return await query
    except ApiError as exc:
        raise PageError("This page link is not valid any more: start from the first page.") from exc
