"""Calendar arithmetic for the rules' windows: aware UTC moments, calendar months and years, day starts.

Windows are half-open on the left, `(start, end]`: an event exactly at the start of a 12-month window is
already outside it, an event at `as_of` is inside.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from typing import TypeVar

__all__ = ["add_months", "add_years", "require_utc", "utc_day", "within"]

_Day = TypeVar("_Day", bound=date)


def require_utc(moment: datetime, what: str = "time") -> datetime:
    """`moment` in UTC; a naive datetime is refused because its meaning depends on where it was made."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def utc_day(day: date) -> datetime:
    """The start (00:00 UTC) of `day`."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def add_months(moment: _Day, months: int) -> _Day:
    """`moment` shifted by calendar months (negative goes back); the day is clamped to the month's end.

    31 March minus one month is 28 (or 29) February, not 3 March.
    """
    index = moment.year * 12 + (moment.month - 1) + months
    year, month0 = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month0 + 1)[1])
    return moment.replace(year=year, month=month0 + 1, day=day)


def add_years(moment: _Day, years: int) -> _Day:
    """`moment` shifted by calendar years; 29 February becomes 28 February in other years."""
    return add_months(moment, 12 * years)


def within(at: datetime, start: datetime, end: datetime) -> bool:
    """True when `at` lies in the window `(start, end]`."""
    return start < at <= end
