"""The circuit breaker per target: its transitions one by one and through full cycles."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.notifier.policy import Breaker, allow, record_failure, record_success

from .policy_builders import NOW

TICK = timedelta(microseconds=1)


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def failed(
    times: int,
    b: Breaker | None = None,
    *,
    threshold: int = 5,
    base_cooldown: float = 30.0,
    max_cooldown: float = 600.0,
) -> Breaker:
    """`b` (a closed breaker by default) after `times` failures at NOW."""
    b = b or Breaker.closed()
    for _ in range(times):
        b = record_failure(
            b, NOW, threshold=threshold, base_cooldown=base_cooldown, max_cooldown=max_cooldown
        )
    return b


def opened(cooldown: float = 30.0) -> Breaker:
    return Breaker(state="open", failures=5, opened_until=NOW + seconds(cooldown), cooldown=cooldown)


def test_a_new_breaker_is_closed() -> None:
    assert Breaker.closed() == Breaker(state="closed", failures=0, opened_until=None, cooldown=0.0)


def test_a_closed_breaker_allows_and_stays_as_it_is() -> None:
    b = failed(3)
    assert allow(b, NOW) == (True, b)


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_failures_below_the_threshold_are_counted(count: int) -> None:
    assert failed(count) == Breaker(state="closed", failures=count, opened_until=None, cooldown=0.0)


def test_the_threshold_th_failure_opens_it_for_the_base_cooldown() -> None:
    assert failed(5) == opened(30.0)


def test_a_success_resets_the_count_of_consecutive_failures() -> None:
    b = record_success(failed(4))
    assert b == Breaker.closed()
    assert failed(4, b).state == "closed"


@pytest.mark.parametrize(
    ("at", "allowed"), [(NOW, False), (NOW + seconds(29), False), (NOW + seconds(30) - TICK, False)]
)
def test_an_open_breaker_refuses_until_the_cooldown_is_over(at: datetime, allowed: bool) -> None:
    b = opened()
    assert allow(b, at) == (allowed, b)


@pytest.mark.parametrize("after", [seconds(30), seconds(31), seconds(3600)])
def test_after_the_cooldown_one_probe_goes(after: timedelta) -> None:
    now = NOW + after
    allowed, b = allow(opened(), now)
    assert allowed
    assert b == Breaker(state="half_open", failures=5, opened_until=now + seconds(30), cooldown=30.0)
    # The others wait for the probe's outcome.
    assert allow(b, now) == (False, b)
    assert allow(b, now + seconds(29)) == (False, b)


def test_a_lost_probe_lets_another_go_after_a_cooldown() -> None:
    _, half_open = allow(opened(), NOW + seconds(30))
    allowed, b = allow(half_open, NOW + seconds(60))
    assert allowed
    assert b == Breaker(state="half_open", failures=5, opened_until=NOW + seconds(90), cooldown=30.0)


def test_a_successful_probe_closes_it() -> None:
    _, b = allow(opened(), NOW + seconds(30))
    assert record_success(b) == Breaker.closed()


@pytest.mark.parametrize(
    ("cooldown", "doubled"), [(30, 60), (60, 120), (240, 480), (300, 600), (480, 600), (600, 600)]
)
def test_a_failed_probe_reopens_it_for_twice_as_long_up_to_the_maximum(
    cooldown: float, doubled: float
) -> None:
    _, b = allow(opened(cooldown), NOW + seconds(cooldown))
    later = NOW + seconds(cooldown + 1)
    assert record_failure(b, later) == Breaker(
        state="open", failures=6, opened_until=later + seconds(doubled), cooldown=doubled
    )


def test_a_late_failure_while_open_does_not_lengthen_it() -> None:
    b = record_failure(opened(), NOW + seconds(10))
    assert b == Breaker(state="open", failures=6, opened_until=NOW + seconds(30), cooldown=30.0)


def test_a_late_success_while_open_closes_it() -> None:
    assert record_success(opened()) == Breaker.closed()


def test_custom_settings() -> None:
    b = failed(1, threshold=1, base_cooldown=10.0, max_cooldown=15.0)
    assert (b.state, b.opened_until) == ("open", NOW + seconds(10))
    _, b = allow(b, NOW + seconds(10))
    b = failed(1, b, threshold=1, base_cooldown=10.0, max_cooldown=15.0)
    assert (b.state, b.cooldown, b.opened_until) == ("open", 15.0, NOW + seconds(15))


@pytest.mark.parametrize(
    ("threshold", "base_cooldown", "max_cooldown"), [(0, 30.0, 600.0), (5, 0.0, 600.0), (5, 60.0, 30.0)]
)
def test_nonsensical_settings_are_refused(threshold: int, base_cooldown: float, max_cooldown: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        failed(1, threshold=threshold, base_cooldown=base_cooldown, max_cooldown=max_cooldown)


def test_a_full_cycle() -> None:
    b = Breaker.closed()
    now = NOW
    # Closed: four failures are tolerated, the fifth opens it for 30 s.
    for _ in range(5):
        allowed, b = allow(b, now)
        assert allowed
        b = record_failure(b, now)
    assert (b.state, b.cooldown) == ("open", 30.0)
    assert allow(b, now + seconds(29))[0] is False
    # Cooled down: a probe, which fails: open for 60 s.
    now += seconds(30)
    allowed, b = allow(b, now)
    assert allowed
    assert b.state == "half_open"
    b = record_failure(b, now)
    assert (b.state, b.cooldown, b.opened_until) == ("open", 60.0, now + seconds(60))
    assert allow(b, now + seconds(59))[0] is False
    # Probes keep failing: 120, 240, 480, then 600 s at most.
    for expected in (120.0, 240.0, 480.0, 600.0, 600.0):
        now = b.opened_until or now
        allowed, b = allow(b, now)
        assert allowed
        b = record_failure(b, now)
        assert b.cooldown == expected
    # The target recovers: the probe succeeds and it closes, cooldown reset.
    now = b.opened_until or now
    allowed, b = allow(b, now)
    assert allowed
    b = record_success(b)
    assert b == Breaker.closed()
    assert allow(b, now) == (True, b)
    # Failing again starts from the base cooldown.
    b = failed(5, b)
    assert b.cooldown == 30.0
