"""Shared serialisation conventions (core/schemas.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from openhero.core.schemas import format_timestamp


def test_timestamps_render_the_instant_in_utc_whatever_was_formatted_before() -> None:
    utc = datetime(2026, 3, 29, 0, 30, 0, 987654, tzinfo=UTC)
    paris = utc.astimezone(timezone(timedelta(hours=2)))
    naive = datetime(2026, 3, 29, 0, 30, 0, 987654)  # naive values are UTC by convention
    later = datetime(2026, 3, 29, 2, 30, 0, 987654)  # same wall clock as paris, another instant
    for _ in range(2):  # the second pass answers from the remembered texts
        assert format_timestamp(utc) == "2026-03-29T00:30:00.987Z"
        assert format_timestamp(paris) == "2026-03-29T00:30:00.987Z"
        assert format_timestamp(naive) == "2026-03-29T00:30:00.987Z"
        assert format_timestamp(later) == "2026-03-29T02:30:00.987Z"
        assert format_timestamp(later.replace(tzinfo=timezone(timedelta(hours=2)))) == "2026-03-29T00:30:00.987Z"


def test_the_remembered_texts_stay_bounded() -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for i in range(20_000):
        format_timestamp(start + timedelta(seconds=i))
    assert format_timestamp.cache_info().currsize <= 8192
    assert format_timestamp(start) == "2020-01-01T00:00:00.000Z"
