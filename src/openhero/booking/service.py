"""Booking reads: appointment types with their slot-derived availability, and slot search."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.booking import repository
from openhero.booking.models import AppointmentType, Slot, appointment_type_locations
from openhero.booking.repository import SlotFilter
from openhero.core.auth import Principal
from openhero.core.errors import NotFound
from openhero.core.pagination import PageParams
from openhero.core.tenancy import get_owned, owned


async def list_appointment_types(session: AsyncSession, principal: Principal, *, location_ids: list[int]
                                 ) -> list[AppointmentType]:
    stmt = owned(AppointmentType, principal).where(AppointmentType.active.is_(True)).order_by(AppointmentType.id)
    if location_ids:
        stmt = stmt.where(AppointmentType.id.in_(
            select(appointment_type_locations.c.appointment_type_id)
            .where(appointment_type_locations.c.location_id.in_(location_ids))))
    return list((await session.execute(stmt)).scalars().all())


async def appointment_types_with_availability(
    session: AsyncSession, principal: Principal, *, location_ids: list[int], now: datetime,
    only_available: bool,
) -> list[tuple[AppointmentType, int, datetime | None]]:
    """Types with ``slot_count`` and ``next_available_at`` counted in SQL over free future slots (at the
    given locations when narrowed)."""
    types = await list_appointment_types(session, principal, location_ids=location_ids)
    stats = await repository.free_slot_stats(session, principal.practice_group_id, now, location_ids=location_ids)
    out = [(t, *stats.get(t.id, (0, None))) for t in types]
    return [row for row in out if row[1] > 0] if only_available else out


async def list_slots(session: AsyncSession, principal: Principal, flt: SlotFilter, page: PageParams,
                     now: datetime) -> tuple[Sequence[Any], int]:
    return await repository.page_free_slots(session, principal.practice_group_id, flt, now,
                                            limit=page.page_size, offset=page.offset)


async def count_slots(session: AsyncSession, principal: Principal, flt: SlotFilter, now: datetime) -> int:
    return await repository.count_free_slots(session, principal.practice_group_id, flt, now)


async def get_slot(session: AsyncSession, principal: Principal, raw_id: str) -> Slot:
    """Any published slot of the group, free or not (a partner may look up the slot it holds)."""
    slot = await get_owned(session, Slot, raw_id, principal, "Slot")
    if not slot.published:
        raise NotFound("Slot")
    return slot
