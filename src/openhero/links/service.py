"""Booking and form links for partners: create, read, change; and the rules of a link's life
(expiry, deactivation, use limit, date-of-birth lock) shared by the API and the patient pages."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.booking.models import AppointmentType
from openhero.core import audit
from openhero.core.auth import Principal
from openhero.core.errors import NotFound, ValidationFailed
from openhero.core.tenancy import get_owned
from openhero.forms.service import require_form
from openhero.links.journey import clear_identity_locks
from openhero.links.models import BookingLink, FormLink, LinkMixin
from openhero.links.schemas import CreateBookingLinkRequest, CreateFormLinkRequest, UpdateBookingLinkRequest
from openhero.patients.models import Patient
from openhero.practice.models import Location, PracticeGroup, Practitioner

Link = BookingLink | FormLink


class LinkState(StrEnum):
    USABLE = "usable"
    EXPIRED = "expired"
    INACTIVE = "inactive"  # deactivated by the practice
    USED_UP = "used_up"
    LOCKED = "locked"  # too many wrong dates of birth
    ORPHANED = "orphaned"  # made for a patient whose record was since removed


def new_code() -> str:
    # 72 random bits, URL-safe: unguessable, and short enough to fit an SMS.
    return secrets.token_urlsafe(9)


def local_today(now: datetime, timezone: str = "Europe/London") -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def state_of(link: LinkMixin, today: date) -> LinkState:
    """What a patient opening the link now would meet; the order says which reason wins."""
    if link.locked_at is not None:
        return LinkState.LOCKED
    if not link.active:
        return LinkState.INACTIVE
    if link.patient_specific and link.patient_id is None:
        return LinkState.ORPHANED
    if link.expiry_date is not None and today > link.expiry_date:
        return LinkState.EXPIRED
    if link.maximum_uses is not None and link.number_of_uses >= link.maximum_uses:
        return LinkState.USED_UP
    return LinkState.USABLE


def short_link(base_url: str, prefix: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/{prefix}/{code}"


def _bad(message: str, code: str, expected: str, path: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, expected=expected, path=[path])


async def _referenced(session: AsyncSession, model: type[Any], row_id: int, principal: Principal, what: str,
                      path: str) -> Any:
    """A row the request body names: missing or another tenant's is a 404 pointing at the field."""
    try:
        return await get_owned(session, model, row_id, principal, what)
    except NotFound:
        raise NotFound(what, path=[path]) from None


async def _group_today(session: AsyncSession, principal: Principal, now: datetime) -> date:
    group = await session.get(PracticeGroup, principal.practice_group_id)
    return local_today(now, group.timezone if group else "Europe/London")


async def _check_patient(session: AsyncSession, principal: Principal, patient_id: int) -> Patient:
    patient = await _referenced(session, Patient, patient_id, principal, "Patient", "patient_id")
    if patient.status == "archived":
        raise _bad("That patient record is archived (merged into another)", "patient_archived",
                   "the patient's current record", "patient_id")
    if patient.dob is None:
        raise _bad("The patient has no date of birth on record, which a patient-specific link checks",
                   "patient_without_dob", "a patient with a date of birth", "patient_id")
    return patient


async def _check_references(session: AsyncSession, principal: Principal, type_ids: list[int],
                            location_ids: list[int], practitioner_ids: list[int]) -> None:
    """Everything the link names exists in the caller's practice group (404 otherwise) and can be booked
    together (400 otherwise)."""
    locations = {i: await _referenced(session, Location, i, principal, "Location", "location_id") for i in location_ids}
    for location in locations.values():
        if not location.online_booking_enabled:
            raise _bad(f"Online booking is switched off at location {location.id}", "online_booking_disabled",
                       "a location that takes online bookings", "location_id")
    for type_id in type_ids:
        appt_type = await _referenced(session, AppointmentType, type_id, principal, "Appointment type",
                                     "appointment_type_id")
        if not appt_type.active:
            raise _bad(f"Appointment type {type_id} is no longer offered", "appointment_type_inactive",
                       "an active appointment type", "appointment_type_id")
        offered = {loc.id for loc in appt_type.locations}
        if offered and not offered & set(location_ids):
            raise _bad(f"Appointment type {type_id} is not offered at the link's locations", "location_not_offered",
                       "a location where the appointment type is offered", "location_id")
    for practitioner_id in practitioner_ids:
        practitioner = await _referenced(session, Practitioner, practitioner_id, principal, "Practitioner",
                                        "practitioner_id")
        if not practitioner.active:
            raise _bad(f"Practitioner {practitioner_id} is not taking appointments", "practitioner_inactive",
                       "an active practitioner", "practitioner_id")
        works_at = {loc.id for loc in practitioner.locations}
        if works_at and not works_at & set(location_ids):
            raise _bad(f"Practitioner {practitioner_id} does not work at the link's locations",
                       "practitioner_not_at_location", "a practitioner at one of the link's locations",
                       "practitioner_id")


def _check_dates(from_date: date | None, to_date: date | None, expiry_date: date | None, today: date) -> None:
    if to_date is not None and to_date < today:
        raise _bad("to_date is in the past", "invalid_date", "today or a later date", "to_date")
    if from_date is not None and to_date is not None and from_date > to_date:
        raise _bad("from_date is after to_date", "invalid_date", "a from_date on or before to_date", "from_date")
    if expiry_date is not None and expiry_date < today:
        raise _bad("expiry_date is in the past", "invalid_date", "today or a later date", "expiry_date")


