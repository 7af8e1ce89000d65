"""What a patient does through a link: prove who they are, see free times, hold one, answer the form
and confirm. Booking itself goes through the booking domain's public functions, acting as the link's
practice group; every step runs in the page's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.booking import appointments, repository
from openhero.booking.appointments import Placement, ReserveCommand
from openhero.booking.models import Appointment, AppointmentType, Slot
from openhero.booking.states import AppointmentState, state_of
from openhero.core.auth import Principal
from openhero.core.errors import ApiError
from openhero.forms import service as forms
from openhero.forms.models import Form
from openhero.links.models import MAX_DOB_ATTEMPTS, BookingLink, FormLink
from openhero.patients import service as patients
from openhero.patients.models import Patient
from openhero.patients.schemas import RegisterPatientRequest
from openhero.practice.models import PracticeGroup

Link = BookingLink | FormLink


class Refusal(StrEnum):
    USED_UP = "used_up"  # the last use went to someone else meanwhile
    SLOT_TAKEN = "slot_taken"
    HOLD_EXPIRED = "hold_expired"
    NOT_OFFERED = "not_offered"  # a slot outside what the link offers
    MISMATCH = "mismatch"  # identity details contradict the practice's records
    NEED_MOBILE = "need_mobile"  # a new patient gave an NHS number but no mobile number


class Refused(Exception):
    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


def link_principal(link: Link) -> Principal:
    """The link acts for its practice group, as the key that created it (so booking's task and audit
    trail name that partner)."""
    key_id = link.created_by_key_id or 0
    return Principal(key_id=key_id, practice_group_id=link.practice_group_id,
                     home_practice_group_id=link.practice_group_id, scopes=frozenset({"booking"}))


async def practice_of(session: AsyncSession, link: Link) -> PracticeGroup:
    group = await session.get(PracticeGroup, link.practice_group_id)
    assert group is not None  # links cascade-delete with their group
    return group


async def record_open(session: AsyncSession, link: Link) -> None:
    model = type(link)
    await session.execute(update(model).where(model.id == link.id).values(open_count=model.open_count + 1)
                          .execution_options(synchronize_session=False))


# --- who is the patient ----------------------------------------------------------------------------

@dataclass(frozen=True)
class DobCheck:
    matched: bool
    locked: bool = False
    tries_left: int = 0


async def check_dob(session: AsyncSession, link: Link, dob: date, now: datetime) -> DobCheck:
    """Compare with the patient's date of birth. Wrong answers are counted in the database (they survive
    restarts and are shared by every server); the tenth locks the link."""
    model = type(link)
    patient = await session.get(Patient, link.patient_id) if link.patient_id else None
    if patient is not None and patient.dob == dob:
        await session.execute(update(model).where(model.id == link.id).values(failed_dob_attempts=0)
                              .execution_options(synchronize_session=False))
        return DobCheck(matched=True)
    failed = (await session.execute(
        update(model).where(model.id == link.id).values(failed_dob_attempts=model.failed_dob_attempts + 1)
        .returning(model.failed_dob_attempts).execution_options(synchronize_session=False))).scalar_one()
    if failed >= MAX_DOB_ATTEMPTS:
        await session.execute(update(model).where(model.id == link.id, model.locked_at.is_(None))
                              .values(locked_at=now).execution_options(synchronize_session=False))
        return DobCheck(matched=False, locked=True)
    return DobCheck(matched=False, tries_left=MAX_DOB_ATTEMPTS - failed)


@dataclass(frozen=True)
class Identity:
    """Who a generic link's patient says they are: name, date of birth, and a mobile or NHS number."""

    first_name: str
    last_name: str
    dob: date
    mobile: str | None
    nhs_number: str | None


