"""A circuit breaker per delivery target (host:port), as pure state transitions.

Closed: deliveries go out and consecutive failures are counted; at the threshold the breaker opens for a
cooldown, sparing a dead receiver (and our workers) the traffic. When the cooldown is over one probe goes
out (half open): its success closes the breaker, its failure reopens it for twice as long, up to a maximum.
Times come from the caller (aware, UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

__all__ = ["Breaker", "BreakerState", "allow", "record_failure", "record_success"]

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True)
class Breaker:
    """The state of one target's breaker.

    `failures` counts consecutive failures; `cooldown` is how long (seconds) the breaker was last opened
    for, 0 since the last success. `opened_until` is when an open breaker lets a probe through; while half
    open, when the probe is taken for lost (never reported) and another may go.
    """

    state: BreakerState
    failures: int
    opened_until: datetime | None
    cooldown: float

    @classmethod
    def closed(cls) -> Breaker:
        """A breaker letting everything through, as for a target not seen before."""
        return cls(state="closed", failures=0, opened_until=None, cooldown=0.0)


def allow(b: Breaker, now: datetime) -> tuple[bool, Breaker]:
    """Whether a delivery may go to the target at `now`, and the breaker after that decision."""
    if b.state == "closed":
        return True, b
    if b.opened_until is not None and now < b.opened_until:
        return False, b
    # Open and cooled down, or half open with its probe lost: one probe, the others wait for its outcome.
    return True, replace(b, state="half_open", opened_until=now + timedelta(seconds=b.cooldown))


def record_success(b: Breaker) -> Breaker:
    """The breaker after a delivery to the target succeeded: the target works, so close it."""
    return Breaker.closed()


def record_failure(
    b: Breaker,
    now: datetime,
    *,
    threshold: int = 5,
    base_cooldown: float = 30.0,
    max_cooldown: float = 600.0,
) -> Breaker:
    """The breaker after a delivery to the target failed at `now`."""
    if threshold < 1 or not 0 < base_cooldown <= max_cooldown:
        raise ValueError("threshold must be at least 1 and 0 < base_cooldown <= max_cooldown")
    failures = b.failures + 1
    if b.state == "closed":
        if failures < threshold:
            return replace(b, failures=failures)
        return _open(failures, now, base_cooldown)
    if b.state == "half_open":
        return _open(failures, now, min(max(b.cooldown, base_cooldown) * 2, max_cooldown))
    # Open: a delivery sent before it opened failed late; that does not lengthen the cooldown.
    return replace(b, failures=failures)


def _open(failures: int, now: datetime, cooldown: float) -> Breaker:
    return Breaker(
        state="open", failures=failures, opened_until=now + timedelta(seconds=cooldown), cooldown=cooldown
    )
