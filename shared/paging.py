"""Paging of every list endpoint: `?limit=` (default 50, at most 1000) and an opaque `?cursor=`.

A page starts strictly after the last item of the previous one in the list's order (keyset paging), so
items added meanwhile never shift or repeat a page. The cursor is that item's sort key, with the list's
name so that a cursor of one list is refused by another.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated

from fastapi import Query

from shared.web import ApiError

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (at most 1000).")]
Cursor = Annotated[
    str | None, Query(max_length=500, description="`next_cursor` of the previous page; omit for the first.")
]

_INVALID = {"path": "query.cursor", "message": "not a cursor of this list"}


def encode_cursor(kind: str, *parts: str) -> str:
    """An opaque cursor: the list it belongs to and the sort key of the last item of a page."""
    return base64.urlsafe_b64encode(json.dumps([kind, *parts]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str, size: int) -> list[str]:
    """The parts of a cursor made by `encode_cursor(kind, ...)`; a 422 for anything else."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raw = None
    if (
        not isinstance(raw, list)
        or len(raw) != size + 1
        or raw[0] != kind
        or not all(isinstance(part, str) for part in raw)
    ):
        raise ApiError(
            422, "invalid cursor: pass the next_cursor of a previous page of this list", details=[_INVALID]
        )
    return raw[1:]


def cursor_time(value: str) -> datetime:
    """An aware time of a cursor; a 422 when it is not one."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ApiError(422, "invalid cursor", details=[_INVALID])
    return moment
