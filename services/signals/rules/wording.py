"""Small helpers that write the plain sentences of summaries: dates, amounts, lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

__all__ = ["clip", "eur", "listing", "on", "plural"]

MAX_SUMMARY = 1000
"""Summaries and evidence summaries are limited to this many characters by the signal schema."""


def on(moment: date | datetime) -> str:
    """The calendar day of `moment`, ISO style (2025-03-02): unambiguous in every language."""
    day = moment.date() if isinstance(moment, datetime) else moment
    return day.isoformat()


def eur(amount: Decimal | float) -> str:
    """An amount in euro, `EUR 18,250.50`; whole amounts without cents."""
    value = Decimal(str(amount)) if isinstance(amount, float) else amount
    if value == value.to_integral_value():
        return f"EUR {value:,.0f}"
    return f"EUR {value:,.2f}"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """`1 director change`, `2 director changes`."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count} {word}"


def listing(items: Sequence[str], limit: int = 3) -> str:
    """`a`, `a and b`, `a, b and c`, or `a, b, c and 2 more` beyond `limit` items."""
    shown = list(items[:limit])
    rest = len(items) - len(shown)
    if rest > 0:
        shown.append(f"{rest} more")
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " and " + shown[-1]


def clip(text: str, limit: int = MAX_SUMMARY) -> str:
    """`text` cut to `limit` characters (with an ellipsis), so that it always fits the schema."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 3].rstrip() + "..."
