"""Queries scoped to the caller's practice group by construction.

Domain repositories build on ``owned(Model, principal)`` and ``get_owned(...)``: a row of another
practice group is indistinguishable from a missing one (404), so ids never leak across tenants.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core.auth import Principal
from openhero.core.errors import NotFound
from openhero.core.ids import MAX_ID, parse_id

__all__ = ["MAX_ID", "get_owned", "owned", "parse_id"]

M = TypeVar("M")


def owned(model: type[M], principal: Principal) -> Select[tuple[M]]:
    return select(model).where(model.practice_group_id == principal.practice_group_id)  # type: ignore[attr-defined]


async def get_owned(session: AsyncSession, model: type[M], raw_id: str | int, principal: Principal,
                    what: str = "Resource", *, for_update: bool = False, options: Any = ()) -> M:
    stmt = owned(model, principal).where(model.id == parse_id(raw_id, what))  # type: ignore[attr-defined]
    if options:
        stmt = stmt.options(*options)
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound(what)
    return row
