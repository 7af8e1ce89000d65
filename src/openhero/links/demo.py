"""Demo links: a generic booking link for the first bookable appointment type, a patient-specific one for
the first patient with a date of birth, and a care-navigation form link. Safe to call again (a group that
already has links is left alone). The short links are ``{public_base_url}/l/{code}`` and ``/f/{code}``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.booking.models import AppointmentType
from openhero.forms.models import Form
from openhero.links.models import BookingLink, FormLink
from openhero.links.service import new_code
from openhero.patients.models import Patient


async def seed_demo_links(session: AsyncSession, practice_group_id: int, now: datetime) -> list[BookingLink | FormLink]:
    existing = (await session.execute(select(func.count()).select_from(BookingLink).where(
        BookingLink.practice_group_id == practice_group_id))).scalar_one()
    if existing:
        return []
    types = (await session.execute(select(AppointmentType).where(
        AppointmentType.practice_group_id == practice_group_id, AppointmentType.active.is_(True),
        AppointmentType.sector == "nhs").order_by(AppointmentType.id))).scalars().all()
    bookable = next((t for t in types if t.locations), None)
    links: list[BookingLink | FormLink] = []
    common = {"practice_group_id": practice_group_id, "number_of_uses": 0, "open_count": 0, "active": True,
              "failed_dob_attempts": 0, "created_at": now, "updated_at": now}
    if bookable is not None:
        where = [bookable.locations[0].id]
        links.append(BookingLink(code=new_code(), patient_specific=False, appointment_type_ids=[bookable.id],
                                 location_ids=where, practitioner_ids=[], **common))
        patient = (await session.execute(select(Patient).where(
            Patient.practice_group_id == practice_group_id, Patient.dob.is_not(None),
            Patient.status == "unarchived").order_by(Patient.id).limit(1))).scalar_one_or_none()
        if patient is not None:
            links.append(BookingLink(code=new_code(), patient_id=patient.id, patient_specific=True,
                                     appointment_type_ids=[bookable.id], location_ids=where, practitioner_ids=[],
                                     maximum_uses=1, **common))
    navigation = (await session.execute(select(Form).where(
        Form.practice_group_id == practice_group_id, Form.form_type == "care_navigation",
        Form.active.is_(True)).order_by(Form.id).limit(1))).scalar_one_or_none()
    if navigation is not None:
        links.append(FormLink(code=new_code(), form_id=navigation.id, patient_specific=False, **common))
    session.add_all(links)
    await session.flush()
    return links
