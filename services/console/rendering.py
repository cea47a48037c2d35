"""The console's pages as HTML: Jinja2 templates from the package, and the headers every page carries.

Company names, summaries, evidence and notes are third parties' text: every template is autoescaped and
the Content-Security-Policy allows no inline script or style, so that text that slipped through could
still not run.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from services.console.session import User, csrf_token, keep_csrf_token, new_csrf_token
from shared.company_id import InvalidCompanyId, format_company_id
from shared.schemas import Category, Severity, SignalName

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' "
    "data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages show credit data and, once, webhook secrets: never kept in a cache.
    "Cache-Control": "no-store",
}


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def label(name: str) -> str:
    """`judicial_reorganisation` -> `Judicial reorganisation`."""
    return name.replace("_", " ").capitalize()


def company_number(company_id: str) -> str:
    """The display form of an enterprise number (`0403.170.701`)."""
    try:
        return format_company_id(company_id)
    except InvalidCompanyId:
        return company_id


def eur(amount: Decimal | float | int) -> str:
    return f"€{amount:,.0f}"


def sentence(text: str) -> str:
    """An API message (`no signal x`) as a sentence (`No signal x.`)."""
    text = text.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text[-1] in ".!?" else ".")


def path_segment(value: str) -> str:
    """`value` quoted for one segment of a URL path."""
    return quote(value, safe="")


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("services.console", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        utc=utc, label=label, company_number=company_number, eur=eur, seg=path_segment, sentence=sentence
    )
    env.globals.update(
        severities=list(Severity), categories=list(Category), signal_names=[s.value for s in SignalName]
    )
    return env


def render(
    request: Request, template: str, *, user: User | None, status: int = 200, **context: Any
) -> HTMLResponse:
    """A page (or, for htmx, a fragment) with the browser's CSRF token in its forms."""
    token = csrf_token(request) or new_csrf_token()
    html = environment().get_template(template).render(user=user, csrf=token, **context)
    response = HTMLResponse(html, status_code=status, headers=HEADERS)
    keep_csrf_token(response, request, token)
    return response


def redirect(location: str) -> RedirectResponse:
    """303: after a form, the browser GETs the next page."""
    return RedirectResponse(location, status_code=303, headers=HEADERS)
