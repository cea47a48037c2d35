"""HTTP plumbing of every service: the error format, request metrics, health, readiness and metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Send
from starlette.types import Scope as Scope_

from shared.auth import ApiKey, KeyStore, Scope
from shared.bus import BusUnavailable
from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = logging.getLogger(__name__)

RETRY_AFTER = {"Retry-After": "5"}
DATABASE_OUTAGES: tuple[type[Exception], ...] = (OperationalError, InterfaceError, ConnectionError)

Readiness = Callable[[], Awaitable[dict[str, str]]]

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "unavailable",
}


class ErrorDetail(BaseModel):
    path: str = Field(description="Where the problem is, e.g. body.company_id.")
    message: str


class ErrorBody(BaseModel):
    """Every error answer (contract section 1)."""

    error: str = Field(
        description="A code: validation_error, unauthorized, forbidden, not_found, conflict, ..."
    )
    message: str = Field(description="What went wrong and what to do, in one sentence.")
    details: list[ErrorDetail] = Field(default_factory=list, description="Each bad field (422).")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` documenting the error body for these statuses."""
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in statuses}


_DESCRIPTIONS = {
    400: "The body is not valid JSON",
    401: "No, unknown or revoked API key (or, for the bureau webhook, a bad signature)",
    403: "The key lacks the scope",
    404: "Not found",
    409: "Already received with another content",
    413: "The body is too large",
    422: "Invalid input; `details` names each bad field",
    503: "The bus or the database is unavailable; retry after `Retry-After` seconds",
}


class ApiError(Exception):
    """An error answered as the contract's JSON error: `{"error", "message", "details"}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _STATUS_CODES.get(status, "error")
        self.message = message
        self.details = details or []
        self.headers = headers


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": code, "message": message, "details": details or []}, status_code=status, headers=headers
    )


def validation_details(errors: Any) -> list[dict[str, Any]]:
    """Each bad field with its path (`body.company_id`) and what is wrong with it."""
    return [
        {
            "path": ".".join(str(part) for part in error.get("loc", ()) if not _internal(part)),
            "message": error.get("msg", "invalid"),
        }
        for error in errors
    ]


def _internal(part: object) -> bool:
    """Union branch names such as `function-after[_check(), Model]` say nothing to a client."""
    return isinstance(part, str) and "[" in part


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)

    async def invalid_request(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        details = validation_details(exc.errors())
        if any(error.get("type") == "json_invalid" for error in exc.errors()):
            return error_response(400, "bad_request", "the body is not valid JSON", details)
        fields = ", ".join(d["path"] for d in details[:5])
        return error_response(422, "validation_error", f"invalid request: {fields}", details)

    async def unavailable(_request: Request, exc: Exception) -> Response:
        # The bus or the database is down: nothing was accepted, the client should retry.
        log.warning("service unavailable: %s", exc)
        return error_response(
            503,
            "unavailable",
            "the event bus or the database is unavailable; retry later",
            headers=RETRY_AFTER,
        )

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "an internal error occurred; it has been logged")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(BusUnavailable, unavailable)
    for error in DATABASE_OUTAGES:
        app.add_exception_handler(error, unavailable)
    app.add_exception_handler(Exception, unexpected)


class RequestMetrics:
    """Count requests and time them per route template (never per raw path: ids would explode the series).

    Plain ASGI rather than a `BaseHTTPMiddleware`, which costs a task and a stream copy per request.
    """

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope_, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # The router records the matched route in the scope; unmatched paths share one label.
            route = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(self.service, route, scope["method"], str(status)).inc()
            HTTP_LATENCY.labels(self.service, route).observe(time.perf_counter() - started)


def ops_router(readiness: Readiness, ended: Callable[[], list[str]] = list) -> APIRouter:
    """`/healthz` (alive), `/readyz` (bus and database reachable) and `/metrics` (Prometheus text).

    `ended` names the background tasks that stopped for good: the process is then not alive (a liveness
    probe restarts it), whereas an outage only makes it not ready.
    """
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive", responses={503: {}})
    async def healthz() -> Response:
        stopped = ended()
        if stopped:
            return JSONResponse({"status": "failed", "stopped": stopped}, status_code=503)
        return JSONResponse({"status": "ok"})

    @router.get("/readyz", summary="The bus and the database are reachable", responses={503: {}})
    async def readyz() -> Response:
        checks = await readiness()
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer ew_...`.")


def require(scope: Scope) -> Any:
    """A dependency that answers 401 without a valid key and 403 when the key lacks `scope`."""

    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> ApiKey:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ApiError(401, "an API key is required: Authorization: Bearer <key>", headers=_CHALLENGE)
        keys: KeyStore = request.app.state.infra.keys
        key = await keys.authenticate(credentials.credentials)
        if key is None:
            raise ApiError(401, "unknown or revoked API key", headers=_CHALLENGE)
        if not key.allows(scope):
            raise ApiError(403, f"this API key lacks the {scope.value!r} scope")
        return key

    return Depends(dependency)


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class PayloadTooLarge(StarletteHTTPException):
    # An HTTPException: FastAPI turns any other error raised while it reads a body into a 400.
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body is larger than {limit} bytes")


class BodySizeLimit:
    """Refuse bodies over a limit with 413, whether declared by Content-Length or sent chunked.

    Batch endpoints (paths ending in `:batch`, and lists of publications) get the larger limit.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        default: int = 1 << 20,
        large: int = 32 << 20,
        large_paths: tuple[str, ...] = (":batch", "/v1/publications"),
    ) -> None:
        self.app = app
        self.default = default
        self.large = large
        self.large_paths = large_paths

    async def __call__(self, scope: Scope_, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.large if scope["path"].endswith(self.large_paths) else self.default
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await error_response(413, "payload_too_large", f"the body is larger than {limit} bytes")(
                    scope, receive, send
                )
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(limit)
            return message

        await self.app(scope, limited, send)


# The key of the request, for routes that need each scope (`admin` allows everything).
IngestKey = Annotated[ApiKey, require(Scope.ingest)]
ReadKey = Annotated[ApiKey, require(Scope.read)]
AdminKey = Annotated[ApiKey, require(Scope.admin)]
