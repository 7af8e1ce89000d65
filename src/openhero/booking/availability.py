"""Availability questions other domains ask of booking (practitioners, appointment types)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.booking import repository
from openhero.booking.models import AppointmentType, appointment_type_locations
from openhero.core.auth import Principal
from openhero.core.tenancy import owned


async def practitioner_constraints(session: AsyncSession, principal: Principal, type_ids: list[int]
                                   ) -> tuple[list[str], list[int]]:
    """Practitioner types and locations that can deliver the given appointment types."""
    types = (await session.execute(owned(AppointmentType, principal).where(AppointmentType.id.in_(type_ids))
                                   )).scalars().all()
    kinds = sorted({t.practitioner_type for t in types})
    locations = (await session.execute(select(appointment_type_locations.c.location_id).where(
        appointment_type_locations.c.appointment_type_id.in_([t.id for t in types])))).scalars().all()
    return kinds, sorted(set(locations))


async def practitioners_with_free_slots(session: AsyncSession, principal: Principal, *, now: datetime
                                        ) -> set[int]:
    """Ids of practitioners with at least one free slot after ``now`` (the request's injected clock)."""
    return await repository.practitioners_with_free_slots(session, principal.practice_group_id, now)
