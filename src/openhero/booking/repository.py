"""Slot SQL: searching free slots and claiming/releasing them with conditional UPDATEs.

Free means ``appointment_id IS NULL OR held_until <= now``: an expired hold is free inside the very
statement that claims the slot, so no background job is needed for correctness. Every claim is one
conditional UPDATE whose row count says whether it won; a loser changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.booking.models import Slot
from openhero.booking.schemas import MAX_DURATION_MINUTES

# Slots never last longer than an appointment may, so overlap searches can bound their index range.
MAX_SLOT_LENGTH = timedelta(minutes=MAX_DURATION_MINUTES)

SLOT_COLUMNS = (Slot.id, Slot.practitioner_id, Slot.appointment_type_id, Slot.location_id, Slot.start_time,
                Slot.finish_time)


@dataclass(frozen=True)
class SlotFilter:
    appointment_type_ids: list[int] = field(default_factory=list)
    location_ids: list[int] = field(default_factory=list)
    practitioner_ids: list[int] = field(default_factory=list)
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive


def is_free(now: datetime) -> ColumnElement[bool]:
    return or_(Slot.appointment_id.is_(None), Slot.held_until <= now)


def _free_future(group_id: int, flt: SlotFilter, now: datetime) -> list[ColumnElement[bool]]:
    lower = Slot.start_time >= flt.start if flt.start and flt.start > now else Slot.start_time > now
    conds: list[ColumnElement[bool]] = [Slot.practice_group_id == group_id, lower, Slot.published.is_(True),
                                        is_free(now)]
    if flt.end:
        conds.append(Slot.start_time < flt.end)
    for column, values in ((Slot.appointment_type_id, flt.appointment_type_ids),
                           (Slot.location_id, flt.location_ids), (Slot.practitioner_id, flt.practitioner_ids)):
        if len(values) == 1:
            conds.append(column == values[0])
        elif values:
            conds.append(column.in_(values))
    return conds


def page_statement(group_id: int, flt: SlotFilter, now: datetime, *, limit: int, offset: int) -> Select[Any]:
    """The page plus the total as an uncorrelated scalar subquery (evaluated once). A ``count(*) OVER ()``
    window would read and sort every matching row before the LIMIT: 6.6 ms against 1.3 ms for a narrow
    week at 1M slots on SQLite, 87 against 49 ms for a whole week of a big practice."""
    conds = _free_future(group_id, flt, now)
    total = select(func.count()).select_from(Slot).where(*conds).scalar_subquery().label("total")
    return (select(*SLOT_COLUMNS, total).where(*conds)
            .order_by(Slot.start_time, Slot.id).limit(limit).offset(offset))


async def page_free_slots(session: AsyncSession, group_id: int, flt: SlotFilter, now: datetime, *,
                          limit: int, offset: int) -> tuple[Sequence[Any], int]:
    """One page of free future slots in start order plus the total, in one round trip; a page past the
    end falls back to a plain count."""
    rows = (await session.execute(page_statement(group_id, flt, now, limit=limit, offset=offset))).all()
    if rows:
        return rows, int(rows[0].total)
    total = 0 if offset == 0 else await count_free_slots(session, group_id, flt, now)
    return rows, total


async def count_free_slots(session: AsyncSession, group_id: int, flt: SlotFilter, now: datetime) -> int:
    stmt = select(func.count()).select_from(Slot).where(*_free_future(group_id, flt, now))
    return int((await session.execute(stmt)).scalar_one())


async def free_slot_stats(session: AsyncSession, group_id: int, now: datetime, *, location_ids: list[int]
                          ) -> dict[int, tuple[int, datetime]]:
    """Per appointment type: how many free future slots and the first one's start."""
    conds = _free_future(group_id, SlotFilter(location_ids=location_ids), now)
    stmt = (select(Slot.appointment_type_id, func.count(), func.min(Slot.start_time)).where(*conds)
            .group_by(Slot.appointment_type_id))
    return {row[0]: (int(row[1]), row[2]) for row in (await session.execute(stmt)).all()}


async def practitioners_with_free_slots(session: AsyncSession, group_id: int, now: datetime) -> set[int]:
    stmt = select(Slot.practitioner_id).where(*_free_future(group_id, SlotFilter(), now)).distinct()
    return set((await session.execute(stmt)).scalars().all())


async def overlapping_slots(session: AsyncSession, practitioner_id: int, start: datetime, end: datetime
                            ) -> list[Slot]:
    """Every slot of the practitioner overlapping [start, end), in start order (uses the unique
    (practitioner_id, start_time) index: the lower bound keeps the range scan short)."""
    stmt = (select(Slot).where(Slot.practitioner_id == practitioner_id, Slot.start_time < end,
                               Slot.start_time > start - MAX_SLOT_LENGTH, Slot.finish_time > start)
            .order_by(Slot.start_time)
            .execution_options(populate_existing=True))
    return list((await session.execute(stmt)).scalars().all())


async def claim(session: AsyncSession, slot_ids: list[int], *, appointment_id: int,
                held_until: datetime | None, now: datetime) -> int:
    """Take every slot in ``slot_ids`` that is free for ``appointment_id``; returns how many were taken.

    ``held_until`` None claims them as booked (reschedule); a caller compares the count with
    ``len(slot_ids)`` and raises (rolling back) when another appointment got there first."""
    if not slot_ids:
        return 0
    stmt = (update(Slot).where(Slot.id.in_(slot_ids), is_free(now))
            .values(appointment_id=appointment_id, held_until=held_until)
            .execution_options(synchronize_session=False))
    return int((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def confirm_held(session: AsyncSession, appointment_id: int, now: datetime) -> int:
    """Turn the appointment's unexpired holds into bookings; 0 means the hold lapsed."""
    stmt = (update(Slot).where(Slot.appointment_id == appointment_id, Slot.held_until > now)
            .values(held_until=None).execution_options(synchronize_session=False))
    return int((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def release(session: AsyncSession, appointment_id: int) -> int:
    """Free every slot the appointment holds or booked; its private (unpublished) slot is deleted."""
    await session.execute(delete(Slot).where(Slot.appointment_id == appointment_id, Slot.published.is_(False))
                          .execution_options(synchronize_session=False))
    stmt = (update(Slot).where(Slot.appointment_id == appointment_id)
            .values(appointment_id=None, held_until=None).execution_options(synchronize_session=False))
    return int((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def tidy_expired_holds(session: AsyncSession, now: datetime, *, limit: int = 1000) -> int:
    """Clear lapsed holds (cosmetic: claims already treat them as free)."""
    ids = select(Slot.id).where(and_(Slot.held_until.is_not(None), Slot.held_until <= now)).limit(limit)
    stmt = (update(Slot).where(Slot.id.in_(ids.scalar_subquery()), Slot.held_until <= now)
            .values(appointment_id=None, held_until=None).execution_options(synchronize_session=False))
    return int((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]
