"""parent_distress, distress_reported_by_sales and growth_opportunity."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.signals.rules import Context, ParentState, WalletGap, rules_from_mapping
from shared.schemas import Category, Severity

from .builders import AS_OF, PARENT, ago, bureau, ids, obs, one, order, paying, pub, run

# --- parent_distress ------------------------------------------------------------------------------------


def _parent(share: float, *risks: tuple[str, Severity], since: datetime | None = None) -> Context:
    return Context(parents=[ParentState(PARENT, share, list(risks), name="Holding NV", since=since)])


def test_a_majority_parent_in_distress_raises_parent_distress() -> None:
    since = ago(20)
    stake = bureau("shareholder_change", ago(400), parent_company_id=PARENT, share_pct=75)
    context = _parent(75, ("bankruptcy", Severity.CRITICAL), ("tax_debt", Severity.HIGH), since=since)
    finding = one([stake], "parent_distress", context=context)
    assert finding is not None
    assert finding.severity is Severity.HIGH
    assert finding.since == since
    assert ids(finding) == {f"{PARENT}/bankruptcy", f"{PARENT}/tax_debt", stake.id}
    assert {proof.source for proof in finding.evidence} == {"signal", "bureau"}
    assert finding.summary == (
        f"The parent company is in distress: Holding NV ({PARENT}), holding 75 % of the shares, has "
        "a critical bankruptcy signal and a high tax debt signal open."
    )


@pytest.mark.parametrize(("share", "raised"), [(50, True), (49.9, False)])
def test_the_parent_must_hold_at_least_50_percent(share: float, raised: bool) -> None:
    finding = one([], "parent_distress", context=_parent(share, ("tax_debt", Severity.HIGH)))
    assert (finding is not None) is raised


def test_a_parent_with_only_medium_risk_is_not_in_distress() -> None:
    context = _parent(100, ("payment_behaviour", Severity.MEDIUM), ("score_drop", Severity.MEDIUM))
    assert one([], "parent_distress", context=context) is None
    assert one([], "parent_distress", context=_parent(100)) is None


def test_the_share_threshold_is_configurable() -> None:
    rules = rules_from_mapping({"parent_distress": {"min_share_pct": 30}})
    context = _parent(40, ("bankruptcy", Severity.CRITICAL))
    assert one([], "parent_distress", context=context) is None
    assert one([], "parent_distress", context=context, config=rules) is not None


def test_without_since_the_parent_evidence_is_dated_as_of() -> None:
    finding = one([], "parent_distress", context=_parent(60, ("bankruptcy", Severity.CRITICAL)))
    assert finding is not None
    assert finding.since == AS_OF


# --- distress_reported_by_sales -------------------------------------------------------------------------


def test_two_distinct_distress_reports_within_90_days_raise_it() -> None:
    events = [obs("late_payment_suppliers", ago(40)), obs("headcount_decline", ago(5))]
    finding = one(events, "distress_reported_by_sales")
    assert finding is not None
    assert (finding.category, finding.severity) == (Category.RISK, Severity.MEDIUM)
    assert finding.since == events[1].at
    assert finding.summary == (
        "Sales reported 2 signs of distress in the last 90 days (suppliers paid late and fewer people at the "
        "company)."
    )


def test_the_same_kind_from_two_reporters_is_distinct() -> None:
    events = [
        obs("management_unreachable", ago(40), reporter="a"),
        obs("management_unreachable", ago(5), reporter="b"),
    ]
    assert one(events, "distress_reported_by_sales") is not None


def test_the_same_kind_from_the_same_reporter_is_not_distinct() -> None:
    events = [
        obs("late_payment_employees", ago(40), reporter="A@x"),
        obs("late_payment_employees", ago(5), reporter="a@X "),
    ]
    assert one(events, "distress_reported_by_sales") is None


def test_reports_more_than_90_days_apart_do_not_add_up() -> None:
    events = [obs("late_payment_suppliers", ago(90)), obs("headcount_decline", ago(1))]
    assert one(events, "distress_reported_by_sales") is None


def test_opportunity_reports_are_not_distress() -> None:
    events = [obs("growth", ago(40)), obs("headcount_decline", ago(5))]
    assert one(events, "distress_reported_by_sales") is None


@pytest.mark.parametrize(
    ("official_days_ago", "severity"),
    [
        (30, Severity.HIGH),  # between the reports
        (110, Severity.HIGH),  # 90 days before the first report (20 days ago)
        (111, Severity.MEDIUM),  # just more than 90 days before it
    ],
)
def test_an_open_bureau_risk_near_the_reports_escalates_it(
    official_days_ago: int, severity: Severity
) -> None:
    debt = bureau("tax_debt", ago(official_days_ago), amount_eur=5000)
    events = [obs("late_payment_suppliers", ago(20)), obs("headcount_decline", ago(10)), debt]
    finding = one(events, "distress_reported_by_sales")
    assert finding is not None
    assert finding.severity is severity
    if severity is Severity.HIGH:
        assert debt.id in finding.evidence_ids
        assert finding.summary.endswith(", while the tax debt signal is open.")


def test_a_gazette_risk_escalates_it() -> None:
    events = [
        obs("late_payment_suppliers", ago(20)),
        obs("headcount_decline", ago(10)),
        pub(ago(15), "dissolution"),
    ]
    finding = one(events, "distress_reported_by_sales")
    assert finding is not None
    assert finding.severity is Severity.HIGH


def test_a_closed_risk_does_not_escalate_it() -> None:
    # The payment report is recent, but the latest one is fine: no signal is open.
    events = [
        obs("late_payment_suppliers", ago(20)),
        obs("headcount_decline", ago(10)),
        paying(ago(30), 45),
        paying(ago(25), 10),
    ]
    finding = one(events, "distress_reported_by_sales")
    assert finding is not None
    assert finding.severity is Severity.MEDIUM


def test_sales_distress_is_resolved_when_reports_leave_the_window() -> None:
    events = [obs("late_payment_suppliers", ago(40)), obs("headcount_decline", ago(5))]
    assert one(events, "distress_reported_by_sales", as_of=ago(-51)) is None


# --- growth_opportunity ---------------------------------------------------------------------------------


def test_growth_reports_raise_growth_opportunity() -> None:
    events = [obs("expansion_plans", ago(179)), obs("new_product_interest", ago(3))]
    finding = one(events, "growth_opportunity")
    assert finding is not None
    assert (finding.category, finding.severity) == (Category.OPPORTUNITY, Severity.INFO)
    assert finding.summary == (
        "Sales reported expansion plans and interest in new products in the last 180 days, and no risk signal is open."
    )


def test_a_growth_report_older_than_180_days_does_not() -> None:
    assert one([obs("growth", ago(180))], "growth_opportunity") is None


def test_an_open_medium_risk_blocks_growth_opportunity() -> None:
    assert one([obs("growth", ago(3)), paying(ago(1), 30)], "growth_opportunity") is None
    assert one([obs("growth", ago(3)), paying(ago(1), 29)], "growth_opportunity") is not None


def gaps(computed_at: datetime, *lines: tuple[str, float, int]) -> Context:
    return Context(
        wallet_gaps=[
            WalletGap(line, share, Decimal(potential), computed_at) for line, share, potential in lines
        ]
    )


def test_a_share_of_wallet_gap_raises_growth_opportunity_with_the_latest_order() -> None:
    first, latest = order(ago(200), 500), order(ago(30), 800)
    context = gaps(ago(1), ("labels", 0.62, 4100), ("film", 0.4, 1250), ("tape", 0.35, 4100))
    finding = one([first, latest], "growth_opportunity", context=context)
    assert finding is not None
    assert finding.summary == (
        "Customers of its segment also buy labels (62% of them, about €4,100 a year), tape (35% of them, "
        "about €4,100 a year) and film (40% of them, about €1,250 a year), which it does not, and no risk "
        "signal is open."
    )
    assert ids(finding) == {latest.id}
    assert finding.since == ago(1)
    # With a sales report too: both parts, both kinds of evidence, since the earlier of the two.
    report = obs("growth", ago(10))
    both = one([first, latest, report], "growth_opportunity", context=context)
    assert both is not None
    assert both.summary.startswith("Sales reported growth in the last 180 days; customers of its segment")
    assert ids(both) == {latest.id, report.id}
    assert both.since == ago(10)


def test_a_wallet_gap_counts_only_within_the_window_and_with_an_order() -> None:
    fresh = gaps(ago(1), ("labels", 0.5, 100))
    assert one([order(ago(30))], "growth_opportunity", context=gaps(ago(181), ("labels", 0.5, 100))) is None
    # Judged as of a time before the analysis: the analysis did not exist yet.
    assert one([order(ago(30))], "growth_opportunity", context=fresh, as_of=ago(2)) is None
    assert one([], "growth_opportunity", context=fresh) is None
    # An open medium risk blocks it as it blocks the reports.
    assert one([order(ago(30)), paying(ago(1), 30)], "growth_opportunity", context=fresh) is None


def test_distress_reported_by_sales_blocks_growth_opportunity() -> None:
    events = [
        obs("growth", ago(3)),
        obs("late_payment_suppliers", ago(20)),
        obs("headcount_decline", ago(10)),
    ]
    assert one(events, "growth_opportunity") is None


def test_a_retention_signal_does_not_block_growth_opportunity() -> None:
    found = run([obs("growth", ago(3)), order(datetime(2022, 1, 1, tzinfo=UTC))])
    assert "churn_risk" in found
    assert "growth_opportunity" in found
