"""Hot reads: a Core SELECT run straight on the driver, with SQLAlchemy's own SQL and type processing.

A small read through an ``AsyncSession`` spends most of its CPU in SQLAlchemy's layers around the driver:
the session's connection bookkeeping, the pool checkout and its reset, a greenlet hop, the execution context
and the result object (docs/performance.md, "Third pass": this module alone took ``GET /v1/me`` from 282 to
152 µs of CPU on SQLite, the query itself being ~10). For the reads every partner repeats (``GET /v1/me``, a
slot page, a task page, a resource by id) ``HotReads`` keeps that work out of the request:

- the statement is compiled **once** by the engine's dialect (``stmt.compile(dialect=...)``): the SQL string,
  the order of its positional parameters, the bind processors of their types and the result processors of
  the selected columns' types are kept per statement object (statements are built once per shape by
  ``core.db.Prepared``), so a call binds values, runs the driver and converts the rows with exactly the
  processors SQLAlchemy would have applied (``UTCDateTime`` and the rest);
- the driver connection is **pinned**: taken from the engine's pool once (so it carries the engine's own
  setup: WAL and pragmas on SQLite, SQLAlchemy's JSON codecs on asyncpg) and kept for hot reads. On SQLite one
  connection per event loop serves every hot read inline (a WAL reader never waits on a lock, and the loop
  runs one read at a time); on PostgreSQL up to ``limit`` pinned connections serve one read each at a time,
  and a read that finds none free goes through the session as before.
- an inline read must not hold the event loop: SQLite runs it on the loop's own thread, so every other request
  waits while it runs. ``LONG_READS`` bounds it, as it bounds every SELECT a session runs inline
  (``core.db._InlineConnection``): past ``INLINE_BUDGET_SECONDS`` the read is interrupted and the session
  runs it in its connection's thread, where SQLite releases the GIL and the loop goes on serving (a count
  over a million slots takes ~85 ms). Its SQL then goes straight to the thread for ``OFF_LOOP_SECONDS``.

Same answers as the session's read, by construction: hot reads serve only read sessions (no BEGIN on
SQLite, autocommit on PostgreSQL: each statement reads its own latest committed snapshot, whichever
connection runs it) that hold no unflushed change; anything else — a write session, a statement using a
construct the plan does not cover, a driver error, another event loop — goes through the session, which
gives the answer (or the error) it always gave. ``tests/core/test_reads.py`` compares the two row by row.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import time
from collections import deque, namedtuple
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Date, DateTime, Executable
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

STATEMENT_LIMIT = 1024  # plans kept; statements past it (built per call) go through the session
# SQLite: how long a read may hold the event loop before it is interrupted and run off the loop instead; how
# long its SQL then goes straight off the loop; how many virtual-machine steps between two clock checks
# (~0.1-0.5 ms of SQLite's work; the check costs under a microsecond). The budget is the thread's CPU time,
# not the wall clock: a process descheduled mid-read on a busy machine must not send a short read off the loop.
INLINE_BUDGET_SECONDS = 0.005
OFF_LOOP_SECONDS = 10.0
PROGRESS_STEPS = 10_000
LONG_SQL_LIMIT = 256  # SQL texts remembered as long; past it the memory starts again


class TooLong(Exception):
    """A SQLite read interrupted inline for holding the event loop past the budget."""


class LongReads:
    """Keeps SQLite reads run on the event loop from holding it: the one place that bounds them (hot reads and
    the sessions' inline SELECTs both call ``inline``), and the memory of which SQL ran long lately."""

    def __init__(self) -> None:
        self.until: dict[str, float] = {}  # SQL text -> time.monotonic() until which it goes off the loop
        self.interrupted = 0  # reads interrupted inline so far (this process)

    def off_loop(self, sql: str) -> bool:
        """This SQL was interrupted lately: run it in the connection's thread without trying inline first."""
        until = self.until.get(sql)
        if until is None:
            return False
        if time.monotonic() < until:
            return True
        self.until.pop(sql, None)
        return False

    def inline(self, raw: sqlite3.Connection, sql: str, call: Callable[[], Any]) -> Any:
        """``call()`` (running ``sql`` on ``raw``) on this thread, interrupted past ``INLINE_BUDGET_SECONDS`` of
        its CPU time: then ``sql`` is remembered as long and ``TooLong`` raised (a read has nothing to undo)."""
        deadline = time.thread_time() + INLINE_BUDGET_SECONDS
        raw.set_progress_handler(lambda: time.thread_time() > deadline, PROGRESS_STEPS)
        try:
            return call()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_INTERRUPT:
                raise
        finally:
            raw.set_progress_handler(None, 0)
        self.interrupted += 1
        if len(self.until) >= LONG_SQL_LIMIT:
            self.until.clear()
        self.until[sql] = time.monotonic() + OFF_LOOP_SECONDS
        raise TooLong(sql)


LONG_READS = LongReads()


def sqlite_connection(dbapi_connection: Any) -> Any:
    """The ``sqlite3.Connection`` under a pool proxy / SQLAlchemy's aiosqlite adapter (None if not there)."""
    adapted = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)  # pool proxy -> adapter
    return getattr(getattr(adapted, "_connection", None), "_connection", None)  # -> sqlite3.Connection


