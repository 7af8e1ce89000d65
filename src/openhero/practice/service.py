"""Practice group, locations, practitioners and admins: reads and the few writes the API allows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core.auth import Principal
from openhero.core.db import read_rows
from openhero.core.errors import NotFound
from openhero.core.pagination import PageParams, paginate
from openhero.core.tenancy import get_owned, owned
from openhero.practice.models import Admin, Location, PracticeGroup, Practitioner, practitioner_locations
from openhero.practice.schemas import UpdateAdminRequest, UpdatePracticeGroupRequest


async def get_practice_group(session: AsyncSession, principal: Principal) -> PracticeGroup:
    group = await session.get(PracticeGroup, principal.practice_group_id)
    if group is None:
        raise NotFound("Practice group")
    return group


GROUP_VIEW_COLUMNS = ("id", "name", "sector", "ods_code", "network_id", "phone", "email",
                       "prescription_partner_enabled", "prescription_partner", "email_from", "email_reply_to",
                       "created_at", "address")
_GROUP_VIEW = select(*(getattr(PracticeGroup, c) for c in GROUP_VIEW_COLUMNS)).where(
    PracticeGroup.id == bindparam("group_id"))


async def practice_group_view(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    """The acting group's public fields as a dict (one Core select, no ORM object: ``GET /v1/me`` is the
    most frequent call a partner makes)."""
    rows = await read_rows(session, _GROUP_VIEW, {"group_id": principal.practice_group_id})
    if not rows:
        raise NotFound("Practice group")
    return dict(rows[0]._mapping)


async def update_practice_group(session: AsyncSession, principal: Principal,
                                body: UpdatePracticeGroupRequest) -> PracticeGroup:
    group = await get_practice_group(session, principal)
    changes = body.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is not None:
        group.name = changes["name"]
    if changes.get("prescription_partner_enabled") is not None:
        group.prescription_partner_enabled = changes["prescription_partner_enabled"]
    if "prescription_partner" in changes:
        group.prescription_partner = changes["prescription_partner"]
    if changes.get("prescription_partner_credentials") is not None:
        # Kept for the prescription integration; never echoed back by the API.
        group.prescription_partner_credentials = {**group.prescription_partner_credentials,
                                                  **changes["prescription_partner_credentials"]}
    if changes.get("address") is not None:
        group.address = {**group.address, **{k: v for k, v in changes["address"].items() if v is not None}}
    for field in ("email_from", "email_reply_to"):
        if field in changes:  # null clears it
            setattr(group, field, changes[field])
    await session.flush()
    return group


async def list_locations(session: AsyncSession, principal: Principal) -> list[Location]:
    stmt = owned(Location, principal).where(Location.online_booking_enabled.is_(True)).order_by(Location.id)
    return list((await session.execute(stmt)).scalars().all())


async def list_practitioners(session: AsyncSession, principal: Principal, *, location_ids: list[int],
                             practitioner_types: list[str] | None = None,
                             only_ids: set[int] | None = None) -> list[Practitioner]:
    stmt = owned(Practitioner, principal).where(Practitioner.active.is_(True)).order_by(Practitioner.id)
    if location_ids:
        stmt = stmt.where(Practitioner.id.in_(
            select(practitioner_locations.c.practitioner_id)
            .where(practitioner_locations.c.location_id.in_(location_ids))))
    if practitioner_types is not None:
        stmt = stmt.where(Practitioner.practitioner_type.in_(practitioner_types))
    if only_ids is not None:
        stmt = stmt.where(Practitioner.id.in_(only_ids))
    return list((await session.execute(stmt)).scalars().all())


async def get_practitioner(session: AsyncSession, principal: Principal, practitioner_id: str) -> Practitioner:
    return await get_owned(session, Practitioner, practitioner_id, principal, "Practitioner")


async def list_admins(session: AsyncSession, principal: Principal, page: PageParams, *,
                      descending: bool) -> tuple[list[Admin], int]:
    order = [func.lower(Admin.first_name), Admin.id]
    stmt = owned(Admin, principal).order_by(*[c.desc() if descending else c.asc() for c in order])
    return await paginate(session, stmt, page)


def merge_prescriber_details(stored: dict[str, Any] | None, given: dict[str, Any] | None) -> dict[str, Any] | None:
    """null, ``{}`` or an object of nulls clears the details (null); an object with values is merged
    into what is stored (its null fields leave the stored ones as they are). Never an all-null object."""
    values = {k: v for k, v in (given or {}).items() if v is not None}
    if not values:
        return None
    merged = {k: v for k, v in {**(stored or {}), **values}.items() if v is not None}
    return merged or None


async def update_admin(session: AsyncSession, principal: Principal, admin_id: str,
                       body: UpdateAdminRequest) -> Admin:
    admin = await get_owned(session, Admin, admin_id, principal, "Admin")
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    if "external_prescriber_id" in changes:
        admin.external_prescriber_id = changes["external_prescriber_id"]
    if "prescriber_details" in changes:
        admin.prescriber_details = merge_prescriber_details(admin.prescriber_details, changes["prescriber_details"])
    await session.flush()
    return admin
