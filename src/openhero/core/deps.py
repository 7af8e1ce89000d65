"""Request-scoped dependencies: the database session (committed once per request), settings, clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core.clock import Clock
from openhero.core.db import Database
from openhero.core.ids import to_id
from openhero.core.sandbox import sandbox_state, use_group
from openhero.settings import Settings

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per writing request: committed when the handler returns, rolled back if it raises.

    Runs with scope="function" so the commit happens before the response is sent: a client never
    sees a success for a change that was not stored. Reads (GET, HEAD, OPTIONS) get a read session
    (no BEGIN on SQLite, autocommit on PostgreSQL) that is closed without a commit round trip; no
    connection is taken at all unless the handler runs a query.
    """
    db: Database = request.app.state.db
    if request.method in _READ_METHODS:
        session = db.session(write=False)
        try:
            yield session
            if session.new or session.dirty or session.deleted:
                await session.commit()  # a read that changed a row (e.g. marking a page opened) keeps it
        finally:
            await session.close()
        return
    async with db.session(write=True) as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    state = sandbox_state(clock)
    if state is not None:  # sandbox mode: the acting group's test clock (see core.sandbox)
        await state.refresh()
        use_group(to_id(request.headers.get("x-practice-group-id", "")))
    return clock


# Dependencies are coroutines: FastAPI runs plain ``def`` dependencies in a thread pool, a hop per call.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
