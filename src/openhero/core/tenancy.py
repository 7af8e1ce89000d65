"""Queries scoped to the caller's practice group by construction.

Domain repositories build on ``owned(Model, principal)`` and ``get_owned(...)``: a row of another
practice group is indistinguishable from a missing one (404), so ids never leak across tenants.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core.auth import Principal
from openhero.core.errors import NotFound
from openhero.core.ids import MAX_ID, parse_id

__all__ = ["MAX_ID", "get_owned", "owned", "parse_id"]

M = TypeVar("M")


def owned(model: type[M], principal: Principal) -> Select[tuple[M]]:
    return select(model).where(model.practice_group_id == principal.practice_group_id)  # type: ignore[attr-defined]


_BY_ID: dict[Any, Select[Any]] = {}  # one statement per model, values bound per call


def _by_id(model: Any) -> Select[Any]:
    stmt = _BY_ID.get(model)
    if stmt is None:
        stmt = _BY_ID[model] = select(model).where(model.practice_group_id == bindparam("owner"),
                                                   model.id == bindparam("row_id"))
    return stmt


async def get_owned(session: AsyncSession, model: type[M], raw_id: str | int, principal: Principal,
                    what: str = "Resource", *, for_update: bool = False, options: Any = ()) -> M:
    row_id = parse_id(raw_id, what)  # an id that cannot exist is 404 before any SQL is built
    stmt = _by_id(model)
    if options:
        stmt = stmt.options(*options)
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt, {"owner": principal.practice_group_id, "row_id": row_id})
           ).scalar_one_or_none()
    if row is None:
        raise NotFound(what)
    return row  # type: ignore[no-any-return]
