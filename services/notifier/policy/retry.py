"""When to try a failed webhook delivery again, and whether to (Standard Webhooks style).

Exponential backoff with jitter: 5 s, 10 s, 20 s... up to an hour between attempts, for a day after the
first attempt; then the delivery is `failed`. Times come from the caller (aware, UTC), randomness too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

__all__ = ["RetryPolicy", "is_retryable", "next_attempt", "retry_after", "retry_delay"]

# Statuses that say "later" rather than "never": timeout, conflict (e.g. a lock), too early, too many.
_RETRYABLE_4XX = frozenset({408, 409, 425, 429})

# A Retry-After beyond this is absurd; clamping it keeps the date arithmetic from overflowing.
_MAX_RETRY_AFTER = 366 * 86400

_DELAY_SECONDS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff settings, in seconds; `jitter` is the fraction a delay may vary either way."""

    first_delay: float = 5.0
    factor: float = 2.0
    max_delay: float = 3600.0
    window: float = 86400.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not 0 < self.first_delay <= self.max_delay:
            raise ValueError("first_delay must be above 0 and at most max_delay")
        if self.factor < 1:
            raise ValueError("factor must be at least 1")
        if self.window <= 0:
            raise ValueError("window must be above 0")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be from 0 to below 1")


def retry_delay(policy: RetryPolicy, failures: int, rand: float) -> float:
    """Seconds to wait after the `failures`-th consecutive failure; `rand` in [0, 1] picks the jitter."""
    if failures < 1:
        raise ValueError(f"failures must be at least 1, got {failures}")
    if not 0 <= rand <= 1:
        raise ValueError(f"rand must be from 0 to 1, got {rand}")
    try:
        base = min(policy.first_delay * policy.factor ** (failures - 1), policy.max_delay)
    except OverflowError:  # factor ** a large count: far beyond the cap anyway
        base = policy.max_delay
    return base * (1 + policy.jitter * (2 * rand - 1))


def next_attempt(
    policy: RetryPolicy,
    *,
    failures: int,
    first_attempt_at: datetime,
    now: datetime,
    rand: float,
    not_before: datetime | None = None,
) -> datetime | None:
    """When to try again after the `failures`-th consecutive failure at `now`; None to give up.

    `not_before` is the receiver's Retry-After (see `retry_after`, capped by the caller); it can postpone
    the attempt but not beyond the window. The attempt may fall exactly at the window's end, not after.
    """
    at = now + timedelta(seconds=retry_delay(policy, failures, rand))
    if not_before is not None and not_before > at:
        at = not_before
    if at > first_attempt_at + timedelta(seconds=policy.window):
        return None
    return at


def is_retryable(status: int | None) -> bool:
    """Whether a failed attempt (None: timeout or connection error) is worth repeating.

    5xx, 408, 409, 425 and 429 are passing troubles. Other 4xx will not change by asking again: 410 Gone
    in particular is the receiver saying the endpoint is removed, so the delivery fails at once. 3xx count
    as failures too (redirects are not followed) and are not retried: the URL needs fixing. 2xx is success,
    which the caller handles before asking.
    """
    if status is None:
        return True
    return status in _RETRYABLE_4XX or 500 <= status <= 599


def retry_after(header: str | None, now: datetime) -> datetime | None:
    """The moment a Retry-After header (delay in seconds or an HTTP-date) names; None if absent or garbage.

    A date in the past means "now". The caller caps the wait at the policy's `max_delay`.
    """
    if header is None:
        return None
    text = header.strip()
    if _DELAY_SECONDS.fullmatch(text):
        # Long digit strings are clamped before int(), which refuses over 4300 digits.
        seconds = int(text) if len(text) <= 12 else _MAX_RETRY_AFTER
        return now + timedelta(seconds=min(seconds, _MAX_RETRY_AFTER))
    try:
        when = parsedate_to_datetime(text)
        if when.tzinfo is None:  # "-0000": no zone said; HTTP-dates are always GMT
            when = when.replace(tzinfo=UTC)
        when = when.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(when, now)
