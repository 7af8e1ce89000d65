"""What a patient does through a link: prove who they are, see free times, hold one, answer the form
and confirm. Booking itself goes through the booking domain's public functions, acting as the link's
practice group; every step runs in the page's transaction.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.booking import appointments, repository
from openhero.booking.appointments import Placement, ReserveCommand
from openhero.booking.models import Appointment, AppointmentType, Slot
from openhero.booking.states import AppointmentState, state_of
from openhero.core.auth import Principal
from openhero.core.errors import ApiError
from openhero.forms import service as forms
from openhero.forms.models import Form, FormResponse
from openhero.links.models import MAX_DOB_ATTEMPTS, BookingLink, FormLink, LinkIdentityAttempt
from openhero.patients import service as patients
from openhero.patients.models import Patient
from openhero.patients.schemas import RegisterPatientRequest
from openhero.practice.models import PracticeGroup
from openhero.tasks.service import create_task

Link = BookingLink | FormLink


class Refusal(StrEnum):
    USED_UP = "used_up"  # the last use went to someone else meanwhile
    SLOT_TAKEN = "slot_taken"
    HOLD_EXPIRED = "hold_expired"
    NOT_OFFERED = "not_offered"  # a slot outside what the link offers
    MISMATCH = "mismatch"  # identity details contradict the practice's records, or cannot register
    NEED_IDENTITY_CHECK = "need_identity_check"  # name and date of birth match a record: one more detail
    IDENTITY_LOCKED = "identity_locked"  # ten wrong tries for this NHS number on this link
    LINK_LOCKED = "link_locked"  # ten wrong tries on this link in a row


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
        locked = await session.execute(update(model).where(model.id == link.id, model.locked_at.is_(None))
                                       .values(locked_at=now).execution_options(synchronize_session=False))
        if locked.rowcount:  # type: ignore[attr-defined]
            await _lock_task(session, link, f"The date of birth was entered wrongly {MAX_DOB_ATTEMPTS} times.", now)
        return DobCheck(matched=False, locked=True)
    return DobCheck(matched=False, tries_left=MAX_DOB_ATTEMPTS - failed)


@dataclass(frozen=True)
class Identity:
    """Who a generic link's patient says they are: name, date of birth, a mobile or NHS number, and (the
    further step when name and date of birth match a record but nothing else does) a postcode."""

    first_name: str
    last_name: str
    dob: date
    mobile: str | None
    nhs_number: str | None
    postcode: str | None = None


def _kind(link: Link) -> str:
    return "booking" if isinstance(link, BookingLink) else "form"


async def _lock_task(session: AsyncSession, link: Link, what: str, now: datetime) -> None:
    """A lock is news for the practice: someone may be guessing, or a patient is stuck."""
    await create_task(session, practice_group_id=link.practice_group_id,
                      type_label=f"{_kind(link).title()} link locked", category="link_locked",
                      patient_id=link.patient_id, priority="high",
                      details=f"{what} Reactivate the link (PATCH active: true) once you have spoken to the patient.",
                      triggered_by={"type": f"{_kind(link)}_link", "id": str(link.id)}, now=now)


def _subject(secret: str, nhs_number: str) -> str:
    return hmac.new(f"link-identity:{secret}".encode(), nhs_number.encode(), hashlib.sha256).hexdigest()


async def _count_failure(session: AsyncSession, link: Link, subject: str | None, now: datetime) -> Refusal:
    """One more wrong try: on the link (ten in a row lock it for everyone until the practice reopens it) and,
    when an NHS number was given, on that NHS number (ten lock it on this link). Every refusal looks the same
    to the patient, so a known NHS number cannot be told from an unknown one."""
    model = type(link)
    failed = (await session.execute(
        update(model).where(model.id == link.id).values(failed_dob_attempts=model.failed_dob_attempts + 1)
        .returning(model.failed_dob_attempts).execution_options(synchronize_session=False))).scalar_one()
    if failed >= MAX_DOB_ATTEMPTS:
        locked = await session.execute(update(model).where(model.id == link.id, model.locked_at.is_(None))
                                       .values(locked_at=now).execution_options(synchronize_session=False))
        if locked.rowcount:  # type: ignore[attr-defined]
            await _lock_task(session, link, f"Identity details that match no record were entered "
                                            f"{MAX_DOB_ATTEMPTS} times in a row on this link.", now)
        return Refusal.LINK_LOCKED
    if subject is None:
        return Refusal.MISMATCH
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    table = LinkIdentityAttempt.__table__
    stmt = insert(table).values(link_kind=_kind(link), link_id=link.id, subject=subject, failures=1)
    stmt = stmt.on_conflict_do_update(index_elements=["link_kind", "link_id", "subject"],
                                      set_={"failures": table.c.failures + 1}).returning(table.c.failures)
    if (await session.execute(stmt)).scalar_one() >= MAX_DOB_ATTEMPTS:
        locked = await session.execute(update(table).where(
            table.c.link_kind == _kind(link), table.c.link_id == link.id, table.c.subject == subject,
            table.c.locked_at.is_(None)).values(locked_at=now))
        if locked.rowcount:  # type: ignore[attr-defined]
            await _lock_task(session, link, f"Wrong details were given {MAX_DOB_ATTEMPTS} times for one NHS number; "
                                            f"that NHS number cannot identify on this link until it is reactivated.",
                             now)
        return Refusal.IDENTITY_LOCKED
    return Refusal.MISMATCH


async def _number_locked(session: AsyncSession, link: Link, subject: str) -> bool:
    return (await session.execute(select(LinkIdentityAttempt.id).where(
        LinkIdentityAttempt.link_kind == _kind(link), LinkIdentityAttempt.link_id == link.id,
        LinkIdentityAttempt.subject == subject, LinkIdentityAttempt.locked_at.is_not(None)))).first() is not None


async def _clear_failures(session: AsyncSession, link: Link, subject: str | None) -> None:
    model = type(link)
    if link.failed_dob_attempts:
        await session.execute(update(model).where(model.id == link.id).values(failed_dob_attempts=0)
                              .execution_options(synchronize_session=False))
    if subject is not None:
        await session.execute(delete(LinkIdentityAttempt).where(
            LinkIdentityAttempt.link_kind == _kind(link), LinkIdentityAttempt.link_id == link.id,
            LinkIdentityAttempt.subject == subject))


async def clear_identity_locks(session: AsyncSession, link: Link) -> None:
    """The practice reopened the link: every NHS number locked on it may try again."""
    await session.execute(delete(LinkIdentityAttempt).where(LinkIdentityAttempt.link_kind == _kind(link),
                                                            LinkIdentityAttempt.link_id == link.id))


def _same_person(found: Patient, who: Identity) -> bool:
    return found.dob == who.dob and (found.last_name or "").lower() == who.last_name.lower()


async def _by_nhs_number(session: AsyncSession, group_id: int, who: Identity) -> Patient | None:
    found = (await session.execute(select(Patient).where(
        Patient.practice_group_id == group_id, Patient.nhs_number == who.nhs_number))).scalar_one_or_none()
    if found is not None and found.status == "archived" and found.merged_into_id:
        found = await session.get(Patient, found.merged_into_id)  # merged: the kept record is the patient
    if found is not None and not _same_person(found, who):
        raise Refused(Refusal.MISMATCH)
    return found


async def _namesakes(session: AsyncSession, group_id: int, who: Identity) -> Sequence[Patient]:
    """Live records with this name and date of birth (a typo in the mobile must not make a second one)."""
    return (await session.execute(select(Patient).where(
        Patient.practice_group_id == group_id, Patient.status == "unarchived", Patient.dob == who.dob,
        func.lower(Patient.first_name) == who.first_name.lower(),
        func.lower(Patient.last_name) == who.last_name.lower()).order_by(Patient.id).limit(20))).scalars().all()


def _postcode(value: str | None) -> str:
    return "".join((value or "").split()).upper()


async def identify(session: AsyncSession, link: Link, who: Identity, now: datetime, *, secret: str) -> Patient:
    """A generic link's patient: the practice's record that matches, or a new registration through the
    patients domain.

    An existing record is never changed from this anonymous page: an NHS number whose record has another
    date of birth or surname is refused, not overwritten. When name and date of birth match a record but
    the mobile does not (and no NHS number was given), one more detail is asked for (NHS number or postcode)
    before a second record is made, and a record made that way raises a practice task."""
    subject = _subject(secret, who.nhs_number) if who.nhs_number else None
    if subject is not None and await _number_locked(session, link, subject):
        raise Refused(Refusal.IDENTITY_LOCKED)
    group_id = link.practice_group_id
    try:
        found = await _by_nhs_number(session, group_id, who) if who.nhs_number else None
    except Refused:
        raise Refused(await _count_failure(session, link, subject, now)) from None
    namesakes: Sequence[Patient] = ()
    if found is None and not who.nhs_number:
        namesakes = await _namesakes(session, group_id, who)
        found = next((p for p in namesakes if who.mobile and p.mobile == who.mobile), None)
        if found is None and namesakes:
            if who.postcode is None:
                raise Refused(Refusal.NEED_IDENTITY_CHECK)
            found = next((p for p in namesakes if _postcode(p.postcode) == _postcode(who.postcode)), None)
    if found is not None:
        await _clear_failures(session, link, subject)
        return found
    if who.mobile is None:  # new to the practice: a way to reach them is needed (same answer as a mismatch)
        raise Refused(await _count_failure(session, link, subject, now))
    if who.nhs_number and not namesakes:
        namesakes = [p for p in await _namesakes(session, group_id, who) if p.nhs_number is None]
    details = RegisterPatientRequest(first_name=who.first_name, last_name=who.last_name, dob=who.dob.isoformat(),
                                     mobile=who.mobile, nhs_number=who.nhs_number, data_source="hero")
    try:
        patient = await patients.register(session, link_principal(link), details, now)
    except ApiError:  # a concurrent registration of the same NHS number with other details
        raise Refused(await _count_failure(session, link, subject, now)) from None
    await _clear_failures(session, link, subject)
    if namesakes:
        await create_task(session, practice_group_id=group_id, type_label="Check for a duplicate patient",
                          category="patient_registration", patient_id=patient.id, priority="medium",
                          details=f"Registered through a {_kind(link)} link with the same name and date of birth "
                                  f"as patient {', '.join(str(p.id) for p in namesakes)}: check whether they are "
                                  f"the same person and merge if so.",
                          triggered_by={"type": f"{_kind(link)}_link", "id": str(link.id)}, now=now)
    return patient


# --- slots -----------------------------------------------------------------------------------------

def _window(link: BookingLink, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """from_date..to_date as instants: whole days on the practice's wall clock, to_date included."""
    start = datetime.combine(link.from_date, time(0), zone) if link.from_date else None
    end = datetime.combine(link.to_date + timedelta(days=1), time(0), zone) if link.to_date else None
    return start, end


