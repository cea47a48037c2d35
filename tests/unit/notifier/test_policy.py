"""Properties of the notifier's policy, checked on generated inputs.

- Retry delays never shrink as failures add up (for a fixed rand) and stay within the jitter of the base.
- `next_attempt` never schedules beyond the window, nor before now (or the receiver's Retry-After).
- Matching is monotone in severity: what matches at one severity matches at every higher one.
- The breaker's state stays coherent whatever happens to the target.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import services.notifier.policy as policy
from services.notifier.policy import (
    Breaker,
    CompanyFacts,
    Decision,
    Match,
    RetryPolicy,
    Silence,
    allow,
    decide,
    matches,
    next_attempt,
    record_failure,
    record_success,
    retry_delay,
)
from shared.schemas import Category, Severity, SignalName

from .policy_builders import COMPANY, NOW, OTHER_COMPANY, signal

policies = st.builds(
    RetryPolicy,
    first_delay=st.floats(0.01, 100),
    factor=st.floats(1, 10),
    max_delay=st.floats(100, 100_000),
    window=st.floats(1, 10 * 86400),
    jitter=st.floats(0, 0.99),
)
rands = st.floats(0, 1)
failure_counts = st.integers(1, 2000)


def base_delay(p: RetryPolicy, failures: int) -> float:
    """The un-jittered delay, grown step by step (not by a power, unlike the code under test)."""
    delay = p.first_delay
    for _ in range(min(failures - 1, 2000)):
        delay = min(delay * p.factor, p.max_delay)
    return delay


@given(policies, failure_counts, rands)
def test_delays_never_shrink_as_failures_add_up(p: RetryPolicy, failures: int, rand: float) -> None:
    assert retry_delay(p, failures, rand) <= retry_delay(p, failures + 1, rand)


@given(policies, failure_counts, rands)
def test_delays_stay_within_the_jitter_of_the_base(p: RetryPolicy, failures: int, rand: float) -> None:
    base = base_delay(p, failures)
    slack = 1e-9 * base
    assert base * (1 - p.jitter) - slack <= retry_delay(p, failures, rand) <= base * (1 + p.jitter) + slack


@given(
    p=policies,
    failures=failure_counts,
    rand=rands,
    elapsed=st.floats(0, 20 * 86400),
    retry_after=st.none() | st.floats(0, 20 * 86400),
)
def test_next_attempt_stays_within_the_window(
    p: RetryPolicy, failures: int, rand: float, elapsed: float, retry_after: float | None
) -> None:
    now = NOW + timedelta(seconds=elapsed)
    not_before = None if retry_after is None else now + timedelta(seconds=retry_after)
    at = next_attempt(p, failures=failures, first_attempt_at=NOW, now=now, rand=rand, not_before=not_before)
    if at is not None:
        assert now < at <= NOW + timedelta(seconds=p.window)
        assert not_before is None or at >= not_before


def optional_list(values: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any] | None]:
    return st.none() | st.lists(values, min_size=1, max_size=4)


segments = st.sampled_from(["horeca", "Horeca ", "key accounts", "KEY ACCOUNTS", "retail"])
managers = st.sampled_from(["an@example.com", "AN@example.com", "jan@example.com"])
companies = st.sampled_from([COMPANY, OTHER_COMPANY])

match_objects = st.builds(
    Match,
    min_severity=st.none() | st.sampled_from(Severity),
    categories=optional_list(st.sampled_from(Category)),
    signals=optional_list(st.sampled_from(SignalName)),
    segments=optional_list(segments),
    account_managers=optional_list(managers),
    company_ids=optional_list(companies),
)
facts = st.none() | st.builds(
    CompanyFacts, segment=st.none() | segments, account_manager=st.none() | managers
)


@given(
    match=match_objects,
    company=facts,
    company_id=companies,
    name=st.sampled_from(SignalName),
    category=st.sampled_from(Category),
    severity=st.sampled_from(Severity),
)
def test_matching_is_monotone_in_severity(
    match: Match,
    company: CompanyFacts | None,
    company_id: str,
    name: SignalName,
    category: Category,
    severity: Severity,
) -> None:
    base = signal(company_id=company_id, signal=name, category=category)
    if matches(match, base.model_copy(update={"severity": severity}), company):
        for higher in Severity:
            if higher >= severity:
                assert matches(match, base.model_copy(update={"severity": higher}), company)


@given(
    match=match_objects,
    company=facts,
    severity=st.sampled_from(Severity),
    name=st.sampled_from(SignalName),
    bankrupt=st.booleans(),
    silenced=st.booleans(),
)
def test_only_a_matched_unsilenced_uninhibited_signal_goes_out(
    match: Match,
    company: CompanyFacts | None,
    severity: Severity,
    name: SignalName,
    bankrupt: bool,
    silenced: bool,
) -> None:
    s = signal(signal=name, severity=severity)
    silences = [Silence(id="sil_1", company_id=COMPANY, signal=None, ends_at=NOW + timedelta(hours=1))]
    decision = decide(
        s,
        mode="immediate",
        match=match,
        company=company,
        silences=silences if silenced else [],
        bankrupt=bankrupt,
        now=NOW,
    )
    goes_out = matches(match, s, company) and not silenced and not policy.inhibited(s, bankrupt)
    assert (decision is Decision.DELIVER) is goes_out


# Failures weigh more than successes, so that the breaker opens and backs off often.
events = st.lists(
    st.tuples(
        st.sampled_from(["allow", "allow", "failure", "failure", "failure", "success"]),
        st.sampled_from([0, 1, 29, 30, 60, 120, 240, 480, 600]) | st.floats(0, 700),
    ),
    max_size=80,
)


@given(events)
def test_the_breaker_stays_coherent(steps: list[tuple[str, float]]) -> None:
    b, now = Breaker.closed(), NOW
    for step, wait in steps:
        now += timedelta(seconds=wait)
        if step == "allow":
            before = b
            allowed, b = allow(b, now)
            if before.state == "closed":
                assert allowed
            elif allowed:  # a probe: the next request at the same moment must wait for it
                assert b.state == "half_open"
                assert allow(b, now) == (False, b)
        elif step == "success":
            b = record_success(b)
        else:
            b = record_failure(b, now)
        check(b, now)


def check(b: Breaker, now: datetime) -> None:
    if b.state == "closed":
        assert b.opened_until is None
        assert 0 <= b.failures < 5
    else:
        assert b.opened_until is not None
        assert b.failures >= 5
        assert 30.0 <= b.cooldown <= 600.0
        assert b.opened_until <= now + timedelta(seconds=b.cooldown)


def test_the_package_exports_what_it_says() -> None:
    for name in policy.__all__:
        assert getattr(policy, name) is not None
