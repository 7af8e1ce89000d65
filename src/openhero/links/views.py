"""Turning rows into what the patient pages show: UK dates and times, names, slot groups, form fields."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload

from openhero.booking.models import Appointment, AppointmentType
from openhero.forms.models import Form
from openhero.links.journey import Identity
from openhero.patients.schemas import RegisterPatientRequest
from openhero.practice.models import Location, PracticeGroup, Practitioner


def day_label(when: datetime | date, zone: ZoneInfo | None = None) -> str:
    local = when.astimezone(zone) if isinstance(when, datetime) and zone else when
    return f"{local:%A} {local.day} {local:%B %Y}"


def time_label(when: datetime, zone: ZoneInfo) -> str:
    """NHS style: 9am, 9:30am, 12pm."""
    local = when.astimezone(zone)
    hour = local.hour % 12 or 12
    minutes = f":{local.minute:02d}" if local.minute else ""
    return f"{hour}{minutes}{'am' if local.hour < 12 else 'pm'}"


def practitioner_name(p: Practitioner | None) -> str:
    if p is None:
        return "a clinician"
    return " ".join(x for x in (p.title, p.first_name, p.last_name) if x)


def address_line(location: Location | None) -> str:
    if location is None:
        return ""
    address = location.address or {}
    parts = [address.get(k) for k in ("line_1", "line_2", "town", "postcode")]
    return ", ".join(p for p in parts if p)


def practice_view(group: PracticeGroup) -> dict[str, Any]:
    return {"name": group.name, "phone": group.phone}


async def _by_id(session: AsyncSession, model: type[Any], ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    # lazyload: the pages never need the practitioners' or types' location lists (selectin by default).
    rows = (await session.execute(select(model).where(model.id.in_(ids)).options(lazyload("*")))).scalars().all()
    return {row.id: row for row in rows}


@dataclass
class SlotDay:
    label: str
    slots: list[dict[str, Any]] = field(default_factory=list)


async def slot_days(session: AsyncSession, rows: Sequence[Any], zone: ZoneInfo, *, show_what: bool, show_who: bool,
                    show_where: bool) -> list[SlotDay]:
    """Free slots grouped by the practice's calendar day, each with what tells it apart (the type, clinician
    or site, when the link offers more than one)."""
    kinds = await _by_id(session, AppointmentType, {r.appointment_type_id for r in rows}) if show_what else {}
    people = await _by_id(session, Practitioner, {r.practitioner_id for r in rows}) if show_who else {}
    places = await _by_id(session, Location, {r.location_id for r in rows}) if show_where else {}
    days: list[SlotDay] = []
    for row in rows:
        label = day_label(row.start_time, zone)
        if not days or days[-1].label != label:
            days.append(SlotDay(label=label))
        notes = []
        if row.appointment_type_id in kinds:
            notes.append(kinds[row.appointment_type_id].name)
        if show_who:
            notes.append(practitioner_name(people.get(row.practitioner_id)))
        if row.location_id in places:
            notes.append(places[row.location_id].name)
        days[-1].slots.append({"id": row.id, "time": time_label(row.start_time, zone), "note": ", ".join(notes)})
    return days


async def appointment_view(session: AsyncSession, appt: Appointment, zone: ZoneInfo) -> dict[str, Any]:
    appt_type = await session.get(AppointmentType, appt.appointment_type_id, options=[lazyload("*")])
    location = await session.get(Location, appt.location_id)
    practitioner = await session.get(Practitioner, appt.practitioner_id, options=[lazyload("*")])
    how = "Video call" if appt.video else "Phone call" if appt.telephone and not appt.in_person else "In person"
    return {"type": appt_type.name if appt_type else "Appointment", "day": day_label(appt.start_time, zone),
            "time": time_label(appt.start_time, zone), "duration": appt.duration, "how": how,
            "with": practitioner_name(practitioner), "where": location.name if location else "",
            "address": address_line(location),
            "held_until": time_label(appt.reserved_until, zone) if appt.reserved_until else None}


async def link_offer(session: AsyncSession, type_ids: list[int], location_ids: list[int],
                     practitioner_ids: list[int]) -> dict[str, str]:
    """A one-line description of what a booking link offers."""
    types = await _by_id(session, AppointmentType, set(type_ids))
    places = await _by_id(session, Location, set(location_ids))
    people = await _by_id(session, Practitioner, set(practitioner_ids))
    return {"type": " or ".join(t.name for t in types.values()) or "Appointment",
            "where": " or ".join(p.name for p in places.values()),
            "with": " or ".join(practitioner_name(p) for p in people.values())}


def form_fields(form: Form, values: dict[int, list[str]] | None = None, errors: dict[int, str] | None = None
                ) -> list[dict[str, Any]]:
    values, errors = values or {}, errors or {}
    options_for = {"yes_no": ["Yes", "No"]}
    return [{"id": q.id, "name": f"q{q.id}", "label": q.name, "kind": q.kind, "required": q.required,
             "help": q.help_text, "options": options_for.get(q.kind, q.options or []),
             "values": values.get(q.id, []), "error": errors.get(q.id)} for q in form.questions]


def text(data: Any, name: str) -> str:
    """A posted text field; anything else (a file part) counts as empty."""
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


def submitted_answers(form: Form, data: Any) -> dict[int, list[str]]:
    """Question id -> the values posted under ``q{id}`` (checkboxes post several)."""
    return {q.id: [v for v in data.getlist(f"q{q.id}") if isinstance(v, str)] for q in form.questions}


# --- dates of birth and identity forms ---------------------------------------------------------------

def parse_date_parts(day: str, month: str, year: str) -> date | None:
    try:
        d, m, y = int(day.strip()), int(month.strip()), int(year.strip())
        if y < 1900:
            return None
        return date(y, m, d)
    except (ValueError, AttributeError):
        return None


IDENTITY_FIELDS = ("first_name", "last_name", "mobile", "nhs_number")
_MESSAGES = {"first_name": "Enter your first name", "last_name": "Enter your last name",
             "mobile": "Enter a UK mobile number, like 07700 900 123",
             "nhs_number": "Enter a valid 10-digit NHS number, or leave it blank"}


def _in_form_order(errors: dict[str, str]) -> dict[str, str]:
    """The error summary lists problems in the order the fields appear."""
    order = ("first_name", "last_name", "dob", "mobile", "nhs_number")
    return {k: errors[k] for k in sorted(errors, key=lambda k: order.index(k) if k in order else len(order))}


def identity_from_form(data: Any, today: date) -> tuple[Identity | None, dict[str, str]]:
    """The generic-link identity form (name, date of birth, and a mobile number or an NHS number or
    both), checked with the patients domain's own rules, or the errors to show per field."""
    errors: dict[str, str] = {}
    dob = parse_date_parts(text(data, "dob-day"), text(data, "dob-month"), text(data, "dob-year"))
    if dob is None or dob > today:
        errors["dob"] = "Enter your date of birth as a real date, for example 15 3 1984"
    values = {name: text(data, name) for name in IDENTITY_FIELDS}
    if not values["mobile"] and not values["nhs_number"]:
        errors["mobile"] = "Enter your mobile number or your NHS number"
    try:
        # The registration request validates names, the phone number and the NHS number's check digit.
        checked = RegisterPatientRequest(first_name=values["first_name"], last_name=values["last_name"],
                                         mobile=values["mobile"] or "07700900000",
                                         nhs_number=values["nhs_number"] or None,
                                         dob=(dob or date(2000, 1, 1)).isoformat())
    except ValidationError as exc:
        for err in exc.errors():
            name = str(err["loc"][0]) if err.get("loc") else ""
            if name in _MESSAGES and (name != "mobile" or values["mobile"]):
                errors.setdefault(name, _MESSAGES[name])
        return None, _in_form_order(errors)
    if errors or dob is None:
        return None, _in_form_order(errors)
    return Identity(first_name=checked.first_name, last_name=checked.last_name, dob=dob,
                    mobile=checked.mobile if values["mobile"] else None, nhs_number=checked.nhs_number), {}
