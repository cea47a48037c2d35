"""The rules file: defaults load, overrides change thresholds, mistakes are refused by name."""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

import pytest

from services.signals.rules import (
    RulesConfig,
    RulesConfigError,
    default_rules,
    load_rules,
    rules_from_mapping,
)
from shared.schemas import Severity

from .builders import ago, one, paying


def test_the_defaults_are_shipped_as_package_data() -> None:
    assert resources.files("services.signals.rules").joinpath("defaults.yaml").is_file()


def test_the_defaults_hold_the_documented_thresholds() -> None:
    rules = load_rules()
    assert isinstance(rules, RulesConfig)
    assert rules.director_failure_history.lookback_years == 5
    assert rules.dormant_reactivated.dormant_years == 3
    assert rules.dormant_reactivated.open_days == 180
    assert rules.management_churn.window_months == 12
    assert rules.management_churn.min_changes == 2
    assert rules.registered_office_moves.min_changes == 2
    assert rules.social_security_summons.window_days == 365
    assert rules.tax_debt.window_days == 365
    assert rules.accounts_overdue.due_months == 7
    assert rules.score_drop.lookback_days == 365
    assert rules.score_drop.high_drop_points == 20
    assert rules.score_drop.high_below_score == 30
    assert rules.payment_behaviour.medium_days == 30
    assert rules.payment_behaviour.high_days == 60
    assert rules.straw_man.window_days == 365
    assert rules.parent_distress.min_share_pct == 50.0
    assert rules.distress_reported_by_sales.window_days == 90
    assert rules.distress_reported_by_sales.min_distinct == 2
    assert rules.distress_reported_by_sales.corroboration_days == 90
    assert rules.growth_opportunity.window_days == 180
    assert rules.churn_risk.period_days == 90
    assert rules.churn_risk.year_days == 365
    assert rules.churn_risk.silent_years == 2
    weights = rules.score.weights
    assert [weights.of(s) for s in Severity] == [0.0, 0.05, 0.15, 0.3, 0.6]
    assert default_rules() == rules


def test_the_config_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        default_rules().payment_behaviour.medium_days = 10  # type: ignore[misc]


def test_an_override_changes_one_threshold_and_keeps_the_others(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("payment_behaviour:\n  medium_days: 45\n", encoding="utf-8")
    rules = load_rules(path)
    assert rules.payment_behaviour.medium_days == 45
    assert rules.payment_behaviour.high_days == 60
    assert rules.tax_debt == default_rules().tax_debt
    events = [paying(ago(1), 40)]
    assert one(events, "payment_behaviour") is not None
    assert one(events, "payment_behaviour", config=rules) is None


def test_an_empty_file_keeps_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("# nothing changed\n", encoding="utf-8")
    assert load_rules(path) == default_rules()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("payment_behaviour:\n  medium_day: 45\n", "payment_behaviour.medium_day"),
        ("payment_behavior:\n  medium_days: 45\n", "payment_behavior"),
        ("score:\n  weights:\n    severe: 0.5\n", "score.weights.severe"),
    ],
)
def test_an_unknown_key_is_refused_by_name(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesConfigError, match=f"unknown setting '{named}'") as caught:
        load_rules(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"payment_behaviour": {"medium_days": "thirty"}},
            "'payment_behaviour.medium_days' must be a number",
        ),
        ({"payment_behaviour": {"medium_days": 30.5}}, "must be a whole number"),
        ({"payment_behaviour": {"medium_days": True}}, "must be a number"),
        ({"tax_debt": {"window_days": -1}}, "must not be negative"),
        ({"tax_debt": 365}, "tax_debt must be a mapping"),
        ({"score": {"weights": {"high": 1.5}}}, "score.weights.high must be between 0 and 1"),
    ],
)
def test_a_bad_value_is_refused_by_name(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(RulesConfigError, match=message):
        rules_from_mapping(overrides)


def test_a_float_setting_accepts_a_whole_number() -> None:
    rules = rules_from_mapping({"parent_distress": {"min_share_pct": 51}})
    assert rules.parent_distress.min_share_pct == 51.0


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("- payment_behaviour\n", encoding="utf-8")
    with pytest.raises(RulesConfigError, match="must be a mapping"):
        load_rules(path)


def test_invalid_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("payment_behaviour: [unclosed\n", encoding="utf-8")
    with pytest.raises(RulesConfigError, match="not valid YAML"):
        load_rules(path)


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(RulesConfigError, match="cannot read the rules file"):
        load_rules(tmp_path / "missing.yaml")
