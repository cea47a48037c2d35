"""The thresholds and windows of the rules: shipped defaults (`defaults.yaml`) merged with the user's file.

`load_rules(None)` gives the defaults; `load_rules(path)` overlays the user's YAML on them. Every setting
has a place in `RulesConfig`; a key that has none is refused with its dotted name, a value of the wrong type
or below zero too, so that a typo never silently leaves a default in force.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from shared.schemas import Severity

__all__ = [
    "AccountsOverdueRules",
    "ChurnRiskRules",
    "DirectorFailureRules",
    "DormantRules",
    "GrowthRules",
    "ManagementChurnRules",
    "OfficeMovesRules",
    "ParentDistressRules",
    "PaymentBehaviourRules",
    "RulesConfig",
    "RulesConfigError",
    "SalesDistressRules",
    "ScoreDropRules",
    "ScoreRules",
    "ScoreWeights",
    "WindowRules",
    "default_rules",
    "load_rules",
    "rules_from_mapping",
]

DEFAULTS_FILE = "defaults.yaml"
_PACKAGE = __name__.rpartition(".")[0]


class RulesConfigError(ValueError):
    """The rules file cannot be used; the message names the file and the setting."""


@dataclass(frozen=True, slots=True)
class DirectorFailureRules:
    """`director_failure_history`."""

    lookback_years: int


@dataclass(frozen=True, slots=True)
class DormantRules:
    """`dormant_reactivated`."""

    dormant_years: int
    open_days: int


@dataclass(frozen=True, slots=True)
class ManagementChurnRules:
    """`management_churn`."""

    window_months: int
    min_changes: int


@dataclass(frozen=True, slots=True)
class OfficeMovesRules:
    """`registered_office_moves`."""

    window_months: int
    min_changes: int
    same_move_days: int


@dataclass(frozen=True, slots=True)
class WindowRules:
    """A signal that looks back over one window (`social_security_summons`, `tax_debt`, `straw_man`)."""

    window_days: int


@dataclass(frozen=True, slots=True)
class AccountsOverdueRules:
    """`accounts_overdue`."""

    due_months: int


@dataclass(frozen=True, slots=True)
class ScoreDropRules:
    """`score_drop`."""

    lookback_days: int
    min_drop_points: int
    high_drop_points: int
    high_below_score: int


@dataclass(frozen=True, slots=True)
class PaymentBehaviourRules:
    """`payment_behaviour`."""

    medium_days: int
    high_days: int


@dataclass(frozen=True, slots=True)
class ParentDistressRules:
    """`parent_distress`."""

    min_share_pct: float


@dataclass(frozen=True, slots=True)
class SalesDistressRules:
    """`distress_reported_by_sales`."""

    window_days: int
    min_distinct: int
    corroboration_days: int


@dataclass(frozen=True, slots=True)
class GrowthRules:
    """`growth_opportunity`."""

    window_days: int
    wallet_share: float


@dataclass(frozen=True, slots=True)
class ChurnRiskRules:
    """`churn_risk`."""

    period_days: int
    year_days: int
    silent_years: int


@dataclass(frozen=True, slots=True)
class ScoreWeights:
    """How much one open risk signal of each severity takes off the company score (0 to 1)."""

    critical: float
    high: float
    medium: float
    low: float
    info: float

    def __post_init__(self) -> None:
        for severity in Severity:
            weight = getattr(self, severity.value)
            if weight > 1:
                raise RulesConfigError(
                    f"score.weights.{severity.value} must be between 0 and 1, got {weight}"
                )

    def of(self, severity: Severity) -> float:
        """The weight of `severity`."""
        weight: float = getattr(self, severity.value)
        return weight


@dataclass(frozen=True, slots=True)
class ScoreRules:
    """The company score."""

    weights: ScoreWeights


@dataclass(frozen=True, slots=True)
class RulesConfig:
    """Every threshold and window of the rules, one section per signal (see `defaults.yaml`)."""

    director_failure_history: DirectorFailureRules
    dormant_reactivated: DormantRules
    management_churn: ManagementChurnRules
    registered_office_moves: OfficeMovesRules
    social_security_summons: WindowRules
    tax_debt: WindowRules
    accounts_overdue: AccountsOverdueRules
    score_drop: ScoreDropRules
    payment_behaviour: PaymentBehaviourRules
    straw_man: WindowRules
    parent_distress: ParentDistressRules
    distress_reported_by_sales: SalesDistressRules
    growth_opportunity: GrowthRules
    churn_risk: ChurnRiskRules
    score: ScoreRules


def load_rules(path: str | Path | None = None) -> RulesConfig:
    """The rules: the shipped defaults, with the settings of the YAML file at `path` (if any) on top.

    Raises RulesConfigError naming the file and the setting when the file cannot be read or parsed, has an
    unknown key, or a value of the wrong type or below zero.
    """
    if path is None:
        return rules_from_mapping({})
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesConfigError(f"cannot read the rules file {path}: {exc.strerror or exc}") from exc
    overrides = _parse(text, str(path))
    try:
        return rules_from_mapping(overrides)
    except RulesConfigError as exc:
        raise RulesConfigError(f"{path}: {exc}") from None


def defaults_text() -> str:
    """The shipped `defaults.yaml`, comments included: the starting point of a user's rules file."""
    return resources.files(_PACKAGE).joinpath(DEFAULTS_FILE).read_text(encoding="utf-8")


