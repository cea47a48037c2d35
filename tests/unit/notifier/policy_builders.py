"""Signals, portfolio facts and times shared by the policy tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.notifier.policy import CompanyFacts
from shared.schemas import Signal
from shared.schemas._base import example_of

NOW = datetime(2025, 10, 15, 12, 0, tzinfo=UTC)
COMPANY = "BE0403170701"  # the example signal's company
OTHER_COMPANY = "BE0417497106"
FACTS = CompanyFacts(segment="Key Accounts", account_manager="An.Peeters@Example.com")

# score_drop, risk, high, open, about COMPANY.
SIGNAL = Signal.model_validate(example_of(Signal))


def signal(**update: Any) -> Signal:
    """The example signal with `update` applied."""
    return SIGNAL.model_copy(update=update)
