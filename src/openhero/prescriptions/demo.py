"""Demo pharmacies for a practice group (fictional Leeds community pharmacies; emails on example.com,
mobiles in Ofcom's drama range), linked to the group's prescribers. When the group has no prescriber,
a clinical pharmacist admin with an external prescriber id is added. Safe to call again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.practice.models import Admin
from openhero.prescriptions.models import Pharmacy, prescriber_pharmacies

# name, email, mobile, ODS code, postcode
DEMO_PHARMACIES = [
    ("Roundhay Road Pharmacy", "roundhay.pharmacy@example.com", "07700900401", "FX101", "LS8 5AN"),
    ("Oakwood Parade Chemist", "oakwood.chemist@example.com", "07700900402", "FX102", "LS8 2JS"),
    ("Harehills Community Pharmacy", "harehills.pharmacy@example.com", "07700900403", "FX103", "LS9 7HY"),
    ("Chapel Allerton Pharmacy", "chapelallerton.pharmacy@example.com", "07700900404", "FX104", "LS7 4NU"),
]


async def _prescribers(session: AsyncSession, practice_group_id: int, now: datetime) -> list[Admin]:
    found = list((await session.execute(select(Admin).where(
        Admin.practice_group_id == practice_group_id, Admin.external_prescriber_id.is_not(None))
        .order_by(Admin.id))).scalars())
    if found:
        return found
    pharmacist = Admin(practice_group_id=practice_group_id, first_name="Priya", last_name="Shah",
                       email=f"priya.shah.{practice_group_id}@example.com", role="Clinical Pharmacist",
                       external_prescriber_id=f"DEMO-PRESC-{practice_group_id:04d}", created_at=now, updated_at=now)
    session.add(pharmacist)
    await session.flush()
    return [pharmacist]


async def seed_demo_pharmacies(session: AsyncSession, practice_group_id: int, now: datetime) -> list[Pharmacy]:
    prescribers = await _prescribers(session, practice_group_id, now)
    have = set((await session.execute(select(Pharmacy.email).where(
        Pharmacy.practice_group_id == practice_group_id))).scalars())
    created = []
    for name, email, mobile, ods, postcode in DEMO_PHARMACIES:
        if email in have:
            continue
        pharmacy = Pharmacy(practice_group_id=practice_group_id, name=name, email=email, mobile=mobile,
                            ods_code=ods, postcode=postcode, created_at=now, updated_at=now)
        session.add(pharmacy)
        await session.flush()
        # The first prescriber uses every demo pharmacy; the others the first two.
        for i, admin in enumerate(prescribers):
            if i == 0 or len(created) < 2:
                await session.execute(insert(prescriber_pharmacies).values(
                    admin_id=admin.id, pharmacy_id=pharmacy.id, created_at=now))
        created.append(pharmacy)
    return created