async def free_slots(session: AsyncSession, link: BookingLink, zone: ZoneInfo, now: datetime, *, limit: int,
                     offset: int, type_id: int | None = None, from_day: date | None = None
                     ) -> tuple[Sequence[Any], bool]:
    """One page of the free (not held, not booked) future slots the link offers, in start order, and whether
    more follow. Fetching one row extra answers "more?" without counting every free slot in the window."""
    start, end = _window(link, zone)
    conditions = [Slot.practice_group_id == link.practice_group_id, Slot.published.is_(True),
                  Slot.start_time > now, repository.is_free(now),
                  Slot.appointment_type_id.in_(link.appointment_type_ids), Slot.location_id.in_(link.location_ids)]
    if link.practitioner_ids:
        conditions.append(Slot.practitioner_id.in_(link.practitioner_ids))
    if type_id is not None:
        conditions.append(Slot.appointment_type_id == type_id)
    if from_day is not None:
        chosen = datetime.combine(from_day, time(0), zone)
        start = chosen if start is None else max(start, chosen)
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


async def release_hold(session: AsyncSession, link: BookingLink, patient_id: int, appointment_id: int,
                       now: datetime) -> None:
    """A patient who goes back and picks another time (or says "Not you?") gives up the hold they had."""
    appt = await session.get(Appointment, appointment_id)
    if (appt is None or appt.link_id != link.id or appt.patient_id != patient_id
            or state_of(appt, now) is not AppointmentState.RESERVED):
        return
    await appointments.cancel(session, link_principal(link), str(appt.id), suppress_cancellation_policy=True,
                              suppress_mail=True, now=now)


