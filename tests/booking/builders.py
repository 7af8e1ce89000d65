"""Booking builders: appointment types, slots, and a ready-to-book practice (``BookingWorld``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from openhero.booking.models import AppointmentType, Slot, appointment_type_locations
from openhero.core.db import Database
from openhero.practice.models import Location, Practitioner, practitioner_locations
from tests.builders import Tenant, make_location, make_practitioner, make_row, make_tenant


async def make_appointment_type(db: Database, group_id: int, *, location_ids: list[int] = (),  # type: ignore[assignment]
                                **overrides: Any) -> AppointmentType:
    values: dict[str, Any] = {"practice_group_id": group_id, "name": "GP appointment", "duration": 10,
                              "in_person": True, "price": Decimal("0"), "practitioner_type": "GP"}
    values.update(overrides)
    row = await make_row(db, AppointmentType, **values)
    if location_ids:
        async with db.session() as s:
            await s.execute(insert(appointment_type_locations),
                            [{"appointment_type_id": row.id, "location_id": loc} for loc in location_ids])
            await s.commit()
    return row


async def place_practitioner(db: Database, practitioner_id: int, location_ids: list[int]) -> None:
    async with db.session() as s:
        await s.execute(insert(practitioner_locations),
                        [{"practitioner_id": practitioner_id, "location_id": loc} for loc in location_ids])
        await s.commit()


async def make_slots(db: Database, group_id: int, *, practitioner_id: int, location_id: int,
                     appointment_type_id: int, start: datetime, count: int = 1, minutes: int = 10) -> list[int]:
    """``count`` back-to-back slots from ``start``; returns their ids in order."""
    rows = [{"practice_group_id": group_id, "practitioner_id": practitioner_id, "location_id": location_id,
             "appointment_type_id": appointment_type_id, "published": True,
             "start_time": start + timedelta(minutes=minutes * i),
             "finish_time": start + timedelta(minutes=minutes * (i + 1))} for i in range(count)]
    async with db.session() as s:
        await s.execute(insert(Slot), rows)
        await s.commit()
        ids = (await s.execute(select(Slot.id).where(Slot.practitioner_id == practitioner_id,
                                                     Slot.start_time >= start).order_by(Slot.start_time)
                               .limit(count))).scalars().all()
    return list(ids)


@dataclass
class BookingWorld:
    tenant: Tenant
    location: Location
    practitioner: Practitioner
    appt_type: AppointmentType
    start: datetime  # first slot: two days ahead, 09:00 UTC
    slot_ids: list[int] = field(default_factory=list)

    def reserve_body(self, start: datetime | None = None, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"appointment_type_id": str(self.appt_type.id), "location_id": str(self.location.id),
                                "practitioner_id": str(self.practitioner.id), "duration": 10,
                                "start_time": iso(start or self.start)}
        body.update(overrides)
        return body


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def make_world(db: Database, now: datetime, *, slots: int = 6, tenant: Tenant | None = None
                     ) -> BookingWorld:
    tenant = tenant or await make_tenant(db)
    location = await make_location(db, tenant.id)
    practitioner = await make_practitioner(db, tenant.id)
    await place_practitioner(db, practitioner.id, [location.id])
    appt_type = await make_appointment_type(db, tenant.id, location_ids=[location.id])
    start = (now + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    ids = await make_slots(db, tenant.id, practitioner_id=practitioner.id, location_id=location.id,
                           appointment_type_id=appt_type.id, start=start, count=slots)
    return BookingWorld(tenant=tenant, location=location, practitioner=practitioner, appt_type=appt_type,
                        start=start, slot_ids=ids)