async def _insert_with_code(session: AsyncSession, link: Link) -> None:
    """Codes are random; a collision is astronomically unlikely but would only cost a retry."""
    for _ in range(5):
        link.code = new_code()
        try:
            async with session.begin_nested():
                session.add(link)
                await session.flush()
            return
        except IntegrityError:
            continue  # the savepoint's rollback made the row transient again; draw another code
    raise RuntimeError("could not allocate a unique link code")


async def create_booking_link(session: AsyncSession, principal: Principal, body: CreateBookingLinkRequest,
                              now: datetime) -> BookingLink:
    today = await _group_today(session, principal, now)
    _check_dates(body.from_date, body.to_date, body.expiry_date, today)
    await _check_references(session, principal, body.appointment_type_id, body.location_id,
                            body.practitioner_id or [])
    if body.patient_id is not None:
        await _check_patient(session, principal, body.patient_id)
    link = BookingLink(
        practice_group_id=principal.practice_group_id, patient_id=body.patient_id,
        patient_specific=body.patient_id is not None, appointment_type_ids=body.appointment_type_id,
        location_ids=body.location_id, practitioner_ids=body.practitioner_id or [], from_date=body.from_date,
        to_date=body.to_date, expiry_date=body.expiry_date, maximum_uses=body.maximum_use_count,
        number_of_uses=0, open_count=0, active=True, failed_dob_attempts=0, suppress_mail=body.suppress_mail,
        created_by_key_id=principal.key_id or None, created_at=now, updated_at=now)
    await _insert_with_code(session, link)
    await audit.record(session, principal, "booking_link.create", "BookingLink", link.id, now=now)
    return link


async def get_booking_link(session: AsyncSession, principal: Principal, raw_id: str, *, for_update: bool = False
                           ) -> BookingLink:
    return await get_owned(session, BookingLink, raw_id, principal, "Booking link", for_update=for_update)


def _reactivate(link: LinkMixin) -> None:
    link.active, link.locked_at, link.failed_dob_attempts = True, None, 0


async def update_booking_link(session: AsyncSession, principal: Principal, raw_id: str,
                              body: UpdateBookingLinkRequest, now: datetime) -> BookingLink:
    link = await get_booking_link(session, principal, raw_id, for_update=True)
    sent = body.model_fields_set
    for name in ("appointment_type_id", "location_id"):
        if name in sent and getattr(body, name) is None:
            raise _bad(f"{name} cannot be removed from a booking link", "invalid_type", "one id or a list of ids",
                       name)
    changes: dict[str, Any] = {}
    for field, column in (("appointment_type_id", "appointment_type_ids"), ("location_id", "location_ids")):
        if field in sent:
            changes[column] = getattr(body, field)
    if "practitioner_id" in sent:
        changes["practitioner_ids"] = body.practitioner_id or []
    for name in ("from_date", "to_date", "expiry_date"):
        if name in sent:
            changes[name] = getattr(body, name)
    if "maximum_use_count" in sent:
        changes["maximum_uses"] = body.maximum_use_count
    merged = {c: changes.get(c, getattr(link, c)) for c in ("appointment_type_ids", "location_ids",
                                                            "practitioner_ids", "from_date", "to_date")}
    today = await _group_today(session, principal, now)
    # Only the dates being changed must lie ahead; an old window left alone is not refused.
    _check_dates(merged["from_date"], changes.get("to_date"), changes.get("expiry_date"), today)
    if merged["from_date"] and merged["to_date"] and merged["from_date"] > merged["to_date"]:
        raise _bad("from_date is after to_date", "invalid_date", "a from_date on or before to_date", "from_date")
    if {"appointment_type_ids", "location_ids", "practitioner_ids"} & changes.keys():
        await _check_references(session, principal, merged["appointment_type_ids"], merged["location_ids"],
                                merged["practitioner_ids"])
    for column, value in changes.items():
        setattr(link, column, value)
    if "suppress_mail" in sent and body.suppress_mail is not None:
        link.suppress_mail = body.suppress_mail
    if body.active is True:
        _reactivate(link)
        await clear_identity_locks(session, link)
    elif body.active is False:
        link.active = False
    link.updated_at = now
    await session.flush()
    await audit.record(session, principal, "booking_link.update", "BookingLink", link.id, now=now,
                       details={"fields": sorted(sent)})
    return link


async def create_form_link(session: AsyncSession, principal: Principal, body: CreateFormLinkRequest,
                           now: datetime) -> FormLink:
    today = await _group_today(session, principal, now)
    _check_dates(None, None, body.expiry_date, today)
    await require_form(session, principal.practice_group_id, body.form_id, "form_id")
    if body.patient_id is not None:
        await _check_patient(session, principal, body.patient_id)
    link = FormLink(practice_group_id=principal.practice_group_id, form_id=body.form_id, patient_id=body.patient_id,
                    patient_specific=body.patient_id is not None, expiry_date=body.expiry_date,
                    maximum_uses=body.maximum_use_count, number_of_uses=0, open_count=0, active=True,
                    failed_dob_attempts=0, created_by_key_id=principal.key_id or None, created_at=now,
                    updated_at=now)
    await _insert_with_code(session, link)
    await audit.record(session, principal, "form_link.create", "FormLink", link.id, now=now)
    return link


async def get_form_link(session: AsyncSession, principal: Principal, raw_id: str) -> FormLink:
    return await get_owned(session, FormLink, raw_id, principal, "Form link")


async def find_by_code(session: AsyncSession, model: type[Link], code: str) -> Link | None:
    """A link by its public code (no tenant: the code is the capability)."""
    if not code or len(code) > 32:
        return None
    return (await session.execute(select(model).where(model.code == code))).scalar_one_or_none()