async def _current_hold(session: AsyncSession, link: BookingLink, patient_id: int, slot_id: int,
                        now: datetime) -> Appointment | None:
    """This patient's live hold of this slot through this link (a second click on the same time)."""
    rows = (await session.execute(select(Appointment).where(
        Appointment.slot_id == slot_id, Appointment.link_id == link.id, Appointment.patient_id == patient_id,
        Appointment.cancelled_at.is_(None), Appointment.booking_confirmed_at.is_(None)))).scalars().all()
    return next((a for a in rows if state_of(a, now) is AppointmentState.RESERVED), None)


async def hold(session: AsyncSession, link: BookingLink, zone: ZoneInfo, *, patient_id: int, slot_id: int,
               previous_appointment_id: int | None, now: datetime) -> Appointment:
    """Reserve the chosen slot for the patient (held for the practice's hold time, 15 minutes by default).
    Choosing the time this patient already holds (a double click, or Back and the same time) is that hold."""
    slot = (await session.execute(select(Slot).where(Slot.id == slot_id,
                                                     Slot.practice_group_id == link.practice_group_id))
            ).scalar_one_or_none()
    if slot is None or not _offers(link, slot, zone):
        raise Refused(Refusal.NOT_OFFERED)
    current = await _current_hold(session, link, patient_id, slot_id, now)
    if current is not None:
        return current
    if previous_appointment_id:
        await release_hold(session, link, patient_id, previous_appointment_id, now)
    minutes = int((slot.finish_time - slot.start_time).total_seconds() // 60)
    placement = Placement(practitioner_id=slot.practitioner_id, location_id=slot.location_id,
                          appointment_type_id=slot.appointment_type_id, start_time=slot.start_time, duration=minutes)
    command = ReserveCommand(placement=placement, patient_id=patient_id, link_id=link.id,
                             suppress_mail=link.suppress_mail, reason="Booked by the patient through a booking link")
    try:
        return await appointments.reserve(session, link_principal(link), command, now)
    except ApiError:
        raise Refused(Refusal.SLOT_TAKEN) from None


async def booked_through(session: AsyncSession, link: BookingLink, patient_id: int, appointment_id: int | None
                         ) -> Appointment | None:
    """The appointment, locked, when it is already this patient's booking through this link: a second
    Confirm (double click, Back and resubmit) shows that booking instead of booking or failing again."""
    if appointment_id is None:
        return None
    appt = (await session.execute(select(Appointment).where(Appointment.id == appointment_id).with_for_update()
                                  .execution_options(populate_existing=True))).scalar_one_or_none()
    if (appt is None or appt.link_id != link.id or appt.patient_id != patient_id
            or appt.booking_confirmed_at is None or appt.cancelled_at is not None):
        return None
    return appt


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


RESUBMIT_WINDOW = timedelta(minutes=10)


async def submit_form(session: AsyncSession, link: FormLink, form: Form, *, patient_id: int,
                      answers: forms.CheckedAnswers, now: datetime) -> int:
    """A standalone form link's submission: one response (with its task and event), one use.

    The same answers from the same patient through the same link within ten minutes are the same submission
    (a double click, or Back and Send again): its id is returned and nothing is stored twice. The link's row
    is locked first so two such requests at once are taken one after the other."""
    await session.execute(select(FormLink.id).where(FormLink.id == link.id).with_for_update())
    recent = (await session.execute(select(FormResponse).where(
        FormResponse.short_link_id == link.id, FormResponse.form_id == form.id,
        FormResponse.patient_id == patient_id, FormResponse.created_at >= now - RESUBMIT_WINDOW)
        .order_by(FormResponse.id.desc()).limit(5))).scalars().all()
    for earlier in recent:
        if earlier.answers == answers.answers:
            return earlier.id
    response = await forms.submit_response(session, form=form, patient_id=patient_id, checked=answers,
                                           short_link_id=link.id,
                                           triggered_by={"type": "form_link", "id": str(link.id)}, now=now)
    await count_use(session, link)
    return response.id
