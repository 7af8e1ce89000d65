"""Messaging test helpers: valid NHS numbers, linked EHR records, and reading rows back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from openhero.core.db import Database
from openhero.patients.models import EhrRecord, Patient
from tests.builders import make_row


def nhs_with_check_digit(first9: str) -> str | None:
    """The valid 10-digit NHS number starting with ``first9`` (None when no check digit exists)."""
    total = sum(int(d) * (10 - i) for i, d in enumerate(first9))
    check = 11 - total % 11
    if check == 10:
        return None
    return first9 + str(0 if check == 11 else check)


def untraceable_nhs(seed: int = 1) -> str:
    """A valid NHS number the sandbox PDS does not know."""
    n = seed
    while True:
        found = nhs_with_check_digit(f"943{n:06d}")
        if found:
            return found
        n += 1


async def link_to_ehr(db: Database, patient: Patient) -> EhrRecord:
    return await make_row(
        db,
        EhrRecord,
        practice_group_id=patient.practice_group_id,
        ehr_partner="emis",
        ehr_partner_id=f"EMIS-{patient.id}",
        nhs_number=patient.nhs_number,
        first_name=patient.first_name,
        last_name=patient.last_name,
        dob=patient.dob,
        linked_patient_id=patient.id,
    )


async def rows(db: Database, model: type, **where: Any) -> list[Any]:
    async with db.session(write=False) as s:
        stmt = select(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return list((await s.execute(stmt.order_by(model.id))).scalars())  # type: ignore[attr-defined]


async def count(db: Database, model: type) -> int:
    async with db.session(write=False) as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())
