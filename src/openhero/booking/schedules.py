"""Schedules → concrete slots. Sessions are defined in the practice's local time (Europe/London) and
stored as UTC instants, so a 08:30 session is 08:30 on the surgery's wall clock in winter and summer."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.booking.models import Schedule, Slot


def _clock_time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def session_slots(schedule: Schedule, day: date) -> list[tuple[datetime, datetime]]:
    """The (start, finish) UTC instants of one schedule's slots on a local calendar day."""
    if str(day.weekday()) not in schedule.weekdays:
        return []
    if (schedule.valid_from and day < schedule.valid_from) or (schedule.valid_until and day > schedule.valid_until):
        return []
    zone = ZoneInfo(schedule.timezone)
    start = datetime.combine(day, _clock_time(schedule.start_local), zone)
    end = datetime.combine(day, _clock_time(schedule.end_local), zone)
    step = timedelta(minutes=schedule.slot_minutes)
    out = []
    while start + step <= end:
        out.append((start.astimezone(ZoneInfo("UTC")), (start + step).astimezone(ZoneInfo("UTC"))))
        start += step
    return out


async def generate_slots(session: AsyncSession, practice_group_id: int, now: datetime, days: int) -> int:
    """Materialise every active schedule of the group into future slots for ``days`` local days from
    today. Idempotent: a slot overlapping one the practitioner already has is skipped (so re-running, or a
    booking made outside published slots, never produces overlapping slots for one practitioner)."""
    schedules = (await session.execute(select(Schedule).where(
        Schedule.practice_group_id == practice_group_id, Schedule.active.is_(True))
        .order_by(Schedule.practitioner_id, Schedule.id))).scalars().all()
    if not schedules:
        return 0
    horizon = now + timedelta(days=days + 1)
    existing: dict[int, list[tuple[datetime, datetime]]] = {}
    rows = (await session.execute(select(Slot.practitioner_id, Slot.start_time, Slot.finish_time).where(
        Slot.practice_group_id == practice_group_id, Slot.finish_time > now,
        Slot.start_time < horizon))).all()
    for row in rows:
        existing.setdefault(row.practitioner_id, []).append((row.start_time, row.finish_time))
    values: list[dict[str, object]] = []
    for schedule in schedules:
        zone = ZoneInfo(schedule.timezone)
        today = now.astimezone(zone).date()
        taken = existing.setdefault(schedule.practitioner_id, [])
        for offset in range(days):
            for start, finish in session_slots(schedule, today + timedelta(days=offset)):
                if start <= now or any(s < finish and start < f for s, f in taken):
                    continue
                taken.append((start, finish))
                values.append({"practice_group_id": practice_group_id, "schedule_id": schedule.id,
                               "practitioner_id": schedule.practitioner_id, "location_id": schedule.location_id,
                               "appointment_type_id": schedule.appointment_type_id, "start_time": start,
                               "finish_time": finish, "published": True})
    for i in range(0, len(values), 1000):
        await session.execute(insert(Slot), values[i:i + 1000])
    return len(values)
