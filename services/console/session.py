"""Who uses the console: the API key kept in an HttpOnly cookie, and the CSRF token of its forms.

The console signs in with the API keys of the JSON API (contract section 3): the cookie holds the key
itself and every request checks it with the app's `KeyStore`, as the API checks a bearer key, so a
revoked key stops working in the console as soon as in the API. State-changing requests also carry a
double-submit CSRF token (a random value in a cookie, echoed in a form field or the `X-CSRF-Token`
header); `SameSite=Strict` already keeps other sites' requests from carrying the cookies.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response

from services.console.errors import LoginRequired, Refused
from shared.auth import ApiKey, KeyStore, Scope

SESSION_COOKIE = "ew_session"
CSRF_COOKIE = "ew_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
SESSION_MAX_AGE = 8 * 3600
"""Seconds a sign-in lasts: a working day."""
HANDOVER_COOKIE = "ew_handover"
HANDOVER_MAX_AGE = 120

_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_LOCAL_PATH = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*")


@dataclass(frozen=True, slots=True)
class User:
    key: ApiKey
    secret: str
    """The key's value: actions forward it to the JSON API, which checks the scope itself again."""

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def is_admin(self) -> bool:
        return self.key.allows(Scope.admin)


async def authenticate(request: Request, secret: str) -> User | None:
    """The user of a key value, when the key is live and may read."""
    keys: KeyStore = request.app.state.infra.keys
    key = await keys.authenticate(secret)
    if key is None or not key.allows(Scope.read):
        return None
    return User(key, secret)


async def _reader(request: Request) -> User:
    secret = request.cookies.get(SESSION_COOKIE)
    user = await authenticate(request, secret) if secret else None
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target if request.method == "GET" else "/")
    request.state.console_user = user
    return user


def signed_in(request: Request) -> User | None:
    """The user this request was checked for, if it was (error pages show the menu to them)."""
    user = getattr(request.state, "console_user", None)
    return user if isinstance(user, User) else None


async def _admin(user: Annotated[User, Depends(_reader)]) -> User:
    if not user.is_admin:
        raise Refused("This page needs an API key with the admin scope.")
    return user


Reader = Annotated[User, Depends(_reader)]
Admin = Annotated[User, Depends(_admin)]


def local_path(value: str | None) -> str:
    """`value` when it is a path of this site, else `/`: redirects never leave the console.

    Only URL characters are allowed, no backslash or white space: browsers drop tabs and read `\\` as
    `/`, which would turn `/\\evil.example` into another site.
    """
    if not value or not _LOCAL_PATH.fullmatch(value) or value.startswith("//") or value == "/login":
        return "/"
    return value


# --- cookies -----------------------------------------------------------------------------------------


def _set(
    response: Response, request: Request, name: str, value: str, max_age: int | None = None, path: str = "/"
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def start_session(response: Response, request: Request, secret: str) -> None:
    _set(response, request, SESSION_COOKIE, secret, SESSION_MAX_AGE)
    # A new token at sign-in: one planted before it is worthless afterwards.
    _set(response, request, CSRF_COOKIE, new_csrf_token())


def end_session(response: Response, request: Request) -> None:
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(
            name, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
        )


def hand_over(response: Response, request: Request, path: str, value: dict[str, str | None]) -> None:
    """Keep `value` for the next page at `path` only, for two minutes.

    After a form the browser is redirected, so that reloading the page does not post the form again;
    what the next page must show once (a new webhook secret) goes with it in this cookie.
    """
    encoded = base64.urlsafe_b64encode(json.dumps(value).encode()).decode()
    _set(response, request, HANDOVER_COOKIE, encoded, HANDOVER_MAX_AGE, path=path)


def handed_over(request: Request) -> dict[str, str | None] | None:
    """What `hand_over` kept for this page; `drop_handover` then removes it, so that it shows once."""
    encoded = request.cookies.get(HANDOVER_COOKIE)
    if encoded is None:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(encoded))
    except (ValueError, binascii.Error):
        return None
    return value if isinstance(value, dict) else None


def drop_handover(response: Response, request: Request, path: str) -> None:
    response.delete_cookie(
        HANDOVER_COOKIE, path=path, httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(request: Request) -> str | None:
    """The CSRF token of this browser, or None when it has none (yet)."""
    token = request.cookies.get(CSRF_COOKIE)
    return token if token is not None and _TOKEN.fullmatch(token) else None


def keep_csrf_token(response: Response, request: Request, token: str) -> None:
    """Give the browser `token` when it does not hold it yet."""
    if csrf_token(request) != token:
        _set(response, request, CSRF_COOKIE, token)


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse a state-changing request whose token (form field or header) is not the cookie's."""
    expected = csrf_token(request)
    given = request.headers.get(CSRF_HEADER) or submitted or ""
    if expected is None or not secrets.compare_digest(expected.encode(), given.encode()):
        raise Refused("The form has expired or did not come from this console: reload the page and retry.")
