"""Invoicing builders: paid appointment types, coupons, appointments, an issuing admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from openhero.booking.models import Appointment, AppointmentType
from openhero.core.db import Database
from openhero.invoicing.models import Coupon
from tests.builders import make_admin, make_location, make_patient, make_practitioner, make_row


async def make_paid_type(db: Database, group_id: int, name: str, price: str, **overrides: Any) -> AppointmentType:
    values = {"practice_group_id": group_id, "name": name, "sector": "paid", "price": Decimal(price),
              "duration": 20, "in_person": True}
    values.update(overrides)
    return await make_row(db, AppointmentType, **values)


async def make_coupon(db: Database, group_id: int, code: str, **overrides: Any) -> Coupon:
    values = {"practice_group_id": group_id, "stripe_id": code, "name": code.title()}
    values.update(overrides)
    return await make_row(db, Coupon, **values)


async def make_appointment(db: Database, group_id: int, patient_id: int | None, type_id: int, start: datetime
                           ) -> Appointment:
    practitioner = await make_practitioner(db, group_id)
    location = await make_location(db, group_id)
    return await make_row(db, Appointment, practice_group_id=group_id, patient_id=patient_id,
                          practitioner_id=practitioner.id, location_id=location.id, appointment_type_id=type_id,
                          start_time=start, duration=20, booking_confirmed_at=start - timedelta(days=2))


@dataclass
class Clinic:
    """A private clinic's catalogue: travel jabs, an HGV medical, a medical report; one admin, one patient."""

    issuer_id: str
    patient_id: str
    price: dict[str, str]  # product name -> price_… id
    product: dict[str, str]  # product name -> prod_… id


async def make_clinic(db: Database, api: Any, group_id: int) -> Clinic:
    await make_paid_type(db, group_id, "Yellow fever vaccination", "75.00")
    await make_paid_type(db, group_id, "HGV medical", "120.00")
    await make_paid_type(db, group_id, "Medical report", "95.50")
    await make_row(db, AppointmentType, practice_group_id=group_id, name="GP appointment", sector="nhs")
    admin = await make_admin(db, group_id)
    patient = await make_patient(db, group_id)
    products = (await api.get("/v1/invoicing/products")).json()["data"]
    return Clinic(issuer_id=str(admin.id), patient_id=str(patient.id),
                  price={p["name"]: p["price"] for p in products}, product={p["name"]: p["id"] for p in products})
