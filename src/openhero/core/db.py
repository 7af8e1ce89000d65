"""Engine, declarative base and column types shared by every domain.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy timeout; write
transactions start with ``BEGIN IMMEDIATE`` so that a read-then-write transaction never fails
with SQLITE_BUSY when another connection committed in between (it waits for the lock instead).
PostgreSQL runs through asyncpg.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy import JSON, BigInteger, DateTime, Executable, Integer, MetaData, Row, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session, make_transient_to_detached
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_only

from openhero.core.reads import LONG_READS, HotReads, TooLong, sqlite_connection

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Integer primary keys: BIGINT identity on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
IdType = BigInteger().with_variant(sqlite.INTEGER(), "sqlite")
# JSON documents: JSONB on PostgreSQL.
JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores it as naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        date: sqlite.DATE().with_variant(postgresql.DATE(), "postgresql"),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
        int: Integer(),
    }


class _InlineConnection(aiosqlite.Connection):
    """aiosqlite, except that what cannot wait on a lock runs inline on the event loop.

    aiosqlite hands every call — cursor(), execute, fetchall, close: four per statement — to the
    connection's thread and back, two thread switches each, which costs more than most of openhero's
    statements take to run. Here only what may wait on SQLite's lock still goes through the thread: BEGIN,
    and a statement other than SELECT outside a transaction (it takes the write lock itself). Everything
    else — SELECTs (WAL readers never wait), statements inside a transaction that holds the write lock,
    fetches, COMMIT — runs inline: a statement's own run time blocks the loop, a lock wait never does.
    A SELECT may hold the loop for ``core.reads.INLINE_BUDGET_SECONDS`` at most (``LONG_READS``, which bounds
    the hot reads too): past that it is interrupted and runs again in the thread, where SQLite releases the
    GIL while it works (a SELECT has no effect to undo, inside a transaction or not); its SQL then goes
    straight to the thread for ``OFF_LOOP_SECONDS``.
    """

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        raw = self._connection
        if raw is None:
            return await super()._execute(fn, *args, **kwargs)
        if args and isinstance(args[0], str):
            sql = args[0]
            head = sql.lstrip()[:6].upper()
            if head == "SELECT":
                if not LONG_READS.off_loop(sql):
                    try:
                        return LONG_READS.inline(raw, sql, partial(fn, *args, **kwargs))
                    except TooLong:
                        pass
                return await super()._execute(fn, *args, **kwargs)  # long: in the thread
            if not raw.in_transaction:
                return await super()._execute(fn, *args, **kwargs)  # BEGIN, or a write taking the lock
        return fn(*args, **kwargs)


def _inline_connect(database: str, **kwargs: Any) -> aiosqlite.Connection:
    connection = _InlineConnection(partial(sqlite3.connect, database, **kwargs), 64)
    thread = getattr(connection, "_thread", connection)  # aiosqlite < 0.22: the connection is the thread
    if isinstance(thread, threading.Thread):
        thread.daemon = True  # as SQLAlchemy does for aiosqlite's own connect
    return connection


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url, echo=echo, pool_size=pool_size, max_overflow=max(20, pool_size),
            connect_args={"timeout": 30, "async_creator_fn": _inline_connect},
        )
        _configure_sqlite(engine)
        return engine
    # No pre-ping (a round trip per checkout); connections are recycled hourly instead.
    return create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=max(20, pool_size),
                               pool_recycle=3600)


class _WriterGate:
    """One SQLite write transaction at a time per process and event loop, in arrival order."""

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
        self._held: dict[int, asyncio.Lock] = {}  # id of the sqlite3 connection -> the lock it holds

    def acquire(self, raw: Any) -> None:
        """Called inside SQLAlchemy's greenlet (the ``begin`` event), so it may wait on the event loop."""
        if raw is None or id(raw) in self._held:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # synchronous use (no loop): SQLite's own lock is enough
            return
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        await_only(asyncio.wait_for(lock.acquire(), WRITER_WAIT_SECONDS))
        self._held[id(raw)] = lock

    def release(self, raw: Any) -> None:
        lock = self._held.pop(id(raw), None) if raw is not None else None
        if lock is not None and lock.locked():
            lock.release()


WRITER_WAIT_SECONDS = 30  # as long as SQLite's busy timeout


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN is ours to issue.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # Commit and rollback are thread hops through aiosqlite; skip them when SQLite has no transaction open
    # (read sessions issue no BEGIN, and the pool resets every connection it takes back with a rollback).
    dialect = engine.sync_engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    # Writers queue in process: SQLite's own busy handler makes a waiting writer sleep and poll (1, 2, 5 ...
    # 100 ms naps), which caps a busy process at a few dozen write transactions a second. An asyncio lock
    # taken just before BEGIN IMMEDIATE and released after COMMIT/ROLLBACK hands the write lock over at
    # once; other processes still meet SQLite's lock and busy timeout as before.
    gate = _WriterGate()

    def _commit(dbapi_connection: Any) -> None:
        raw = sqlite_connection(dbapi_connection)
        try:
            if raw is None or raw.in_transaction:
                do_commit(dbapi_connection)
        finally:
            gate.release(raw)

    def _rollback(dbapi_connection: Any) -> None:
        raw = sqlite_connection(dbapi_connection)
        try:
            if raw is None or raw.in_transaction:
                do_rollback(dbapi_connection)
        finally:
            gate.release(raw)

    dialect.do_commit = _commit  # type: ignore[method-assign]
    dialect.do_rollback = _rollback  # type: ignore[method-assign]

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(dbapi_connection: Any, _record: Any) -> None:
        gate.release(sqlite_connection(dbapi_connection))  # a safety net: commit/rollback released it

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("sqlite_immediate", False):
            gate.acquire(sqlite_connection(conn.connection.dbapi_connection))
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        # Read sessions issue no BEGIN: each SELECT reads its own consistent snapshot, and a request
        # saves a round trip to SQLite's thread.


