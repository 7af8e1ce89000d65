"""Request sessions: GET handlers get ``read_session`` (finished by ReadSessionMiddleware), writes get
``get_session`` (committed when the handler returns, rolled back when it raises)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Response
from fastapi.routing import APIRoute
from sqlalchemy import inspect, select, text

from openhero.core.auth import PrincipalDep
from openhero.core.deps import ReadSessionDep, get_session, read_session
from openhero.core.errors import NotFound
from openhero.practice.models import PracticeGroup

READS = {"GET", "HEAD", "OPTIONS"}


def _calls(dependant: Any) -> set[Any]:
    out = {dependant.call}
    for sub in dependant.dependencies:
        out |= _calls(sub)
    return out


def test_every_read_route_uses_the_read_session_and_no_write_route_does(app) -> None:  # type: ignore[no-untyped-def]
    reads = writes = 0
    for route in app.router.routes:
        if not isinstance(route, APIRoute):
            continue
        calls = _calls(route.dependant)
        if read_session in calls:
            assert route.methods <= READS, (route.path, route.methods)  # a write would never commit
            reads += 1
        if get_session in calls:
            assert route.methods - READS, (route.path, route.methods)  # a GET pays for the generator
            writes += 1
    assert reads > 40 and writes > 30


def _add_probe_routes(app) -> None:  # type: ignore[no-untyped-def]
    @app.get("/zz-probe/rename/{name}")
    async def rename(name: str, session: ReadSessionDep, principal: PrincipalDep) -> Response:
        group = await session.get(PracticeGroup, principal.practice_group_id)
        group.name = name  # type: ignore[union-attr]
        if name == "raise":
            raise NotFound("Thing")
        return Response(b"{}", media_type="application/json")

    @app.get("/zz-probe/read")
    async def read(session: ReadSessionDep, principal: PrincipalDep) -> Response:
        name = (await session.execute(select(PracticeGroup.name).where(
            PracticeGroup.id == principal.practice_group_id))).scalar_one()
        return Response(f'{{"name": "{name}"}}'.encode(), media_type="application/json")


async def _name(clean, group_id: int) -> str:  # type: ignore[no-untyped-def]
    async with clean.engine.connect() as conn:
        return (await conn.execute(text("SELECT name FROM practice_groups WHERE id = :id"),
                                   {"id": group_id})).scalar_one()


async def test_a_read_that_changes_a_row_commits_before_answering_and_rolls_back_on_error(
        app, clean, tenant) -> None:  # type: ignore[no-untyped-def]
    _add_probe_routes(app)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=tenant.headers) as c:
        before = await _name(clean, tenant.id)
        assert (await c.get("/zz-probe/rename/raise")).status_code == 404
        assert await _name(clean, tenant.id) == before  # the handler raised: nothing kept
        assert (await c.get("/zz-probe/rename/renamed")).status_code == 200
        assert await _name(clean, tenant.id) == "renamed"
        assert (await c.get("/zz-probe/read")).json() == {"name": "renamed"}
    # Every session was closed after its answer: no connection is left checked out but those pinned for
    # hot reads (core/reads.py), which the app hands back when it stops.
    assert clean.engine.pool.checkedout() == clean.hot.pinned


async def test_read_session_without_its_middleware_is_refused() -> None:
    import pytest
    from starlette.requests import Request

    request = Request({"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""})
    with pytest.raises(RuntimeError, match="ReadSessionMiddleware"):
        await read_session(request)


async def test_an_untouched_read_session_serves_the_next_request_and_a_used_one_is_closed(
        app, clean, tenant) -> None:  # type: ignore[no-untyped-def]
    """``Database.give_back``: a GET whose reads all went hot leaves its session as new, and the next GET gets
    that same object instead of building one; a session that loaded objects, began a transaction or had its
    ``info`` written is closed and never handed out again."""
    from openhero.core import db as dbmod

    _add_probe_routes(app)
    seen: list[Any] = []

    @app.get("/zz-probe/session")
    async def which(session: ReadSessionDep) -> Response:
        seen.append(session)
        return Response(b"{}", media_type="application/json")

    held_objects: list[Any] = []

    @app.get("/zz-probe/hold")
    async def hold(session: ReadSessionDep, principal: PrincipalDep) -> Response:
        seen.append(session)
        held_objects.append(await session.get(PracticeGroup, principal.practice_group_id))
        return Response(b"{}", media_type="application/json")

    @app.get("/zz-probe/query")
    async def query(session: ReadSessionDep) -> Response:
        seen.append(session)
        await session.execute(text("SELECT 1"))
        return Response(b"{}", media_type="application/json")

    @app.get("/zz-probe/mark")
    async def mark(session: ReadSessionDep) -> Response:
        seen.append(session)
        session.info["someone's note"] = True
        return Response(b"{}", media_type="application/json")

    clean.idle_reads.clear()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=tenant.headers) as c:
        assert (await c.get("/v1/me")).status_code == 200  # a hot read: its session goes back untouched
        assert len(clean.idle_reads) == 1
        kept = clean.idle_reads[0]
        assert (await c.get("/zz-probe/session")).status_code == 200
        assert seen[-1] is kept and clean.idle_reads == [kept]

        # A session that still holds a loaded object when the response is done: closed, not kept.
        assert (await c.get("/zz-probe/hold")).status_code == 200
        held = seen[-1]
        assert held is kept and clean.idle_reads == [] and not held.identity_map and not held.in_transaction()
        assert inspect(held_objects[-1]).detached
        # One that ran a query through the session (its transaction, or its connection on PostgreSQL): closed.
        assert (await c.get("/zz-probe/query")).status_code == 200
        assert clean.idle_reads == [] and not seen[-1].in_transaction()
        # A read that changed a row and committed it, then dropped the object, is as new again; what it
        # changed is seen by the next request (nothing stale travels with a kept session).
        assert (await c.get("/zz-probe/rename/again")).status_code == 200
        assert (await c.get("/zz-probe/read")).json() == {"name": "again"}

        clean.idle_reads.clear()
        assert (await c.get("/zz-probe/mark")).status_code == 200
        assert clean.idle_reads == []  # its info was written: not as new
        assert (await c.get("/zz-probe/session")).status_code == 200
        assert seen[-1] is not seen[-2] and seen[-1].info.keys() == {dbmod.HOT_READS}

    clean.idle_reads[:] = [clean.read_sessions() for _ in range(dbmod.IDLE_READ_SESSIONS)]
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=tenant.headers) as c:
        assert (await c.get("/zz-probe/session")).status_code == 200
        assert (await c.get("/zz-probe/session")).status_code == 200
    assert len(clean.idle_reads) == dbmod.IDLE_READ_SESSIONS  # bounded
    clean.idle_reads.clear()
    assert clean.engine.pool.checkedout() == clean.hot.pinned