async def _match(session: AsyncSession, group_id: int, who: Identity) -> Patient | None:
    if who.nhs_number:
        found = (await session.execute(select(Patient).where(
            Patient.practice_group_id == group_id, Patient.nhs_number == who.nhs_number))).scalar_one_or_none()
        if found is not None and found.status == "archived" and found.merged_into_id:
            found = await session.get(Patient, found.merged_into_id)  # merged: the kept record is the patient
        if found is not None and (found.dob != who.dob or (found.last_name or "").lower() != who.last_name.lower()):
            raise Refused(Refusal.MISMATCH)
        return found
    return (await session.execute(select(Patient).where(
        Patient.practice_group_id == group_id, Patient.status == "unarchived", Patient.dob == who.dob,
        Patient.mobile == who.mobile, func.lower(Patient.first_name) == who.first_name.lower(),
        func.lower(Patient.last_name) == who.last_name.lower()).order_by(Patient.id).limit(1))).scalar_one_or_none()


async def identify(session: AsyncSession, link: Link, who: Identity, now: datetime) -> Patient:
    """A generic link's patient: the practice's record that matches, or a new registration through the
    patients domain.

    An existing record is never changed from this anonymous page: an NHS number whose record has another
    date of birth or surname is refused, not overwritten."""
    found = await _match(session, link.practice_group_id, who)
    if found is not None:
        return found
    if who.mobile is None:
        raise Refused(Refusal.NEED_MOBILE)  # new to the practice: a way to reach them is needed
    details = RegisterPatientRequest(first_name=who.first_name, last_name=who.last_name, dob=who.dob.isoformat(),
                                     mobile=who.mobile, nhs_number=who.nhs_number, data_source="hero")
    try:
        return await patients.register(session, link_principal(link), details, now)
    except ApiError:  # a concurrent registration of the same NHS number with other details
        raise Refused(Refusal.MISMATCH) from None


# --- slots -----------------------------------------------------------------------------------------