def _rows(session: Session, stmt: Executable, params: dict[str, Any]) -> Sequence[Row[Any]]:
    return session.connection().execute(stmt, params).all()


async def read_rows(session: AsyncSession, stmt: Executable, params: dict[str, Any]) -> Sequence[Any]:
    """A Core statement's rows (read by attribute, index or ``_mapping``), for hot reads that select columns,
    not ORM objects. In a read session with no unflushed change they come from ``HotReads`` (core/reads.py:
    the driver on a pinned connection, SQLAlchemy's compiled SQL and type processing); otherwise, or when the
    hot path declines, through the session's connection in one hop into SQLAlchemy's sync layer."""
    hot = hot_reads(session)
    if hot is not None:
        rows = await hot.rows(stmt, params)
        if rows is not None:
            return rows
    return await session.run_sync(_rows, stmt, params)


HOT_READS = "openhero.hot_reads"  # a read session's info: its HotReads
_READ_INFO_KEYS = {HOT_READS}
IDLE_READ_SESSIONS = 64  # untouched read sessions kept for the next requests (Database.give_back)


def hot_reads(session: AsyncSession) -> HotReads | None:
    """The session's ``HotReads`` when it may read hot: a read session holding no unflushed change (a hot read
    runs on another connection, so it must not need anything this session has not written yet)."""
    hot: HotReads | None = session.info.get(HOT_READS)
    return None if hot is None or session.new or session.dirty or session.deleted else hot


class Prepared:
    """Statements built once per query *shape* and run with their values bound per call.

    Building a many-column SELECT costs more CPU than running it on SQLite; a hot query whose SQL depends only
    on which filters are present (its shape) is built once, its bound parameter names kept, and each call
    binds exactly those from its values. At most ``limit`` shapes are kept (a shape a client can vary at will,
    such as a repeated ``order_by[]``, is then built per call instead of filling memory)."""

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._built: dict[Any, tuple[Executable, tuple[str, ...]]] = {}

    def bind(self, shape: Any, build: Callable[[], Executable], values: dict[str, Any]
             ) -> tuple[Executable, dict[str, Any]]:
        entry = self._built.get(shape)
        if entry is None:
            stmt = build()
            entry = (stmt, tuple(stmt.compile().params))
            if len(self._built) < self.limit:
                self._built[shape] = entry
        stmt, names = entry
        return stmt, {name: values[name] for name in names}


def add_as_loaded(session: AsyncSession, model: type[Any], values: dict[str, Any]) -> Any:
    """A row this transaction has just INSERTed with Core (``values`` holds every column, the id included),
    handed to the session as if it had been loaded: no flush writes it again, no attribute is left to load."""
    obj = model(**values)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


class Database:
    """The engine plus two session factories: one for reads, one for writes.

    On SQLite the write factory starts transactions with BEGIN IMMEDIATE and the read factory issues no
    BEGIN at all (each statement runs in its own implicit transaction, so reads never take a lock to
    upgrade); on PostgreSQL the read factory runs in autocommit (no BEGIN/COMMIT round trips: each
    statement sees its own snapshot, as on SQLite) and the write factory in ordinary transactions.
    Anything that writes uses a write session.
    """

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False, hot_reads: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size, echo=echo)
        self.is_sqlite = url.startswith("sqlite")
        self.is_postgres = self.engine.dialect.name == "postgresql"
        write_engine = (
            self.engine.execution_options(sqlite_immediate=True) if self.is_sqlite else self.engine
        )
        read_engine = (self.engine.execution_options(isolation_level="AUTOCOMMIT") if self.is_postgres
                       else self.engine)
        # Hot reads pin up to half the pool on PostgreSQL (one connection per event loop on SQLite).
        self.hot = HotReads(self.engine, limit=max(2, pool_size // 2), enabled=hot_reads)
        self.read_sessions = async_sessionmaker(read_engine, expire_on_commit=False, info={HOT_READS: self.hot})
        self.write_sessions = async_sessionmaker(write_engine, expire_on_commit=False)
        self.idle_reads: list[AsyncSession] = []

    def session(self, *, write: bool = True) -> AsyncSession:
        return (self.write_sessions if write else self.read_sessions)()

    def request_read_session(self) -> AsyncSession:
        """A GET request's read session (``core.deps.read_session``): one an earlier request gave back untouched
        (``give_back``), else a new one. Building an ``AsyncSession`` costs ~13 µs, a twentieth of a small
        request, and most GETs' sessions are never touched: their reads go hot (core/reads.py)."""
        return self.idle_reads.pop() if self.idle_reads else self.read_sessions()

    async def give_back(self, session: AsyncSession) -> None:
        """End a request's read session. One that began a transaction or holds objects is closed (its
        connection released, its objects detached); one never touched beyond hot reads, with nothing added to
        its ``info``, is as a new one is and waits for the next request (at most ``IDLE_READ_SESSIONS``)."""
        if session.in_transaction() or session.identity_map or session.new:
            await session.close()
        elif (not session.dirty and not session.deleted and session.info.keys() == _READ_INFO_KEYS
              and len(self.idle_reads) < IDLE_READ_SESSIONS):
            self.idle_reads.append(session)

    async def dispose(self) -> None:
        await self.hot.close()
        await self.engine.dispose()
