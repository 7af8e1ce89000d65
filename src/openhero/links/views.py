"""Turning rows into what the patient pages show: UK dates and times, names, slot groups, form fields."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
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
    phone = (group.phone or "").strip()
    return {"name": group.name, "phone": phone, "tel": "".join(c for c in phone if c.isdigit() or c == "+")}


def price_label(appt_type: AppointmentType | None) -> str | None:
    """"£45.00" for a paid (private) type with a price; None for NHS types."""
    if appt_type is None or appt_type.sector != "paid" or not appt_type.price:
        return None
    return f"£{appt_type.price:,.2f}"


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


def week_choices(first: date, last: date | None, weeks: int = 12) -> list[dict[str, str]]:
    """Weeks a patient can jump to on the times page (Mondays from this week), within the link's window."""
    start = first - timedelta(days=first.weekday())
    out = []
    for n in range(weeks):
        monday = start + timedelta(weeks=n)
        if last is not None and monday > last:
            break
        shown = max(monday, first)
        out.append({"value": shown.isoformat(),
                    "label": "This week" if n == 0 else f"Week starting {day_label(monday)}"})
    return out


async def appointment_view(session: AsyncSession, appt: Appointment, zone: ZoneInfo) -> dict[str, Any]:
    appt_type = await session.get(AppointmentType, appt.appointment_type_id, options=[lazyload("*")])
    location = await session.get(Location, appt.location_id)
    practitioner = await session.get(Practitioner, appt.practitioner_id, options=[lazyload("*")])
    how = "Video call" if appt.video else "Phone call" if appt.telephone and not appt.in_person else "In person"
    return {"type": appt_type.name if appt_type else "Appointment", "day": day_label(appt.start_time, zone),
            "price": price_label(appt_type), "type_id": appt.appointment_type_id,
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
    prices = [price_label(t) for t in types.values()]
    return {"type": " or ".join(t.name for t in types.values()) or "Appointment",
            "price": prices[0] if len(prices) == 1 else None,
            "where": " or ".join(p.name for p in places.values()),
            "with": " or ".join(practitioner_name(p) for p in people.values())}


async def type_choices(session: AsyncSession, type_ids: list[int]) -> list[dict[str, Any]]:
    """The link's appointment types for the "what is it for" step, in the link's order."""
    types = await _by_id(session, AppointmentType, set(type_ids))
    return [{"id": t.id, "name": t.name, "duration": t.duration, "price": price_label(t)}
            for t in (types[i] for i in type_ids if i in types) if t.active]


_MISSING = {"choice": "Select an answer", "yes_no": "Select yes or no", "multi_choice": "Select at least one answer",
            "date": "Enter a date", "number": "Enter a number"}


def _question_error(kind: str, label: str, error: str | None) -> str | None:
    """Error messages name their question ("Select an answer to: Type of trip"), not "Answer this question"."""
    if error is None:
        return None
    subject = label.rstrip("?:. ")
    if error == "Answer this question":
        return f"{_MISSING.get(kind, 'Enter an answer')} to: {subject}"
    if kind == "date":
        return f"Enter a real date for: {subject}, for example 27 3 2026"
    return f"{error.rstrip('.')} – {subject}"


def form_fields(form: Form, values: dict[int, list[str]] | None = None, errors: dict[int, str] | None = None
                ) -> list[dict[str, Any]]:
    values, errors = values or {}, errors or {}
    options_for = {"yes_no": ["Yes", "No"]}
    fields = []
    for q in form.questions:
        name = f"q{q.id}"
        options = options_for.get(q.kind, q.options or [])
        given = values.get(q.id, [])
        parts = given[0].split("-", 2) if q.kind == "date" and given else []
        date_values = ({f"{name}-year": parts[0], f"{name}-month": parts[1], f"{name}-day": parts[2]}
                       if len(parts) == 3 else {})
        anchor = f"{name}-1" if q.kind in ("choice", "multi_choice", "yes_no") and options else name
        fields.append({"id": q.id, "name": name, "anchor": anchor, "label": q.name, "kind": q.kind,
                       "required": q.required, "help": q.help_text, "options": options, "values": given,
                       "date_values": date_values, "error": _question_error(q.kind, q.name, errors.get(q.id))})
    return fields


def field_errors(fields: list[dict[str, Any]]) -> dict[str, str]:
    """The error summary's entries for form questions: anchor -> message."""
    return {f["anchor"]: f["error"] for f in fields if f["error"]}


def text(data: Any, name: str) -> str:
    """A posted text field; anything else (a file part) counts as empty."""
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


def _date_answer(data: Any, name: str) -> list[str]:
    """A date question's three boxes as one ISO date; impossible dates are passed on as ``y-m-d`` so the
    check refuses them (and the boxes show what was typed)."""
    day, month, year = (text(data, f"{name}-{part}") for part in ("day", "month", "year"))
    if not (day or month or year):
        single = text(data, name)  # a client posting one ISO date
        return [single] if single else []
    parsed = parse_date_parts(day, month, year)
    return [parsed.isoformat() if parsed else f"{year}-{month}-{day}"]


def submitted_answers(form: Form, data: Any) -> dict[int, list[str]]:
    """Question id -> the values posted under ``q{id}`` (checkboxes post several; dates come in three
    boxes, ``q{id}-day``, ``-month``, ``-year``)."""
    return {q.id: (_date_answer(data, f"q{q.id}") if q.kind == "date"
                   else [v for v in data.getlist(f"q{q.id}") if isinstance(v, str)]) for q in form.questions}


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
    postcode = text(data, "postcode")[:16]
    return Identity(first_name=checked.first_name, last_name=checked.last_name, dob=dob,
                    mobile=checked.mobile if values["mobile"] else None, nhs_number=checked.nhs_number,
                    postcode=postcode or None), {}
