"""HTML forms of the console: reading a posted form, and turning the notifier's forms into the JSON bodies
of its API, whose models (`SubscriptionIn`, `SilenceIn`) then judge them as they judge any client's.

Forms are read here rather than by Starlette, which needs the `python-multipart` package for it: the
console's forms are all `application/x-www-form-urlencoded`, which the standard library parses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from services.console.errors import PageError
from services.console.session import CSRF_FIELD, check_csrf

MAX_FIELDS = 200

_ITEM_SEPARATORS = re.compile(r"[,\n]")


class BadForm(PageError):
    """The body is not a form the console sent."""


@dataclass(frozen=True, slots=True)
class Form:
    """A posted form: each field's values in order."""

    fields: Mapping[str, list[str]]

    def get(self, name: str) -> str:
        """The first value of `name`, stripped; empty when absent."""
        values = self.fields.get(name)
        return values[0].strip() if values else ""

    def all(self, name: str) -> list[str]:
        """Every non-empty value of `name` (checkboxes, multiple selections)."""
        return [value.strip() for value in self.fields.get(name, []) if value.strip()]


async def read_form(request: Request) -> Form:
    """The posted form, once its CSRF token checked out."""
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and content_type != "application/x-www-form-urlencoded":
        raise BadForm("Expected a form (application/x-www-form-urlencoded).")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadForm("The form could not be read.") from exc
    fields: dict[str, list[str]] = {}
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    form = Form(fields)
    check_csrf(request, form.get(CSRF_FIELD))
    return form


def items(text: str) -> list[str]:
    """The entries of a free-text list field: separated by commas or lines."""
    return [item.strip() for item in _ITEM_SEPARATORS.split(text) if item.strip()]


def subscription_body(form: Form) -> dict[str, Any]:
    """`POST /v1/subscriptions` of the subscription form."""
    match: dict[str, Any] = {}
    if form.get("min_severity"):
        match["min_severity"] = form.get("min_severity")
    for name in ("categories", "signals"):
        if chosen := form.all(name):
            match[name] = chosen
    for name in ("segments", "account_managers", "company_ids"):
        if listed := items(form.get(name)):
            match[name] = listed
    channel = form.get("channel")
    body: dict[str, Any] = {
        "name": form.get("name"),
        "channel": channel,
        "mode": form.get("mode") or "immediate",
        "match": match,
    }
    # Only the address of the chosen channel: text left in the other field is not an error.
    if channel == "webhook":
        body["url"] = form.get("url")
    elif channel == "email":
        body["email"] = form.get("email")
    return body


def silence_body(form: Form) -> dict[str, Any]:
    """`POST /v1/silences` of the silence form; its times are UTC, as the form's labels say."""
    body: dict[str, Any] = {"ends_at": _utc(form.get("ends_at")), "comment": form.get("comment")}
    for name in ("company_id", "signal"):
        if form.get(name):
            body[name] = form.get(name)
    return body


def _utc(local: str) -> str:
    # A datetime-local input gives "2025-11-03T09:30" without an offset.
    if not local or local.endswith("Z") or "+" in local:
        return local
    return f"{local}:00Z" if local.count(":") == 1 else f"{local}Z"


def field_errors(details: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The API's 422 details by form field (`body.match.segments.0` -> `segments`); "" for the whole form."""
    errors: dict[str, str] = {}
    for detail in details:
        parts = str(detail.get("path", "")).split(".")
        if parts and parts[0] == "body":
            parts = parts[1:]
        if parts and parts[0] == "match":
            parts = parts[1:]
        field = parts[0] if parts and not parts[0].isdigit() else ""
        message = str(detail.get("message", "invalid"))
        errors[field] = f"{errors[field]}; {message}" if field in errors else message
    return errors