@functools.cache
def default_rules() -> RulesConfig:
    """The shipped defaults, read once (the value is immutable, so sharing it is safe)."""
    return load_rules(None)


def rules_from_mapping(overrides: Mapping[str, Any]) -> RulesConfig:
    """The shipped defaults with `overrides` (nested like the YAML file) on top."""
    merged = _merge(_defaults(), overrides, "")
    config = _build(RulesConfig, merged, "")
    if not isinstance(config, RulesConfig):  # pragma: no cover - _build returns what it is given
        raise TypeError("rules did not build")
    return config


def _defaults() -> dict[str, Any]:
    text = defaults_text()
    return _parse(text, DEFAULTS_FILE)


def _parse(text: str, name: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesConfigError(f"{name} is not valid YAML: {exc}") from exc
    if data is None:
        # An empty file (or one with comments only) overrides nothing.
        return {}
    if not isinstance(data, dict):
        raise RulesConfigError(f"{name} must be a mapping of sections, got {type(data).__name__}")
    return data


def _merge(base: Mapping[str, Any], overrides: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = _merge(current, value, f"{prefix}{key}.")
        else:
            merged[key] = value
    return merged


def _build(cls: type[Any], data: Any, prefix: str) -> Any:
    where = prefix.rstrip(".") or "the rules"
    if not isinstance(data, Mapping):
        raise RulesConfigError(f"{where} must be a mapping, got {type(data).__name__}")
    hints = get_type_hints(cls)
    known = {field.name for field in dataclasses.fields(cls)}
    for key in data:
        if key not in known:
            raise RulesConfigError(
                f"unknown setting '{prefix}{key}' (known in {where}: {', '.join(sorted(known))})"
            )
    values: dict[str, Any] = {}
    for name in sorted(known):
        if name not in data:
            raise RulesConfigError(f"missing setting '{prefix}{name}'")
        values[name] = _value(hints[name], data[name], f"{prefix}{name}")
    return cls(**values)


def _value(kind: Any, value: Any, name: str) -> Any:
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return _build(kind, value, f"{name}.")
    # bool is an int to Python, but `true` as a number of days is a mistake.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RulesConfigError(f"'{name}' must be a number, got {value!r}")
    if kind is int and not isinstance(value, int):
        raise RulesConfigError(f"'{name}' must be a whole number, got {value!r}")
    if value < 0:
        raise RulesConfigError(f"'{name}' must not be negative, got {value!r}")
    return float(value) if kind is float else value
