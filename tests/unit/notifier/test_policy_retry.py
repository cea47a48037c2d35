"""Retries: the backoff table, the give-up boundary, retryable statuses and Retry-After."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from services.notifier.policy import RetryPolicy, is_retryable, next_attempt, retry_after, retry_delay

from .policy_builders import NOW

POLICY = RetryPolicy()
WINDOW = timedelta(seconds=POLICY.window)
TICK = timedelta(microseconds=1)

# Base delays after the 1st to 12th consecutive failure: doubling from 5 s, capped at an hour.
BASES = [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]


@pytest.mark.parametrize(("failures", "base"), list(enumerate(BASES, start=1)))
@pytest.mark.parametrize(("rand", "spread"), [(0.0, 0.8), (0.5, 1.0), (1.0, 1.2)])
def test_the_delay_doubles_up_to_the_cap_with_jitter(
    failures: int, base: int, rand: float, spread: float
) -> None:
    assert retry_delay(POLICY, failures, rand) == pytest.approx(base * spread)
    at = next_attempt(POLICY, failures=failures, first_attempt_at=NOW, now=NOW, rand=rand)
    assert at == NOW + timedelta(seconds=base * spread)


def test_the_jitter_is_linear_in_rand() -> None:
    assert retry_delay(POLICY, 1, 0.25) == pytest.approx(4.5)
    assert retry_delay(POLICY, 1, 0.75) == pytest.approx(5.5)


def test_no_jitter_gives_the_exact_base() -> None:
    exact = RetryPolicy(jitter=0.0)
    assert [retry_delay(exact, n, rand) for n in (1, 2, 3) for rand in (0.0, 1.0)] == [5, 5, 10, 10, 20, 20]


def test_a_custom_policy() -> None:
    policy = RetryPolicy(first_delay=1, factor=3, max_delay=50, window=600, jitter=0)
    assert [retry_delay(policy, n, 0.5) for n in range(1, 7)] == [1, 3, 9, 27, 50, 50]


def test_a_huge_failure_count_stays_at_the_cap() -> None:
    assert retry_delay(POLICY, 100_000, 0.5) == POLICY.max_delay


@pytest.mark.parametrize(("failures", "rand"), [(0, 0.5), (-1, 0.5), (1, -0.01), (1, 1.01)])
def test_out_of_range_arguments_are_refused(failures: int, rand: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        retry_delay(POLICY, failures, rand)


@pytest.mark.parametrize(
    "settings",
    [
        {"first_delay": 0},
        {"first_delay": -1},
        {"first_delay": 10, "max_delay": 5},
        {"factor": 0.5},
        {"window": 0},
        {"jitter": -0.1},
        {"jitter": 1.0},
    ],
)
def test_a_nonsensical_policy_is_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RetryPolicy(**settings)


# --- the window ------------------------------------------------------------------------------------------


def test_an_attempt_exactly_at_the_end_of_the_window_still_goes() -> None:
    first = NOW - WINDOW + timedelta(seconds=5)  # the next attempt, 5 s from now, lands on the window's end
    at = next_attempt(POLICY, failures=1, first_attempt_at=first, now=NOW, rand=0.5)
    assert at == first + WINDOW


def test_an_attempt_after_the_end_of_the_window_is_given_up() -> None:
    first = NOW - WINDOW + timedelta(seconds=5) - TICK
    assert next_attempt(POLICY, failures=1, first_attempt_at=first, now=NOW, rand=0.5) is None


@pytest.mark.parametrize(("rand", "expected"), [(0.0, True), (1.0, False)])
def test_the_jitter_can_decide_the_boundary(rand: float, expected: bool) -> None:
    first = NOW - WINDOW + timedelta(seconds=5)  # 4 s (rand 0) fits, 6 s (rand 1) does not
    at = next_attempt(POLICY, failures=1, first_attempt_at=first, now=NOW, rand=rand)
    assert (at is not None) is expected


def test_a_day_of_retries_ends_in_failure() -> None:
    attempts, now, failures = [NOW], NOW, 0
    while True:
        failures += 1
        at = next_attempt(POLICY, failures=failures, first_attempt_at=NOW, now=now, rand=0.5)
        if at is None:
            break
        attempts.append(at)
        now = at
    gaps = [int((b - a).total_seconds()) for a, b in itertools.pairwise(attempts)]
    assert gaps[:11] == BASES[:11]
    assert set(gaps[10:]) == {3600}
    assert attempts[-1] <= NOW + WINDOW < attempts[-1] + timedelta(hours=1)
    # The first attempt, 10 backing off (5 s to 2560 s: 85 min in all), then 22 hourly ones.
    assert len(attempts) == 1 + 10 + 22


# --- Retry-After ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rand", "not_before", "expected"),
    [
        # later than the backoff: wait for it
        (0.5, NOW + timedelta(seconds=120), NOW + timedelta(seconds=120)),
        # sooner than the backoff: the backoff stands
        (0.5, NOW + timedelta(seconds=1), NOW + timedelta(seconds=5)),
        (0.5, NOW, NOW + timedelta(seconds=5)),
        # exactly at the window's end: still goes; after it: given up
        (0.5, NOW + WINDOW, NOW + WINDOW),
        (0.5, NOW + WINDOW + TICK, None),
    ],
)
def test_not_before_postpones_within_the_window(
    rand: float, not_before: datetime, expected: datetime | None
) -> None:
    at = next_attempt(POLICY, failures=1, first_attempt_at=NOW, now=NOW, rand=rand, not_before=not_before)
    assert at == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        # delay in seconds
        ("120", NOW + timedelta(seconds=120)),
        ("0", NOW),
        (" 30 ", NOW + timedelta(seconds=30)),
        ("0007", NOW + timedelta(seconds=7)),
        ("9" * 5000, NOW + timedelta(days=366)),  # absurd: clamped, no overflow
        # HTTP-date in its three forms (IMF-fixdate, RFC 850, asctime), and other zones
        ("Sun, 19 Oct 2025 07:28:00 GMT", datetime(2025, 10, 19, 7, 28, tzinfo=UTC)),
        ("Sunday, 19-Oct-25 07:28:00 GMT", datetime(2025, 10, 19, 7, 28, tzinfo=UTC)),
        ("Sun Oct 19 07:28:00 2025", datetime(2025, 10, 19, 7, 28, tzinfo=UTC)),
        ("Sun, 19 Oct 2025 09:28:00 +0200", datetime(2025, 10, 19, 7, 28, tzinfo=UTC)),
        ("Sun, 19 Oct 2025 07:28:00 -0000", datetime(2025, 10, 19, 7, 28, tzinfo=UTC)),
        # a date in the past: now
        ("Wed, 21 Oct 2015 07:28:00 GMT", NOW),
        # garbage
        ("", None),
        ("   ", None),
        ("soon", None),
        ("-5", None),
        ("+5", None),
        ("1.5", None),
        ("12 seconds", None),
        ("²", None),
        ("Mon, 32 Oct 2025 07:28:00 GMT", None),
        ("Sun, 19 Oct 99999 07:28:00 GMT", None),
    ],
)
def test_retry_after_reads_seconds_or_a_date(header: str | None, expected: datetime | None) -> None:
    assert retry_after(header, NOW) == expected


def test_retry_after_answers_in_utc() -> None:
    found = retry_after("Sun, 19 Oct 2025 09:28:00 +0200", NOW)
    assert found is not None
    assert found.utcoffset() == timedelta(0)


# --- statuses -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (None, True),  # timeout, connection refused, TLS error...
        (408, True),
        (409, True),
        (425, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (599, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (405, False),
        (410, False),  # Gone: the receiver removed the endpoint, fail at once
        (413, False),
        (422, False),
        (499, False),
        (200, False),
        (204, False),
        (301, False),
        (307, False),
        (100, False),
        (600, False),
    ],
)
def test_which_statuses_are_retried(status: int | None, retry: bool) -> None:
    assert is_retryable(status) is retry
