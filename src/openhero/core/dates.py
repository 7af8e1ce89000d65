"""Bounds for dates and date-times that clients send.

Python's ``datetime`` ends at year 9999 and starts at year 1, so ``9999-12-31T23:55:00Z`` plus a
duration, or ``0001-01-01T00:00:00+14:00`` in UTC, raises ``OverflowError`` (a 500). No appointment,
slot, invoice or date of birth is outside 1800-2999, so values outside it are refused with a 400
before any arithmetic happens.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

EARLIEST = datetime(1800, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
RANGE_MESSAGE = "a date between 1800-01-01 and 2999-12-31"


def bounded_utc(value: datetime) -> datetime:
    """``value`` in UTC (no offset means UTC); ``ValueError`` when it is outside 1800-2999."""
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"must be {RANGE_MESSAGE}") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError(f"must be {RANGE_MESSAGE}")
    return utc


def bounded_day(value: date) -> date:
    """``value``; ``ValueError`` when it is outside 1800-2999."""
    if not EARLIEST.year <= value.year < LATEST.year:
        raise ValueError(f"must be {RANGE_MESSAGE}")
    return value
