"""The credit team's web console on an app: its pages at `/`, its files at `/static`.

It is served wherever the signals service is (`earlywarning up`, `earlywarning serve signals`): its
pages read the signals service's tables.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from services.console.errors import LoginRequired, PageError
from services.console.jsonapi import JsonApi
from services.console.rendering import HEADERS, redirect, render
from services.console.routes import router
from services.console.session import signed_in

STATIC = Path(__file__).with_name("static")


def install(app: FastAPI) -> None:
    app.include_router(router(JsonApi()))
    app.mount("/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(PageError, _page_error)


def _htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    login = "/login" if exc.next_path == "/" else f"/login?next={quote(exc.next_path, safe='/')}"
    if _htmx(request):
        # htmx follows a redirect inside its request; this header makes the whole page go.
        return Response(status_code=401, headers={**HEADERS, "HX-Redirect": login})
    return redirect(login)


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    if _htmx(request):
        # The page stays as it was; the message goes to its message area, announced to screen readers.
        response = render(request, "_message.html", user=None, status=exc.status, error=exc.message)
        response.headers.update({"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"})
        return response
    user = signed_in(request)
    return render(request, "error.html", user=user, status=exc.status, title=exc.title, message=exc.message)
