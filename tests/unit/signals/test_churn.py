"""churn_risk: a customer that stops ordering (recency against the same period last year)."""

from __future__ import annotations

from datetime import timedelta

from services.signals.rules import SourceEvent, rules_from_mapping
from shared.schemas import Category, Severity

from .builders import AS_OF, ago, ids, one, order


def _monthly(last_days_ago: int, months: int = 20) -> list[SourceEvent]:
    """An order a month, the last one `last_days_ago`."""
    return [order(ago(last_days_ago + 30 * month)) for month in reversed(range(months))]


def test_a_customer_who_ordered_last_year_but_not_this_period_raises_churn_risk() -> None:
    orders = _monthly(120)
    finding = one(orders, "churn_risk")
    assert finding is not None
    assert (finding.category, finding.severity) == (Category.RETENTION, Severity.MEDIUM)
    assert ids(finding) == {orders[-1].id}
    assert finding.summary == (
        "The customer has not ordered for 120 days (last order on 2025-06-17): it missed the period in which it "
        "ordered a year earlier."
    )
    # It held from 90 days after the last order.
    assert finding.since == orders[-1].at + timedelta(days=90)


def test_an_order_in_the_last_90_days_means_no_churn() -> None:
    assert one([*_monthly(120), order(ago(89))], "churn_risk") is None


def test_the_last_90_days_end_at_as_of() -> None:
    orders = [*_monthly(120), order(ago(90))]
    assert one(orders, "churn_risk") is not None


def test_no_orders_no_churn_risk() -> None:
    assert one([], "churn_risk") is None


def test_a_single_order_364_days_ago_is_not_yet_churn() -> None:
    assert one([order(ago(364))], "churn_risk") is None
    assert one([order(ago(365))], "churn_risk") is not None


def test_a_customer_without_an_order_in_last_years_period_is_not_churning_yet() -> None:
    # Ordered 300 and 200 days ago: nothing in (as_of - 455, as_of - 365], last order well within 2 years.
    assert one([order(ago(300)), order(ago(200))], "churn_risk") is None


def test_no_order_for_2_years_raises_churn_risk() -> None:
    finding = one(_monthly(800), "churn_risk")
    assert finding is not None
    assert (
        finding.summary
        == "The customer has not ordered for 800 days, at least 2 years (last order on 2023-08-07)."
    )


def test_the_silence_threshold_is_configurable() -> None:
    quick = rules_from_mapping({"churn_risk": {"period_days": 0, "silent_years": 1}})
    assert one([order(ago(364))], "churn_risk", config=quick) is None
    finding = one([order(ago(366))], "churn_risk", config=quick)
    assert finding is not None
    assert "at least 1 year (" in finding.summary


def test_churn_risk_stays_open_until_a_new_order() -> None:
    # 460 days after the only order, neither "last year's period" nor "2 years" holds any more at as_of,
    # but the signal held since day 365 and only a new order closes it.
    lone = order(ago(460))
    finding = one([lone], "churn_risk")
    assert finding is not None
    assert finding.since == lone.at + timedelta(days=365)
    assert one([lone, order(ago(1))], "churn_risk") is None


def test_an_order_after_as_of_does_not_resolve_it_yet() -> None:
    orders = [*_monthly(120), order(AS_OF + timedelta(days=1))]
    assert one(orders, "churn_risk") is not None
