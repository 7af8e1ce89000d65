"""Request-scoped dependencies: the database session (committed once per request), settings, clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openhero.core.clock import Clock
from openhero.core.db import Database
from openhero.core.ids import to_id
from openhero.core.sandbox import sandbox_state, use_group
from openhero.settings import Settings

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per writing request: committed when the handler returns, rolled back if it raises.

    Runs with scope="function" so the commit happens before the response is sent: a client never
    sees a success for a change that was not stored. Reads (GET, HEAD) take ``read_session`` instead
    (tests/core/test_sessions.py holds every route to that).
    """
    db: Database = request.app.state.db
    async with db.session(write=True) as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


_READ_SESSION = "openhero.read_session"


async def read_session(request: Request) -> AsyncSession:
    """The session of a GET/HEAD handler (no BEGIN on SQLite, autocommit on PostgreSQL): a plain dependency
    (FastAPI's per-request machinery for a generator dependency cost ~28 µs, a tenth of a small read), opened
    lazily and finished by ``ReadSessionMiddleware``: committed before the response starts if the handler
    changed rows (e.g. marking a page opened) and answered below 400, rolled back otherwise, closed after the
    response. No connection is taken unless the handler runs a query."""
    scope = request.scope
    if _READ_SESSION not in scope:
        raise RuntimeError("read_session needs ReadSessionMiddleware (installed by create_app)")
    session = scope[_READ_SESSION]
    if session is None:
        session = scope[_READ_SESSION] = request.app.state.db.request_read_session()
    return session  # type: ignore[no-any-return]


class ReadSessionMiddleware:
    """Finishes the session ``read_session`` opened for this request (see there)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _READ_METHODS:
            await self.app(scope, receive, send)
            return
        scope[_READ_SESSION] = None

        async def finishing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                session: AsyncSession | None = scope[_READ_SESSION]
                if session is not None and (session.new or session.dirty or session.deleted):
                    if message["status"] < 400:
                        await session.commit()  # a read that changed a row keeps it, before anyone sees the answer
                    else:
                        await session.rollback()
            await send(message)

        try:
            await self.app(scope, receive, finishing_send)
        finally:
            session = scope.pop(_READ_SESSION, None)
            # Closed if it holds a connection or objects; a session whose reads all went hot (core/reads.py)
            # holds nothing and is kept for the next request instead (Database.give_back).
            if session is not None:
                await scope["app"].state.db.give_back(session)


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
ReadSessionDep = Annotated[AsyncSession, Depends(read_session)]  # GET/HEAD handlers (tests/core/test_sessions.py)
SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
