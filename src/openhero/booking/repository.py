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

from sqlalchemy import ColumnElement, Select, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.booking.models import Slot
from openhero.booking.schemas import MAX_DURATION_MINUTES
from openhero.core.db import Prepared, read_rows

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


# Free future slots matching a filter, as SQL with bound parameters, built once per filter *shape* (which
# filters are present, one id or several): building the statement (a dozen column comparisons) cost more CPU
# per request than running it on SQLite. The values are bound at execution.
_ID_FILTERS = (("appointment_type_ids", Slot.appointment_type_id), ("location_ids", Slot.location_id),
               ("practitioner_ids", Slot.practitioner_id))
_STATEMENTS = Prepared(limit=512)  # 4 statements × 108 filter shapes: every one fits


def _shape(flt: SlotFilter, now: datetime) -> tuple[Any, ...]:
    return (bool(flt.start and flt.start > now), flt.end is not None,
            *(min(len(getattr(flt, name)), 2) for name, _column in _ID_FILTERS))


def _free_future(shape: tuple[Any, ...]) -> list[ColumnElement[bool]]:
    after_start, has_end, *id_counts = shape
    when = Slot.start_time.type
    now = bindparam("now", type_=when)
    conds: list[ColumnElement[bool]] = [
        Slot.practice_group_id == bindparam("group_id"),
        Slot.start_time >= bindparam("start", type_=when) if after_start else Slot.start_time > now,
        Slot.published.is_(True), or_(Slot.appointment_id.is_(None), Slot.held_until <= now)]
    if has_end:
        conds.append(Slot.start_time < bindparam("end", type_=when))
    for (name, column), count in zip(_ID_FILTERS, id_counts, strict=True):
        if count == 1:
            conds.append(column == bindparam(name))
        elif count:
            conds.append(column.in_(bindparam(name, expanding=True)))
    return conds


def _page(shape: tuple[Any, ...]) -> Select[Any]:
    """The page plus the total as an uncorrelated scalar subquery (evaluated once). A ``count(*) OVER ()``
    window would read and sort every matching row before the LIMIT: 6.6 ms against 1.3 ms for a narrow
    week at 1M slots on SQLite, 87 against 49 ms for a whole week of a big practice."""
    conds = _free_future(shape)
    total = select(func.count()).select_from(Slot).where(*conds).scalar_subquery().label("total")
    return (select(*SLOT_COLUMNS, total).where(*conds).order_by(Slot.start_time, Slot.id)
            .limit(bindparam("limit")).offset(bindparam("offset")))


def _count(shape: tuple[Any, ...]) -> Select[Any]:
    return select(func.count()).select_from(Slot).where(*_free_future(shape))


def _type_stats(shape: tuple[Any, ...]) -> Select[Any]:
    return (select(Slot.appointment_type_id, func.count(), func.min(Slot.start_time))
            .where(*_free_future(shape)).group_by(Slot.appointment_type_id))


def _practitioners(shape: tuple[Any, ...]) -> Select[Any]:
    return select(Slot.practitioner_id).where(*_free_future(shape)).distinct()


def _prepared(kind: Any, flt: SlotFilter, now: datetime, **extra: Any) -> tuple[Select[Any], dict[str, Any]]:
    shape = _shape(flt, now)
    values: dict[str, Any] = {"now": now, "start": flt.start, "end": flt.end, **extra}
    for name, _column in _ID_FILTERS:
        ids = getattr(flt, name)
        values[name] = ids[0] if len(ids) == 1 else ids
    return _STATEMENTS.bind((kind, shape), lambda: kind(shape), values)  # type: ignore[return-value]


def page_statement(group_id: int, flt: SlotFilter, now: datetime, *, limit: int, offset: int) -> Select[Any]:
    """The page query with its values bound in (for EXPLAIN and reading)."""
    stmt, params = _prepared(_page, flt, now, group_id=group_id, limit=limit, offset=offset)
    return stmt.params(**params)


async def _rows(session: AsyncSession, kind: Any, flt: SlotFilter, now: datetime, **extra: Any) -> Sequence[Any]:
    """Run a prepared statement as Core rows (no ORM compilation layer: these only read columns)."""
    stmt, params = _prepared(kind, flt, now, **extra)
    return await read_rows(session, stmt, params)


async def page_free_slots(session: AsyncSession, group_id: int, flt: SlotFilter, now: datetime, *,
                          limit: int, offset: int) -> tuple[Sequence[Any], int]:
    """One page of free future slots in start order plus the total, in one round trip; a page past the
    end falls back to a plain count."""
    rows = await _rows(session, _page, flt, now, group_id=group_id, limit=limit, offset=offset)
    if rows:
        return rows, int(rows[0].total)
    total = 0 if offset == 0 else await count_free_slots(session, group_id, flt, now)
    return rows, total


async def count_free_slots(session: AsyncSession, group_id: int, flt: SlotFilter, now: datetime) -> int:
    return int((await _rows(session, _count, flt, now, group_id=group_id))[0][0])


async def free_slot_stats(session: AsyncSession, group_id: int, now: datetime, *, location_ids: list[int]
                          ) -> dict[int, tuple[int, datetime]]:
    """Per appointment type: how many free future slots and the first one's start."""
    rows = await _rows(session, _type_stats, SlotFilter(location_ids=location_ids), now, group_id=group_id)
    return {row[0]: (int(row[1]), row[2]) for row in rows}


async def practitioners_with_free_slots(session: AsyncSession, group_id: int, now: datetime) -> set[int]:
    return {row[0] for row in await _rows(session, _practitioners, SlotFilter(), now, group_id=group_id)}


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
