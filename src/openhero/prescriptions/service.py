"""Pharmacies: registered per practice group, linked to the prescribers who use them.

A prescriber is an admin of the practice group with an ``external_prescriber_id`` (set through
PATCH /v1/admins/{id}). A pharmacy is identified by its email within the practice group: registering
the same email again (for the same or another prescriber) updates that pharmacy and links it, so
the call is idempotent and concurrent registrations never make duplicates.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core.auth import Principal
from openhero.core.errors import NotFound, ValidationFailed
from openhero.core.pagination import PageParams
from openhero.core.tenancy import parse_id
from openhero.practice.models import Admin
from openhero.prescriptions.models import Pharmacy, prescriber_pharmacies


async def _prescriber(session: AsyncSession, group_id: int, admin_id: int) -> Admin | None:
    return (await session.execute(select(Admin).where(
        Admin.id == admin_id, Admin.practice_group_id == group_id,
        Admin.external_prescriber_id.is_not(None)))).scalar_one_or_none()


def _insert(session: AsyncSession, table):  # type: ignore[no-untyped-def]
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def create_pharmacy(session: AsyncSession, principal: Principal, *, name: str, email: str, mobile: str,
                          prescriber_id: str, ods_code: str | None, postcode: str | None,
                          now: datetime) -> Pharmacy:
    group_id = principal.practice_group_id
    admin = await _prescriber(session, group_id, int(prescriber_id))
    if admin is None:
        raise ValidationFailed(f"No prescriber {prescriber_id} in this practice group", code="invalid_prescriber",
                               expected="an admin of this practice group with an external_prescriber_id",
                               path=["prescriber_id"])
    values = {"name": name, "mobile": mobile, "updated_at": now}
    if ods_code is not None:
        values["ods_code"] = ods_code
    if postcode is not None:
        values["postcode"] = postcode
    stmt = _insert(session, Pharmacy.__table__).values(practice_group_id=group_id, email=email, created_at=now,
                                                      **values)
    # Upsert on (practice_group_id, email): one row however many partners register it at once.
    stmt = stmt.on_conflict_do_update(index_elements=["practice_group_id", "email"], set_=values)
    await session.execute(stmt)
    pharmacy = (await session.execute(
        select(Pharmacy).where(Pharmacy.practice_group_id == group_id, Pharmacy.email == email)
        .execution_options(populate_existing=True))).scalar_one()
    link = _insert(session, prescriber_pharmacies).values(admin_id=admin.id, pharmacy_id=pharmacy.id,
                                                          created_at=now)
    await session.execute(link.on_conflict_do_nothing())
    return pharmacy


async def prescriber_pharmacies_page(session: AsyncSession, principal: Principal, raw_id: str,
                                     page: PageParams) -> tuple[int, list[Pharmacy], int]:
    admin = await _prescriber(session, principal.practice_group_id, parse_id(raw_id, "Prescriber"))
    if admin is None:
        raise NotFound("Prescriber")
    link = prescriber_pharmacies
    base = (select(Pharmacy).join(link, link.c.pharmacy_id == Pharmacy.id)
            .where(link.c.admin_id == admin.id, Pharmacy.practice_group_id == principal.practice_group_id))
    count = (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    rows = (await session.execute(base.order_by(func.lower(Pharmacy.name), Pharmacy.id)
                                  .limit(page.page_size).offset(page.offset))).scalars().all()
    return admin.id, list(rows), int(count)