def _window(link: BookingLink, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """from_date..to_date as instants: whole days on the practice's wall clock, to_date included."""
    start = datetime.combine(link.from_date, time(0), zone) if link.from_date else None
    end = datetime.combine(link.to_date + timedelta(days=1), time(0), zone) if link.to_date else None
    return start, end


async def free_slots(session: AsyncSession, link: BookingLink, zone: ZoneInfo, now: datetime, *, limit: int,
                     offset: int) -> tuple[Sequence[Any], bool]:
    """One page of the free (not held, not booked) future slots the link offers, in start order, and whether
    more follow. Fetching one row extra answers "more?" without counting every free slot in the window."""
    start, end = _window(link, zone)
    conditions = [Slot.practice_group_id == link.practice_group_id, Slot.published.is_(True),
                  Slot.start_time > now, repository.is_free(now),
                  Slot.appointment_type_id.in_(link.appointment_type_ids), Slot.location_id.in_(link.location_ids)]
    if link.practitioner_ids:
        conditions.append(Slot.practitioner_id.in_(link.practitioner_ids))
    if start is not None:
        conditions.append(Slot.start_time >= start)
    if end is not None:
        conditions.append(Slot.start_time < end)
    stmt = (select(Slot.id, Slot.practitioner_id, Slot.location_id, Slot.appointment_type_id, Slot.start_time)
            .where(*conditions).order_by(Slot.start_time, Slot.id).limit(limit + 1).offset(offset))
    rows = (await session.execute(stmt)).all()
    return rows[:limit], len(rows) > limit


def _offers(link: BookingLink, slot: Slot, zone: ZoneInfo) -> bool:
    start, end = _window(link, zone)
    return (slot.published and slot.appointment_type_id in link.appointment_type_ids
            and slot.location_id in link.location_ids
            and (not link.practitioner_ids or slot.practitioner_id in link.practitioner_ids)
            and (start is None or slot.start_time >= start) and (end is None or slot.start_time < end))


async def _release_previous(session: AsyncSession, link: BookingLink, patient_id: int, appointment_id: int,
                            now: datetime) -> None:
    """A patient who goes back and picks another time gives up the hold they had."""
    appt = await session.get(Appointment, appointment_id)
    if (appt is None or appt.link_id != link.id or appt.patient_id != patient_id
            or state_of(appt, now) is not AppointmentState.RESERVED):
        return
    await appointments.cancel(session, link_principal(link), str(appt.id), suppress_cancellation_policy=True,
                              suppress_mail=True, now=now)


async def hold(session: AsyncSession, link: BookingLink, zone: ZoneInfo, *, patient_id: int, slot_id: int,
               previous_appointment_id: int | None, now: datetime) -> Appointment:
    """Reserve the chosen slot for the patient (held for the practice's hold time, 15 minutes by default)."""
    slot = (await session.execute(select(Slot).where(Slot.id == slot_id,
                                                     Slot.practice_group_id == link.practice_group_id))
            ).scalar_one_or_none()
    if slot is None or not _offers(link, slot, zone):
        raise Refused(Refusal.NOT_OFFERED)
    if previous_appointment_id:
        await _release_previous(session, link, patient_id, previous_appointment_id, now)
    minutes = int((slot.finish_time - slot.start_time).total_seconds() // 60)
    placement = Placement(practitioner_id=slot.practitioner_id, location_id=slot.location_id,
                          appointment_type_id=slot.appointment_type_id, start_time=slot.start_time, duration=minutes)
    command = ReserveCommand(placement=placement, patient_id=patient_id, link_id=link.id,
                             reason="Booked by the patient through a booking link")
    try:
        return await appointments.reserve(session, link_principal(link), command, now)
    except ApiError:
        raise Refused(Refusal.SLOT_TAKEN) from None


async def held_appointment(session: AsyncSession, link: BookingLink, patient_id: int, appointment_id: int | None,
                           now: datetime) -> Appointment:
    """The patient's unexpired hold made through this link."""
    appt = await session.get(Appointment, appointment_id) if appointment_id else None
    if appt is None or appt.link_id != link.id or appt.patient_id != patient_id:
        raise Refused(Refusal.HOLD_EXPIRED)
    if state_of(appt, now) is not AppointmentState.RESERVED:
        raise Refused(Refusal.HOLD_EXPIRED)
    return appt


async def form_for(session: AsyncSession, appt: Appointment) -> Form | None:
    """The appointment type's form, if it has one (and it is still active)."""
    appt_type = await session.get(AppointmentType, appt.appointment_type_id)
    if appt_type is None or appt_type.form_id is None:
        return None
    return await forms.form_of_group(session, appt.practice_group_id, appt_type.form_id)


async def count_use(session: AsyncSession, link: Link) -> None:
    """Take one use of the link, or refuse when none is left. One conditional UPDATE, so two patients
    confirming at once can never both take the last use."""
    model = type(link)
    stmt = (update(model).where(model.id == link.id, model.active.is_(True), model.locked_at.is_(None),
                                (model.maximum_uses.is_(None)) | (model.number_of_uses < model.maximum_uses))
            .values(number_of_uses=model.number_of_uses + 1).execution_options(synchronize_session=False))
    if (await session.execute(stmt)).rowcount != 1:  # type: ignore[attr-defined]
        raise Refused(Refusal.USED_UP)


async def confirm(session: AsyncSession, link: BookingLink, *, patient_id: int, appointment: Appointment,
                  form: Form | None, answers: forms.CheckedAnswers | None, now: datetime) -> Appointment:
    """Book the held slot (booking writes appointment.confirmed and its task), store the form response and
    count the use; all or nothing. The use is taken last so the link's row stays locked (PostgreSQL) only for
    the end of the transaction: other patients opening the same link wait for it."""
    try:
        booked = await appointments.book(session, link_principal(link), str(appointment.id), now)
    except ApiError:
        raise Refused(Refusal.HOLD_EXPIRED) from None
    if form is not None and answers is not None:
        await forms.submit_response(session, form=form, patient_id=patient_id, checked=answers,
                                    appointment_id=booked.id, short_link_id=link.id,
                                    triggered_by={"type": "booking_link", "id": str(link.id)}, now=now)
    await count_use(session, link)
    return booked


async def submit_form(session: AsyncSession, link: FormLink, form: Form, *, patient_id: int,
                      answers: forms.CheckedAnswers, now: datetime) -> int:
    """A standalone form link's submission: one response (with its task and event), one use."""
    response = await forms.submit_response(session, form=form, patient_id=patient_id, checked=answers,
                                           short_link_id=link.id,
                                           triggered_by={"type": "form_link", "id": str(link.id)}, now=now)
    await count_use(session, link)
    return response.id