def _row_class(keys: list[str]) -> type[tuple[Any, ...]] | None:
    """A tuple with the row's column names as attributes and ``_mapping`` (what callers read of a ``Row``)."""
    try:
        base = namedtuple("HotRow", keys)  # type: ignore[misc]  # noqa: PYI024
    except ValueError:  # a name that is not an identifier, or repeated: such a statement stays on the session
        return None

    class HotRow(base):  # type: ignore[misc,valid-type]
        __slots__ = ()

        @property
        def _mapping(self) -> dict[str, Any]:
            return dict(zip(self._fields, self, strict=True))

    return HotRow


# Converted values kept per date or time column: the same text (SQLite) or driver value always converts to the
# same immutable value, and a page of slots repeats its boundary times (parsing a timestamp and attaching its
# zone twice per row cost a third of a slot page's own work).
MEMO_LIMIT = 4096


def _immutable(type_: Any) -> bool:
    """A column whose converted values are immutable (dates and times), so one conversion serves repeats."""
    return isinstance(getattr(type_, "impl_instance", type_), (Date, DateTime))  # a TypeDecorator: its impl


class _Plan:
    """One statement compiled for one dialect: SQL, parameter order and processors, row shape."""

    __slots__ = ("statement", "compiled", "sql", "names", "binds", "defaults", "expanding", "converters", "row")

    def __init__(self, stmt: Executable, dialect: Any) -> None:
        self.statement = stmt  # kept alive: plans are keyed by id()
        compiled = self.compiled = stmt.compile(dialect=dialect)
        self.sql: str = compiled.string
        self.expanding = bool(getattr(compiled, "_post_compile_expanded_state", None)) or "POSTCOMPILE_" in self.sql
        names = list(compiled.positiontup or ())
        processors = compiled._bind_processors
        self.names = names
        self.binds = [processors.get(name) for name in names]
        # Values the statement carries itself (a literal compared with a column is a bound parameter too).
        self.defaults = {name: bind.effective_value for name, bind in compiled.binds.items()
                         if not bind.required}
        columns = compiled._result_columns
        self.converters = [(i, functools.lru_cache(MEMO_LIMIT)(proc) if _immutable(entry.type) else proc)
                           for i, entry in enumerate(columns)
                           if (proc := entry.type._cached_result_processor(dialect, None)) is not None]
        self.row = _row_class([entry.keyname for entry in columns])

    def arguments(self, params: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
        """The SQL and its positional values for one call (bind processors applied)."""
        if self.expanding:  # IN (...) with a list: SQLAlchemy renders the placeholders for this call
            state = self.compiled.construct_expanded_state(params)
            procs, values = state.processors, state.parameters
            return state.statement, tuple(procs[name](values[name]) if name in procs else values[name]
                                          for name in state.positiontup or ())
        if self.defaults:
            params = {**self.defaults, **params}
        return self.sql, tuple(bind(params[name]) if bind is not None else params[name]
                               for name, bind in zip(self.names, self.binds, strict=True))

    def rows(self, data: Sequence[Sequence[Any]]) -> list[Any]:
        make, converters = self.row._make, self.converters  # type: ignore[union-attr]
        if not converters:
            return [make(raw) for raw in data]
        out = []
        for raw in data:
            values = list(raw)
            for i, convert in converters:
                values[i] = convert(values[i])
            out.append(make(values))
        return out


class HotReads:
    """Pinned driver connections and compiled plans for hot reads (see the module's docstring)."""

    def __init__(self, engine: AsyncEngine, *, limit: int, enabled: bool = True) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.sqlite = engine.dialect.name == "sqlite"
        self.limit = 1 if self.sqlite else max(1, limit)
        self._plans: dict[int, _Plan | None] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pinned: list[Any] = []  # pool proxies taken for good (until close)
        self._free: list[Any] = []  # their driver connections not running a read now
        self._pinning = False
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self.closed = not enabled  # switched off (OPENHERO_HOT_READS=false): every read goes through the session
        self.served = 0  # reads answered hot (the rest of read_rows' reads went through the session)

    @property
    def pinned(self) -> int:
        """Pool connections held for hot reads (checked out of the pool until ``close``)."""
        return len(self._pinned)

    def plan(self, stmt: Executable) -> _Plan | None:
        key = id(stmt)
        plan = self._plans.get(key, False)
        if plan is False or (plan is not None and plan.statement is not stmt):
            try:
                plan = _Plan(stmt, self.dialect)
                if plan.row is None:
                    plan = None
            except Exception:  # noqa: BLE001 - a construct the plan does not cover: the session runs it
                plan = None
            if len(self._plans) < STATEMENT_LIMIT:
                self._plans[key] = plan
        return plan  # type: ignore[return-value]

    async def rows(self, stmt: Executable, params: dict[str, Any]) -> list[Any] | None:
        """The statement's rows, or None when this read should go through the session instead."""
        if self.closed:
            return None
        plan = self.plan(stmt)
        if plan is None:
            return None
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None:
                return None  # pinned on another event loop (tests run several): the session serves this one
            self._loop = loop
        try:
            sql, args = plan.arguments(params)
        except Exception:  # noqa: BLE001 - a value the plan cannot bind: the session binds it (or says why)
            return None
        if self.sqlite and LONG_READS.off_loop(sql):
            return None  # ran long lately: the session runs it in its connection's thread
        driver = await self._take()
        if driver is None:
            return None
        try:
            if self.sqlite:
                data = LONG_READS.inline(driver, sql, lambda: driver.execute(sql, args).fetchall())
            else:
                data = await driver.fetch(sql, *args)
        except Exception:  # noqa: BLE001 - the session repeats the read (TooLong: off the loop) and answers, or
            await self._give_back(driver)  # raises, as it always did
            return None
        except BaseException:  # cancelled mid-read: the connection's state is unknown, so it goes
            if not self.sqlite:
                driver.terminate()  # asyncpg: close the socket now, without a round trip
            try:
                await self._drop(driver)
            finally:
                self._release_if_none_pinned()
            raise
        await self._give_back(driver)
        self.served += 1
        return plan.rows(data)

    async def _take(self) -> Any:
        """A free pinned connection; else a new one pinned (up to ``limit``); else the next one given back."""
        if self._free:
            return self._free.pop()
        if len(self._pinned) < self.limit and not self._pinning:
            return await self._pin()
        if not self._pinned and not self._pinning:
            return None  # nothing pinned (pinning failed): the session serves this read
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():  # handed a connection just as it was cancelled
                await self._give_back(waiter.result())
            else:
                waiter.cancel()
            raise

    async def _give_back(self, driver: Any) -> None:
        if not self._usable(driver):
            await self._drop(driver)
            driver = await self._pin() if self._waiters and not self.closed and not self._pinning else None
            if driver is None:
                self._release_if_none_pinned()
                return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(driver)
                return
        self._free.append(driver)

    def _usable(self, driver: Any) -> bool:
        if self.closed:
            return False
        if self.sqlite:
            try:
                driver.total_changes  # noqa: B018 - raises on a closed connection
            except Exception:  # noqa: BLE001
                return False
            return True
        return not driver.is_closed()

    async def _pin(self) -> Any:
        """Take one more connection from the pool for good (one pin at a time); None if that fails."""
        self._pinning = True
        driver = None
        try:
            proxy = await greenlet_spawn(self.engine.sync_engine.raw_connection)
            if not self.closed:
                driver = sqlite_connection(proxy) if self.sqlite else proxy.driver_connection
            if driver is None:
                await greenlet_spawn(proxy.close)
            else:
                self._pinned.append((proxy, driver))
        except Exception:  # noqa: BLE001 - the pool or the server said no: the session will say why
            driver = None
        finally:
            self._pinning = False
            if driver is None:
                self._release_if_none_pinned()
        return driver

    def _release_if_none_pinned(self) -> None:
        """With nothing pinned and nothing being pinned, no connection will be given back: waiters use the
        session."""
        if not self._pinned and not self._pinning:
            self._release_waiters()

    def _release_waiters(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def _drop(self, driver: Any) -> None:
        """Unpin ``driver`` and invalidate its pool connection (it may be broken: the pool makes a new one)."""
        proxy = next((p for p, d in self._pinned if d is driver), None)
        if proxy is None:
            return
        self._pinned.remove((proxy, driver))
        try:
            await greenlet_spawn(proxy.invalidate)
        except BaseException:
            with contextlib.suppress(Exception):  # interrupted: outside a greenlet the pool logs and forgets it
                proxy.invalidate()
            raise

    async def close(self) -> None:
        """Hand the pinned connections back to the pool (before the engine is disposed)."""
        self.closed = True
        pinned, self._pinned, self._free = self._pinned, [], []
        self._release_waiters()
        if not pinned:
            return
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            for proxy, _driver in pinned:  # their loop is gone: let the pool forget them
                try:
                    proxy.invalidate()
                except Exception:  # noqa: BLE001, S112 - closing a connection of a finished loop
                    continue
            return
        for proxy, _driver in pinned:
            await greenlet_spawn(proxy.close)
