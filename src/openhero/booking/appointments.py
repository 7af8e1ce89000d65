"""Appointment rules: reserve, edit, book (confirm), cancel, reschedule.

Every change runs in the caller's transaction (the request's session, committed once by the
dependency). A refusal raises, and the raise rolls back everything the operation wrote, so a failed
reschedule keeps the old slot and a failed reserve leaves no appointment row behind.

On PostgreSQL every statement is a network round trip, so each operation reads what it checks in as few
SELECTs as it can: a reserve reads the practice group, the appointment type (and whether it is offered at
the location), the location, the practitioner, the patient and the practitioner's slots around the time in
one; an appointment is read with its practice group (so the response's policy needs no query) and, for a
book, with the facts its task describes. The checks then run in Python in the order the rules give, so
which refusal wins when several apply is as if each row had been looked up in turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, bindparam, exists, insert, null, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from openhero.booking import repository as slots
from openhero.booking.models import Appointment, AppointmentType, Slot, appointment_type_locations
from openhero.booking.states import Action, AppointmentState, require, state_of
from openhero.core.auth import Principal
from openhero.core.db import add_as_loaded
from openhero.core.errors import Conflict, NotFound, ValidationFailed
from openhero.core.ids import parse_id, to_id
from openhero.core.outbox import emit
from openhero.core.tenancy import get_owned
from openhero.patients.models import Patient
from openhero.practice.models import Location, PracticeGroup, Practitioner
from openhero.tasks.service import create_task


@dataclass(frozen=True)
class Placement:
    """Where and when an appointment sits."""

    practitioner_id: int
    location_id: int
    appointment_type_id: int
    start_time: datetime
    duration: int

    @property
    def end_time(self) -> datetime:
        return self.start_time + timedelta(minutes=self.duration)


@dataclass(frozen=True)
class ReserveCommand:
    placement: Placement
    patient_id: int | None = None
    billpayer_id: str | None = None
    reason: str | None = None
    suppress_mail: bool = False
    suppress_availability_check: bool = False
    link_id: int | None = None


async def practice_group(session: AsyncSession, principal: Principal) -> PracticeGroup:
    group = await session.get(PracticeGroup, principal.practice_group_id)
    if group is None:  # the key's group was deleted under it
        raise NotFound("Practice group")
    return group


_GROUP_KEPT = "openhero.booking.practice_group"

# What a booking's task says about the appointment, read with it (``book``).
_TASK_FACTS = (AppointmentType.name.label("type_name"), AppointmentType.assignee_type, AppointmentType.assignee_id,
               Practitioner.title, Practitioner.first_name, Practitioner.last_name, Location.name.label("site"))


@cache
def _appointment_statement(for_update: bool, task_facts: bool) -> Select[Any]:
    """Built once per shape (building a select costs more CPU than PostgreSQL takes to run this one)."""
    stmt = (select(Appointment, PracticeGroup).select_from(Appointment)
            .join(PracticeGroup, PracticeGroup.id == Appointment.practice_group_id)
            .where(Appointment.id == bindparam("appointment_id"),
                   Appointment.practice_group_id == bindparam("group_id")))
    if task_facts:
        stmt = (stmt.add_columns(*_TASK_FACTS)
                .outerjoin(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
                .outerjoin(Practitioner, Practitioner.id == Appointment.practitioner_id)
                .outerjoin(Location, Location.id == Appointment.location_id))
    if for_update:
        stmt = stmt.with_for_update(of=Appointment)
    return stmt


async def _appointment_row(session: AsyncSession, principal: Principal, raw_id: str, *, for_update: bool,
                           task_facts: bool = False) -> Row[Any]:
    """(appointment, its practice group[, the task's facts]) in one SELECT, or 404. The group lands in the
    session's identity map, so ``practice_group`` (the policy, the response) costs no further query; only
    the appointment's row is locked."""
    params = {"appointment_id": parse_id(raw_id, "Appointment"), "group_id": principal.practice_group_id}
    row = (await session.execute(_appointment_statement(for_update, task_facts), params)).one_or_none()
    if row is None:
        raise NotFound("Appointment")
    # The identity map holds rows weakly: keep the group alive for the session's later ``practice_group``.
    session.info[_GROUP_KEPT] = row[1]
    return row


async def get_appointment(session: AsyncSession, principal: Principal, raw_id: str, *,
                          for_update: bool = False) -> Appointment:
    appt: Appointment = (await _appointment_row(session, principal, raw_id, for_update=for_update))[0]
    return appt


def can_be_cancelled(appt: Appointment, policy_hours: int, now: datetime) -> bool:
    """Whether a cancel without ``suppress_cancellation_policy`` would succeed now."""
    state = state_of(appt, now)
    if state is AppointmentState.RESERVED:
        return True
    return state is AppointmentState.BOOKED and appt.start_time - now >= timedelta(hours=policy_hours)


def can_be_rescheduled(appt: Appointment, policy_hours: int, now: datetime) -> bool:
    return (state_of(appt, now) is AppointmentState.BOOKED
            and appt.start_time - now >= timedelta(hours=policy_hours))


_NO_ROW = -1  # stands in for a value that cannot be an id: it matches no row

# The overlap search's slot columns, labelled apart from the facts they are read with.
_SLOT_VIEW = (Slot.id.label("slot_id"), Slot.start_time.label("slot_start"), Slot.finish_time.label("slot_finish"),
              Slot.published.label("slot_published"), Slot.location_id.label("slot_location_id"),
              Slot.appointment_type_id.label("slot_type_id"), Slot.appointment_id.label("slot_appointment_id"),
              Slot.held_until.label("slot_held_until"))


@dataclass(frozen=True)
class SlotView:
    """What planning needs of an existing slot (read as plain columns, not as an ORM object)."""

    id: int
    start_time: datetime
    finish_time: datetime
    published: bool
    location_id: int
    appointment_type_id: int
    appointment_id: int | None
    held_until: datetime | None


_WHEN = Slot.start_time.type  # binds datetimes as the columns store them (UTC text on SQLite)


def _overlap_condition() -> Any:
    """Slots of ``practitioner_id`` overlapping [``start``, ``end``); as repository.overlapping_slots, the lower
    bound ``earliest`` (start - the longest slot) keeps the (practitioner_id, start_time) range scan short."""
    return and_(Slot.practitioner_id == bindparam("practitioner_id"),
                Slot.start_time < bindparam("end", type_=_WHEN), Slot.start_time > bindparam("earliest", type_=_WHEN),
                Slot.finish_time > bindparam("start", type_=_WHEN))


@cache
def _placement_statement(with_patient: bool, with_slots: bool) -> Select[Any]:
    """One row per overlapping slot (one row with NULL slot columns when there is none) of: the group's
    hold length, the appointment type's flags and whether it is offered at the location, whether the
    location, practitioner (and patient) exist in the group. No row: the group itself is gone. Built once
    per shape; the values are bound at execution."""
    links = appointment_type_locations.c
    type_id, location_id = bindparam("type_id"), bindparam("location_id")
    stmt = (select(PracticeGroup.reservation_hold_minutes.label("hold_minutes"),
                   AppointmentType.id.label("type_id"), AppointmentType.active.label("type_active"),
                   AppointmentType.video, AppointmentType.in_person, AppointmentType.telephone,
                   exists().where(links.appointment_type_id == type_id).label("type_has_locations"),
                   exists().where(links.appointment_type_id == type_id, links.location_id == location_id)
                   .label("type_offered_here"),
                   Location.id.label("location_found"),
                   Practitioner.id.label("practitioner_found"), Practitioner.active.label("practitioner_active"))
            .select_from(PracticeGroup)
            .outerjoin(AppointmentType, and_(AppointmentType.id == type_id,
                                             AppointmentType.practice_group_id == PracticeGroup.id))
            .outerjoin(Location, and_(Location.id == location_id, Location.practice_group_id == PracticeGroup.id))
            .outerjoin(Practitioner, and_(Practitioner.id == bindparam("practitioner_id"),
                                          Practitioner.practice_group_id == PracticeGroup.id))
            .where(PracticeGroup.id == bindparam("group_id")))
    if with_patient:
        stmt = (stmt.add_columns(Patient.id.label("patient_found"))
                .outerjoin(Patient, and_(Patient.id == bindparam("patient_id"),
                                         Patient.practice_group_id == PracticeGroup.id)))
    if with_slots:
        stmt = stmt.add_columns(*_SLOT_VIEW).outerjoin(Slot, _overlap_condition()).order_by(Slot.start_time)
    else:
        stmt = stmt.add_columns(null().label("slot_id"))
    return stmt


def _bound_id(raw: object) -> int:
    found = to_id(raw)
    return _NO_ROW if found is None else found


def _placement_params(principal: Principal, placement: Placement, patient_id: int | None = None
                      ) -> dict[str, Any]:
    return {"group_id": principal.practice_group_id, "type_id": _bound_id(placement.appointment_type_id),
            "location_id": _bound_id(placement.location_id),
            "practitioner_id": _bound_id(placement.practitioner_id), "patient_id": _bound_id(patient_id),
            **_overlap_params(placement)}


def _overlap_params(placement: Placement) -> dict[str, Any]:
    return {"practitioner_id": _bound_id(placement.practitioner_id), "start": placement.start_time,
            "end": placement.end_time, "earliest": placement.start_time - slots.MAX_SLOT_LENGTH}


def _slot_views(rows: list[Row[Any]]) -> list[SlotView]:
    return [SlotView(r.slot_id, r.slot_start, r.slot_finish, r.slot_published, r.slot_location_id, r.slot_type_id,
                     r.slot_appointment_id, r.slot_held_until) for r in rows if r.slot_id is not None]


def _check_facts(facts: Row[Any] | None, placement: Placement, now: datetime) -> Row[Any]:
    """The referenced rows exist in this practice group and can take an appointment; the refusals in the
    order they were always given (group, time, type, location, practitioner, then what they allow)."""
    if facts is None:  # the key's group was deleted under it
        raise NotFound("Practice group")
    if placement.start_time <= now:
        raise ValidationFailed("start_time must be in the future", code="invalid_date",
                               expected="a future date-time", path=["start_time"])
    if facts.type_id is None:
        raise NotFound("Appointment type")
    if facts.location_found is None:
        raise NotFound("Location")
    if facts.practitioner_found is None:
        raise NotFound("Practitioner")
    if not facts.type_active:
        raise Conflict("The appointment type is no longer offered", code="appointment_type_inactive",
                       expected="an active appointment type", path=["appointment_type_id"])
    if not facts.practitioner_active:
        raise Conflict("The practitioner is not taking appointments", code="practitioner_inactive",
                       expected="an active practitioner", path=["practitioner_id"])
    if facts.type_has_locations and not facts.type_offered_here:
        raise Conflict("The appointment type is not offered at that location", code="location_not_offered",
                       expected="a location of the appointment type", path=["location_id"])
    return facts


async def _check_placement(session: AsyncSession, principal: Principal, placement: Placement, now: datetime
                           ) -> Row[Any]:
    """The referenced rows exist in this practice group and can take an appointment (one SELECT)."""
    facts = (await session.execute(_placement_statement(False, False),
                                   _placement_params(principal, placement))).first()
    return _check_facts(facts, placement, now)


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def _lock_practitioner(session: AsyncSession, practitioner_id: int) -> None:
    """Serialise bookings outside published slots per practitioner on PostgreSQL (SQLite write
    transactions are already serial: BEGIN IMMEDIATE). NO KEY UPDATE leaves foreign-key checks of
    ordinary reservations unblocked."""
    if _is_postgres(session):
        await session.execute(select(Practitioner.id).where(Practitioner.id == practitioner_id)
                              .with_for_update(key_share=True))  # FOR NO KEY UPDATE


_OVERLAPPING = select(*_SLOT_VIEW).where(_overlap_condition()).order_by(Slot.start_time)


async def _overlapping(session: AsyncSession, placement: Placement) -> list[SlotView]:
    """Every slot of the practitioner overlapping the placement, in start order."""
    rows = (await session.execute(_OVERLAPPING, _overlap_params(placement))).all()
    return _slot_views(list(rows))


def _covering_chain(overlap: list[SlotView], placement: Placement) -> list[SlotView] | None:
    """The published slots at the placement's location and type that cover it back to back, or None."""
    if not overlap or overlap[0].start_time != placement.start_time:
        return None
    edge = placement.start_time
    for slot in overlap:
        if (not slot.published or slot.start_time != edge or slot.location_id != placement.location_id
                or slot.appointment_type_id != placement.appointment_type_id):
            return None
        edge = slot.finish_time
    return overlap if edge >= placement.end_time else None


def _lapsed(slot: SlotView, now: datetime) -> bool:
    return slot.appointment_id is None or (slot.held_until is not None and slot.held_until <= now)


def _unavailable() -> Conflict:
    return Conflict("That slot is already reserved or booked", code="slot_unavailable", expected="a free slot",
                    path=["start_time"])


@dataclass
class SlotPlan:
    """The slots an appointment will claim; ``primary`` None means a private slot must be made."""

    placement: Placement
    chain: list[SlotView | Slot]
    primary: SlotView | Slot | None


async def _plan_slots(session: AsyncSession, placement: Placement, *, suppress: bool, now: datetime,
                      overlap: list[SlotView] | None = None) -> SlotPlan:
    """Which slots the placement needs (``overlap``: the practitioner's slots around the time when the
    caller has already read them). Refuses early (no writes yet) when one is visibly taken; the claim
    itself is still decided by the conditional UPDATE in ``_claim``."""
    if overlap is None:
        if suppress:
            await _lock_practitioner(session, placement.practitioner_id)
        overlap = await _overlapping(session, placement)
    chain: list[SlotView | Slot]
    primary: SlotView | Slot | None
    if suppress:
        # Every slot of the practitioner under the time is claimed, so it never overlaps a live booking.
        chain = list(overlap)
        primary = next((s for s in overlap if s.start_time == placement.start_time), None)
    else:
        if any(not s.published and not _lapsed(s, now) for s in overlap):
            raise _unavailable()
        # A lapsed private slot of a dead reservation is no obstacle (and is not claimed).
        found = _covering_chain([s for s in overlap if s.published], placement)
        if found is None:
            raise Conflict("No published slot for that practitioner, location, appointment type and time",
                           code="slot_not_found", expected="the start_time of a slot from GET /v1/slots",
                           path=["start_time"])
        chain, primary = list(found), found[0]
    if not all(_lapsed(s, now) for s in chain):  # type: ignore[arg-type]
        raise _unavailable()
    return SlotPlan(placement=placement, chain=chain, primary=primary)


async def _primary_slot(session: AsyncSession, practice_group_id: int, plan: SlotPlan) -> SlotView | Slot:
    """The slot the appointment records: the first published one, or a new private slot for a time outside
    published slots (claimed together with everything it overlaps)."""
    if plan.primary is not None:
        return plan.primary
    placement = plan.placement
    private = Slot(practice_group_id=practice_group_id, practitioner_id=placement.practitioner_id,
                   location_id=placement.location_id, appointment_type_id=placement.appointment_type_id,
                   start_time=placement.start_time, finish_time=placement.end_time, published=False)
    session.add(private)
    try:
        await session.flush()
    except IntegrityError:  # slot generation raced us to that start time
        raise _unavailable() from None
    plan.chain.append(private)
    plan.primary = private
    return private


async def _claim(session: AsyncSession, appt: Appointment, plan: SlotPlan, *, held_until: datetime | None,
                 now: datetime) -> None:
    """Claim the plan's slots for ``appt`` in one conditional UPDATE, or raise 409 (the caller's
    transaction then rolls back everything, the appointment row included)."""
    primary = await _primary_slot(session, appt.practice_group_id, plan)
    taken = await slots.claim(session, [s.id for s in plan.chain], appointment_id=appt.id, held_until=held_until,
                              now=now)
    if taken != len(plan.chain):
        raise _unavailable()
    if appt.slot_id != primary.id:
        appt.slot_id = primary.id


# The slot writes of reserve and book, built once with bound values: the conditions of repository.claim and
# repository.confirm_held (which edit and reschedule use), run on the Core path.
_CLAIMABLE = (Slot.id.in_(bindparam("claim_ids", expanding=True)),
              or_(Slot.appointment_id.is_(None), Slot.held_until <= bindparam("claim_now", type_=_WHEN)))
_HOLD_UNTIL = bindparam("new_reserved_until", type_=_WHEN)
# SQLite: after the appointment's INSERT.
_CLAIM = update(Slot).where(*_CLAIMABLE).values(appointment_id=bindparam("claim_for"), held_until=_HOLD_UNTIL)
_CONFIRM_HOLDS = (update(Slot)
                  .where(Slot.appointment_id == bindparam("appt_id"), Slot.held_until > bindparam("at", type_=_WHEN))
                  .values(held_until=None))
_INSERT_APPOINTMENT = insert(Appointment).returning(Appointment.id)


@cache
def _reserve_statement() -> Any:
    """PostgreSQL: INSERT the appointment and claim its slots in one statement (a data-modifying CTE);
    returns the appointment id once per slot claimed. Every column is bound (``new_<column>``)."""
    table = Appointment.__table__
    new = (insert(Appointment)
           .values({c.key: bindparam(f"new_{c.key}", type_=c.type) for c in table.c if c.key != "id"})
           .returning(Appointment.id).cte("new_appointment"))
    return (update(Slot).where(*_CLAIMABLE)
            .values(appointment_id=select(new.c.id).scalar_subquery(), held_until=_HOLD_UNTIL)
            .returning(Slot.appointment_id))


async def reserve(session: AsyncSession, principal: Principal, cmd: ReserveCommand, now: datetime
                  ) -> Appointment:
    """POST /v1/appointments: a hold on the slot until now + the group's hold length.

    Round trips: one SELECT of everything checked (slots included), then INSERT the appointment and UPDATE
    (claim) its slots: one statement on PostgreSQL, two on SQLite. A time outside published slots on
    PostgreSQL reads the slots after locking the practitioner (and INSERTs the private slot)."""
    placement = cmd.placement
    suppress = cmd.suppress_availability_check
    postgres = _is_postgres(session)
    # Outside published slots PostgreSQL must lock the practitioner before it reads the slots.
    with_slots = not (suppress and postgres)
    statement = _placement_statement(cmd.patient_id is not None, with_slots)
    conn = await session.connection()  # plain rows: the Core path skips the ORM's per-statement work
    rows = list((await conn.execute(statement, _placement_params(principal, placement, cmd.patient_id))).all())
    facts = _check_facts(rows[0] if rows else None, placement, now)
    if cmd.patient_id is not None and facts.patient_found is None:
        raise NotFound("Patient")
    plan = await _plan_slots(session, placement, suppress=suppress, now=now,
                             overlap=_slot_views(rows) if with_slots else None)
    primary = await _primary_slot(session, principal.practice_group_id, plan)
    values = {
        "practice_group_id": principal.practice_group_id, "slot_id": primary.id, "patient_id": cmd.patient_id,
        "practitioner_id": placement.practitioner_id, "location_id": placement.location_id,
        "appointment_type_id": placement.appointment_type_id, "start_time": placement.start_time,
        "duration": placement.duration, "video": facts.video, "in_person": facts.in_person,
        "telephone": facts.telephone, "video_url": None, "link_id": cmd.link_id, "billpayer_id": cmd.billpayer_id,
        "reason": cmd.reason, "suppress_mail": cmd.suppress_mail, "availability_check_suppressed": suppress,
        "reserved_until": now + timedelta(minutes=facts.hold_minutes), "booking_confirmed_at": None,
        "cancelled_at": None, "cancellation_policy_suppressed": False, "rescheduled_at": None,
        "previous_start_time": None, "created_by_key_id": principal.key_id or None, "created_at": now,
        "updated_at": now}
    slot_ids = [s.id for s in plan.chain]
    claim = {"claim_ids": slot_ids, "claim_now": now, "new_reserved_until": values["reserved_until"]}
    if postgres:
        claimed = (await conn.execute(_reserve_statement(), {
            **{f"new_{name}": value for name, value in values.items()}, **claim})).scalars().all()
        if len(claimed) != len(slot_ids):
            raise _unavailable()  # the appointment row goes with the rollback
        appt_id = claimed[0]
    else:
        appt_id = (await conn.execute(_INSERT_APPOINTMENT, values)).scalar_one()
        if (await conn.execute(_CLAIM, {**claim, "claim_for": appt_id})).rowcount != len(slot_ids):
            raise _unavailable()
    return add_as_loaded(session, Appointment, {"id": appt_id, **values})  # type: ignore[no-any-return]


async def edit(session: AsyncSession, principal: Principal, raw_id: str, *, start_time: datetime, duration: int,
               practitioner_id: int, suppress_availability_check: bool, suppress_mail: bool | None,
               now: datetime) -> Appointment:
    """PUT /v1/appointments/{id}: move an unconfirmed reservation; availability is checked again and the
    hold keeps its original expiry (editing never extends it)."""
    appt = await get_appointment(session, principal, raw_id, for_update=True)
    require(Action.EDIT, appt, now)
    placement = Placement(practitioner_id=practitioner_id, location_id=appt.location_id,
                          appointment_type_id=appt.appointment_type_id, start_time=start_time, duration=duration)
    await _check_placement(session, principal, placement, now)
    await slots.release(session, appt.id)
    plan = await _plan_slots(session, placement, suppress=suppress_availability_check, now=now)
    await _claim(session, appt, plan, held_until=appt.reserved_until, now=now)
    _place(appt, placement)
    appt.availability_check_suppressed = suppress_availability_check
    if suppress_mail is not None:
        appt.suppress_mail = suppress_mail
    appt.updated_at = now
    await session.flush()
    return appt


def _place(appt: Appointment, placement: Placement) -> None:
    appt.practitioner_id, appt.location_id = placement.practitioner_id, placement.location_id
    appt.start_time, appt.duration = placement.start_time, placement.duration


_CONFIRMED = {"booking_confirmed_at": bindparam("at", type_=_WHEN), "reserved_until": None,
              "updated_at": bindparam("at", type_=_WHEN)}
# SQLite: after _CONFIRM_HOLDS turned the holds into bookings.
_MARK_CONFIRMED = update(Appointment).where(Appointment.id == bindparam("appt_id")).values(_CONFIRMED)


@cache
def _confirm_statement() -> Any:
    """PostgreSQL: the holds become bookings and the appointment confirmed in one statement; the appointment
    changes only when at least one unexpired hold was found (a data-modifying CTE)."""
    held = _CONFIRM_HOLDS.returning(Slot.id).cte("held")
    return (update(Appointment).where(Appointment.id == bindparam("appt_id"), exists(select(held.c.id)))
            .values(_CONFIRMED))


async def _confirm(session: AsyncSession, appt: Appointment, now: datetime) -> bool:
    """Turn the appointment's unexpired holds into bookings and mark it confirmed; False (nothing changed)
    when no hold is left. The instance is told the new values as stored, so no flush writes them again."""
    params = {"appt_id": appt.id, "at": now}
    conn = await session.connection()
    if _is_postgres(session):
        if (await conn.execute(_confirm_statement(), params)).rowcount == 0:
            return False
    else:
        if (await conn.execute(_CONFIRM_HOLDS, params)).rowcount == 0:
            return False
        await conn.execute(_MARK_CONFIRMED, params)
    for name, value in (("booking_confirmed_at", now), ("reserved_until", None), ("updated_at", now)):
        set_committed_value(appt, name, value)
    return True


async def book(session: AsyncSession, principal: Principal, raw_id: str, now: datetime) -> Appointment:
    """Confirm a reservation: its holds become bookings, an event and a practice task are written in the
    same transaction.

    Round trips: SELECT the appointment (locked) with its group and the task's facts; confirm (PostgreSQL:
    one statement, SQLite: UPDATE the slots, UPDATE the appointment); INSERT the event (+ NOTIFY on
    PostgreSQL); INSERT the task."""
    row = await _appointment_row(session, principal, raw_id, for_update=True, task_facts=True)
    appt: Appointment = row[0]
    group: PracticeGroup = row[1]
    require(Action.BOOK, appt, now)
    if not await _confirm(session, appt, now):
        raise Conflict("The reservation has expired; reserve the slot again", code="reservation_expired",
                       expected="an unconfirmed, unexpired reservation", path=["id"])
    await emit(session, "appointment.confirmed", "Appointment", appt.id,
               practice_group_id=appt.practice_group_id, now=now)
    assignee = _ASSIGNEE_TYPES.get(row.assignee_type or "")
    task_args = dict(practice_group_id=appt.practice_group_id, type_label="Appointment booked",
                     category="appointment", patient_id=appt.patient_id, appointment_id=appt.id,
                     details=_describe(appt, row, group.timezone),
                     triggered_by={"type": "api_key", "id": str(principal.key_id)}, now=now)
    try:
        # The appointment type's assignee (e.g. the reception team for paid appointments) gets the task.
        await create_task(session, **task_args, assignee_type=assignee,  # type: ignore[arg-type]
                          assignee_id=row.assignee_id if assignee else None)
    except ValidationFailed:  # the configured assignee no longer exists: the task goes to the shared inbox
        await create_task(session, **task_args)  # type: ignore[arg-type]
    return appt


# AppointmentType.assignee_type (contract spelling) -> the tasks service's spelling.
_ASSIGNEE_TYPES = {"Admin": "admin", "AdminTeam": "admin_team"}


def _describe(appt: Appointment, facts: Any, timezone: str | None) -> str:
    """The task's text: what, with whom, where and when (in the practice's local time)."""
    when = appt.start_time.astimezone(ZoneInfo(timezone or "Europe/London")).strftime("%a %d %b %Y %H:%M")
    who = " ".join(x for x in (facts.title, facts.first_name, facts.last_name) if x)
    return f"{facts.type_name} ({appt.duration} min) with {who} at {facts.site} on {when}"


def _check_policy(appt: Appointment, group: PracticeGroup, now: datetime, *, suppress_policy: bool,
                  action: str) -> None:
    if appt.start_time <= now:
        raise Conflict(f"The appointment has already started; it cannot be {action}", code="appointment_started",
                       expected="an appointment in the future", path=["id"])
    window = timedelta(hours=group.cancellation_policy_hours)
    if not suppress_policy and appt.start_time - now < window:
        raise Conflict(f"Inside the practice's {group.cancellation_policy_hours}-hour cancellation window; "
                       f"send suppress_cancellation_policy to override", code="cancellation_policy",
                       expected=f"at least {group.cancellation_policy_hours} hours before the start",
                       path=["suppress_cancellation_policy"])


async def cancel(session: AsyncSession, principal: Principal, raw_id: str, *, suppress_cancellation_policy: bool,
                 suppress_mail: bool | None, now: datetime) -> Appointment:
    appt = await get_appointment(session, principal, raw_id, for_update=True)
    state = require(Action.CANCEL, appt, now)
    if state is AppointmentState.BOOKED:
        group = await practice_group(session, principal)
        _check_policy(appt, group, now, suppress_policy=suppress_cancellation_policy, action="cancelled")
    await slots.release(session, appt.id)
    appt.cancelled_at = now
    appt.cancellation_policy_suppressed = suppress_cancellation_policy
    if suppress_mail is not None:
        appt.suppress_mail = suppress_mail
    appt.updated_at = now
    await session.flush()
    if state is AppointmentState.BOOKED:
        # Releasing an unconfirmed hold is not news to anyone; cancelling a booking is.
        await emit(session, "appointment.cancelled", "Appointment", appt.id,
                   practice_group_id=appt.practice_group_id, now=now)
    return appt


async def reschedule(session: AsyncSession, principal: Principal, raw_id: str, *, start_time: datetime | None,
                     slot_id: int | None, duration: int | None, practitioner_id: int | None,
                     location_id: int | None, suppress_availability_check: bool,
                     suppress_cancellation_policy: bool, suppress_mail: bool | None, now: datetime) -> Appointment:
    """Move a booking to another free time: the new slots are claimed and the old ones freed in one
    transaction, so either both happen or neither does."""
    appt = await get_appointment(session, principal, raw_id, for_update=True)
    require(Action.RESCHEDULE, appt, now)
    group = await practice_group(session, principal)
    _check_policy(appt, group, now, suppress_policy=suppress_cancellation_policy, action="rescheduled")
    if slot_id is not None:
        target = await get_owned(session, Slot, slot_id, principal, "Slot")
        if not target.published:
            raise NotFound("Slot", path=["slot_id"])
        placement = Placement(practitioner_id=target.practitioner_id, location_id=target.location_id,
                              appointment_type_id=appt.appointment_type_id, start_time=target.start_time,
                              duration=duration or appt.duration)
    else:
        assert start_time is not None  # the endpoint requires one of the two
        placement = Placement(practitioner_id=practitioner_id or appt.practitioner_id,
                              location_id=location_id or appt.location_id,
                              appointment_type_id=appt.appointment_type_id, start_time=start_time,
                              duration=duration or appt.duration)
    await _check_placement(session, principal, placement, now)
    previous = appt.start_time
    await slots.release(session, appt.id)
    plan = await _plan_slots(session, placement, suppress=suppress_availability_check, now=now)
    await _claim(session, appt, plan, held_until=None, now=now)
    _place(appt, placement)
    appt.previous_start_time, appt.rescheduled_at, appt.updated_at = previous, now, now
    if suppress_mail is not None:
        appt.suppress_mail = suppress_mail
    await session.flush()
    await emit(session, "appointment.rescheduled", "Appointment", appt.id,
               practice_group_id=appt.practice_group_id, data={"previous_start_time": previous.isoformat()},
               now=now)
    return appt
