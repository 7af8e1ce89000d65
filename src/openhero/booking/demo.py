"""Demo data: GP-surgery sessions for every practitioner of a practice group, two weeks ahead.

Weekday mornings 08:30-12:00 and afternoons 14:00-18:00 (Europe/London). Each session is at one of the
practitioner's locations and offers one appointment type the practitioner can deliver there (types
rotate through the week), cut into slots of that type's duration.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.booking.models import AppointmentType, Schedule
from openhero.booking.schedules import generate_slots
from openhero.practice.models import Practitioner

SESSIONS = (("08:30", "12:00"), ("14:00", "18:00"))
WEEKDAYS = "01234"


def _slot_minutes(appt_type: AppointmentType) -> int:
    # GP slots are 10 or 15 minutes; a type's own duration decides within that band.
    return min(max(appt_type.duration, 10), 15)


async def ensure_demo_schedules(session: AsyncSession, practice_group_id: int, now: datetime) -> int:
    """Give each active practitioner without schedules a weekly pattern; returns how many were made."""
    practitioners = (await session.execute(select(Practitioner).where(
        Practitioner.practice_group_id == practice_group_id, Practitioner.active.is_(True))
        .order_by(Practitioner.id))).scalars().all()
    types = (await session.execute(select(AppointmentType).where(
        AppointmentType.practice_group_id == practice_group_id, AppointmentType.active.is_(True))
        .order_by(AppointmentType.id))).scalars().all()
    scheduled = set((await session.execute(select(Schedule.practitioner_id).where(
        Schedule.practice_group_id == practice_group_id))).scalars().all())
    made = 0
    for practitioner in practitioners:
        if practitioner.id in scheduled or not practitioner.locations:
            continue
        for day in WEEKDAYS:
            for session_index, (start, end) in enumerate(SESSIONS):
                location = practitioner.locations[(int(day) + session_index) % len(practitioner.locations)]
                fitting = [t for t in types if t.practitioner_type == practitioner.practitioner_type
                           and (not t.locations or location.id in {loc.id for loc in t.locations})]
                if not fitting:
                    continue
                appt_type = fitting[(int(day) * len(SESSIONS) + session_index) % len(fitting)]
                session.add(Schedule(practice_group_id=practice_group_id, practitioner_id=practitioner.id,
                                     location_id=location.id, appointment_type_id=appt_type.id, weekdays=day,
                                     start_local=start, end_local=end, slot_minutes=_slot_minutes(appt_type),
                                     timezone="Europe/London", created_at=now, updated_at=now))
                made += 1
    await session.flush()
    return made


async def seed_demo_schedule(session: AsyncSession, practice_group_id: int, now: datetime, days: int = 14) -> int:
    """Schedules for every practitioner of the group (if missing) and their slots ``days`` ahead.
    Returns the number of slots created; safe to call again (it tops up, never duplicates)."""
    await ensure_demo_schedules(session, practice_group_id, now)
    return await generate_slots(session, practice_group_id, now, days)
