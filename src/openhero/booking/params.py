"""Query parameters of the slot search, parsed once for GET /v1/slots and GET /v1/slots/count."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Query, Request

from openhero.booking.repository import SlotFilter
from openhero.core.dates import bounded_day, bounded_utc
from openhero.core.errors import ValidationFailed, error_item
from openhero.core.ids import is_id
from openhero.core.pagination import query_list
from openhero.core.routing import served_by

# Bare dates are days in UK local time (openhero): every NHS practice keeps UK time.
PRACTICE_ZONE = ZoneInfo("Europe/London")


def _ids(request: Request, name: str) -> list[int]:
    out = []
    for i, raw in enumerate(query_list(request, name)):
        for part in raw.split(","):  # location_id=1,2 as well as location_id=1&location_id=2
            part = part.strip()
            if not is_id(part):
                raise ValidationFailed(f"{name} must be a numeric id", items=[error_item(
                    "invalid_type", "a numeric id string", [name, i], f"{name} must be a numeric id")])
            out.append(int(part))
    return sorted(set(out))


def parse_bound(name: str, raw: str | None, *, end: bool) -> datetime | None:
    """``YYYY-MM-DD`` (a whole UK day: from its start, or up to its end) or an ISO date-time (UTC when
    no offset is given)."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    try:
        if len(text) == 10:
            day = bounded_day(date.fromisoformat(text)) + (timedelta(days=1) if end else timedelta(0))
            return datetime.combine(day, time(0), PRACTICE_ZONE).astimezone(UTC)
        iso = text.replace("Z", "+00:00")
        if "T" in iso:  # an unencoded "+01:00" offset arrives as " 01:00"
            iso = iso.replace(" ", "+")
        value = datetime.fromisoformat(iso)
        return bounded_utc(value)
    except (ValueError, OverflowError):
        raise ValidationFailed(f"{name} must be a date or date-time", items=[error_item(
            "invalid_date", "an ISO 8601 date (YYYY-MM-DD) or date-time", [name],
            f"{name} must be a date or date-time")]) from None


def _slot_filter(request: Request, start_date: str | None, end_date: str | None) -> SlotFilter:
    start = parse_bound("start_date", start_date, end=False)
    finish = parse_bound("end_date", end_date, end=True)
    if start and finish and finish <= start:
        raise ValidationFailed("end_date must be after start_date", items=[error_item(
            "too_small", "an end_date after start_date", ["end_date"], "end_date must be after start_date")])
    return SlotFilter(appointment_type_ids=_ids(request, "appointment_type_id"),
                      location_ids=_ids(request, "location_id"),
                      practitioner_ids=_ids(request, "practitioner_id"), start=start, end=finish)


async def _slot_filter_from_request(request: Request) -> SlotFilter:
    query = request.query_params
    return _slot_filter(request, query.get("start_date"), query.get("end_date"))


@served_by(_slot_filter_from_request)
async def slot_filter(
    request: Request,
    appointment_type_id: Annotated[str | None, Query(description="Appointment type id (repeat for several)")] = None,
    location_id: Annotated[str | None, Query(description="Location id; repeat the key (or comma-separate) "
                                                          "for several")] = None,
    practitioner_id: Annotated[str | None, Query(description="Practitioner id (repeat for several)")] = None,
    start_date: Annotated[str | None, Query(description="From this date (UK day) or date-time")] = None,
    end_date: Annotated[str | None, Query(description="Up to the end of this date (UK day) or before this "
                                                       "date-time")] = None,
) -> SlotFilter:
    return _slot_filter(request, start_date, end_date)


SlotFilterDep = Annotated[SlotFilter, Depends(slot_filter)]
