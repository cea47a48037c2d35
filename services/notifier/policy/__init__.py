"""The pure decision core of the notifier: who gets a signal, when to retry, when to hold back a target.

No I/O and no clock here: the caller passes the time (aware, UTC) and the randomness, then

    decision = decide(signal, mode=..., match=..., company=..., silences=..., bankrupt=..., now=now)
    ok, breaker = allow(breaker, now)               # per target host:port; False: not now
    ...                                             # deliver, then on success:
    breaker = record_success(breaker)               # or on failure:
    breaker = record_failure(breaker, now)
    if is_retryable(status):                        # else the delivery is failed at once
        at = next_attempt(policy, failures=n, first_attempt_at=t0, now=now, rand=rng.random())
        # at None: past the window, the delivery is failed
"""

from __future__ import annotations

from .breaker import Breaker, BreakerState, allow, record_failure, record_success
from .decision import Decision, Mode, Silence, decide, inhibited, silenced_by
from .matching import MAX_MATCH_ITEMS, CompanyFacts, Match, matches
from .retry import RetryPolicy, is_retryable, next_attempt, retry_after, retry_delay

__all__ = [
    "MAX_MATCH_ITEMS",
    "Breaker",
    "BreakerState",
    "CompanyFacts",
    "Decision",
    "Match",
    "Mode",
    "RetryPolicy",
    "Silence",
    "allow",
    "decide",
    "inhibited",
    "is_retryable",
    "matches",
    "next_attempt",
    "record_failure",
    "record_success",
    "retry_after",
    "retry_delay",
    "silenced_by",
]
