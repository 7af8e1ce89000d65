"""Queries scoped to the caller's practice group by construction.

Domain repositories build on ``owned(Model, principal)`` and ``get_owned(...)``: a row of another
practice group is indistinguishable from a missing one (404), so ids never leak across tenants.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from openhero.core.auth import Principal
from openhero.core.db import add_as_loaded, hot_reads
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


_EAGER = frozenset({"joined", "selectin", "subquery", "immediate"})


@functools.cache
def _hot_columns(model: Any) -> tuple[Select[Any], tuple[str, ...]] | None:
    """The model's columns as a Core select by id (and the attribute each column loads), when an instance
    built from that row is what the ORM would have loaded: one table, no inheritance, every attribute a
    plain undeferred column, no relationship loaded eagerly (an ORM select would load it with the row)."""
    mapper = sa_inspect(model)
    table = mapper.local_table
    plain = (mapper.inherits is None and mapper.polymorphic_on is None and not mapper.with_polymorphic
             and all(len(attr.columns) == 1 and attr.columns[0].table is table and not attr.deferred
                     for attr in mapper.column_attrs)
             and all(rel.lazy not in _EAGER for rel in mapper.relationships))
    if not plain:
        return None
    stmt = select(*(attr.columns[0] for attr in mapper.column_attrs)).where(
        model.practice_group_id == bindparam("owner"), model.id == bindparam("row_id"))
    return stmt, tuple(attr.key for attr in mapper.column_attrs)


async def _get_hot(session: AsyncSession, model: Any, row_id: int, owner: int) -> Any:
    """The instance by a hot read (core/reads.py) in a read session, or ``_NOT_HOT`` when the ORM must load
    it: the model is not plain (``_hot_columns``), the session has changes an ORM query would flush first,
    the instance is already in the session (the ORM would return that one, refreshed if expired), or the
    hot path declines the read."""
    hot = hot_reads(session)
    entry = _hot_columns(model) if hot is not None else None
    if entry is None or session.identity_map.get(identity_key(model, row_id)) is not None:
        return _NOT_HOT
    stmt, attrs = entry
    rows = await hot.rows(stmt, {"owner": owner, "row_id": row_id})
    if rows is None:
        return _NOT_HOT
    if not rows:
        return None
    return add_as_loaded(session, model, dict(zip(attrs, rows[0], strict=True)))


_NOT_HOT = object()


async def get_owned(session: AsyncSession, model: type[M], raw_id: str | int, principal: Principal,
                    what: str = "Resource", *, for_update: bool = False, options: Any = ()) -> M:
    """The caller's group's row ``raw_id`` of ``model`` as an ORM instance, else 404. In a read session a plain
    model's row comes by a hot read and is handed to the session as loaded (``_get_hot``): the same instance
    state an ORM select would give, without the ORM's per-query machinery."""
    row_id = parse_id(raw_id, what)  # an id that cannot exist is 404 before any SQL is built
    if not for_update and not options:
        found = await _get_hot(session, model, row_id, principal.practice_group_id)
        if found is not _NOT_HOT:
            if found is None:
                raise NotFound(what)
            return found  # type: ignore[no-any-return]
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
