"""Booking rules: appointment types (slots, reservations and appointments are added by the booking work)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.booking.models import AppointmentType, appointment_type_locations
from openhero.core.auth import Principal
from openhero.core.tenancy import owned


async def list_appointment_types(session: AsyncSession, principal: Principal, *, location_ids: list[int]
                                 ) -> list[AppointmentType]:
    stmt = owned(AppointmentType, principal).where(AppointmentType.active.is_(True)).order_by(AppointmentType.id)
    if location_ids:
        stmt = stmt.where(AppointmentType.id.in_(
            select(appointment_type_locations.c.appointment_type_id)
            .where(appointment_type_locations.c.location_id.in_(location_ids))))
    return list((await session.execute(stmt)).scalars().all())
