"""The pure routing of a batch: which deliveries a batch of signal events and portfolio entries makes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.notifier.consumer import Route, SignalEvent, route, target_of
from services.notifier.policy import Match, Silence
from services.notifier.store import CompanyRow, SubscriptionRecord, delivery_id
from shared.schemas import PortfolioEntry, Signal, example_of

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
COMPANY = "BE0403170701"


def event(n: int, signal: str = "score_drop", severity: str = "high", status: str = "open") -> SignalEvent:
    data: dict[str, Any] = {**example_of(Signal), "id": f"sig_{n}", "signal": signal, "severity": severity}
    data["status"] = status
    return SignalEvent(f"sev_{n}", "earlywarning.signal.raised", Signal.model_validate(data))


def subscription(id_: str, mode: str = "immediate", **match: Any) -> Route:
    record = SubscriptionRecord(
        id_, "s", "webhook", "https://hooks.example.com:8443/x", None, match, mode, "sealed", NOW
    )
    return Route.of(record)


def test_each_matching_subscription_gets_one_delivery_with_a_stable_id() -> None:
    routed = route([event(1)], [subscription("a"), subscription("b", min_severity="critical")], {}, [], NOW)
    [delivery] = routed.deliveries
    assert (delivery.id, delivery.subscription_id, delivery.status) == (
        delivery_id("sev_1", "a"),
        "a",
        "pending",
    )
    assert (delivery.target, delivery.next_attempt_at) == ("hooks.example.com:8443", NOW)
    again = route([event(1)], [subscription("a")], {}, [], NOW + timedelta(hours=1))
    assert again.deliveries[0].id == delivery.id  # a redelivered event: the same row, ignored on insert


def test_portfolio_facts_route_the_signals_that_follow_them() -> None:
    entry = PortfolioEntry(company_id=COMPANY, name="Acme NV", segment="Horeca", account_manager="An@x.be")
    subs = [subscription("seg", segments=["horeca"]), subscription("am", account_managers=["an@x.be"])]
    assert route([event(1)], subs, {}, [], NOW).deliveries == []  # not in the portfolio yet
    routed = route([entry, event(1)], subs, {}, [], NOW)
    assert {d.subscription_id for d in routed.deliveries} == {"seg", "am"}
    assert routed.facts[COMPANY].segment == "Horeca"
    assert routed.bankrupt == {}


def test_an_open_bankruptcy_inhibits_lesser_signals_unless_turned_off() -> None:
    batch = [
        event(1, "bankruptcy", "critical"),
        event(2, "tax_debt", "high"),
        event(3, "dissolution", "critical"),
    ]
    routed = route(batch, [subscription("a")], {}, [], NOW)
    assert [d.status for d in routed.deliveries] == ["pending", "inhibited", "pending"]
    assert routed.bankrupt[COMPANY].bankrupt is True
    assert [d.status for d in route(batch, [subscription("a")], {}, [], NOW, inhibit=False).deliveries] == [
        "pending",
        "pending",
        "pending",
    ]
    # The bankruptcy resolved: the company's signals go out again.
    known = {COMPANY: CompanyRow(COMPANY, None, None, True)}
    later = route(
        [event(4, "bankruptcy", "critical", "resolved"), event(5)], [subscription("a")], known, [], NOW
    )
    assert [d.status for d in later.deliveries] == ["pending", "pending"]
    assert later.bankrupt[COMPANY].bankrupt is False


def test_silences_and_digests() -> None:
    silence = Silence("sil_1", COMPANY, None, NOW + timedelta(hours=1))
    routed = route([event(1)], [subscription("a"), subscription("d", mode="digest")], {}, [silence], NOW)
    assert [d.status for d in routed.deliveries] == ["silenced", "silenced"]
    routed = route([event(1)], [subscription("d", mode="digest")], {}, [], NOW)
    assert [(d.status, d.next_attempt_at) for d in routed.deliveries] == [("digest", None)]


def test_the_target_of_a_subscription() -> None:
    def record(**fields: Any) -> SubscriptionRecord:
        base: dict[str, Any] = {"url": None, "email": None}
        return SubscriptionRecord(
            "s", "n", "webhook", **{**base, **fields}, match={}, mode="immediate", secret=None, created_at=NOW
        )

    assert target_of(record(url="https://Hooks.Example.com/a?b=c")) == "hooks.example.com:443"
    assert target_of(record(url="http://hooks.example.com/a")) == "hooks.example.com:80"
    email = SubscriptionRecord("s", "n", "email", None, "Credit@X.be", {}, "immediate", None, NOW)
    assert target_of(email) == "credit@x.be"
    assert Match.model_validate({}) == Route.of(email).match
