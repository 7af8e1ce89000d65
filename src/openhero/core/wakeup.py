"""Instant wake-ups on PostgreSQL: a writer NOTIFYs in the same transaction as the outbox row or job it
adds (PostgreSQL delivers a notification only when, and only if, that transaction commits), and every
worker LISTENs, so new work starts within milliseconds instead of at the next poll. Polling stays as the
fallback (a lost listener connection, work that becomes due later); SQLite only polls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, literal, text
from sqlalchemy.ext.asyncio import AsyncSession

CHANNEL = "openhero_work"
_NOTIFIED = "openhero.notified_in"
_NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', '')")

log = logging.getLogger("openhero.worker")


def needs_notify(session: AsyncSession) -> bool:
    """Whether this transaction has yet to NOTIFY (always False on SQLite, which only polls)."""
    bind = session.bind
    if bind is None or bind.dialect.name != "postgresql":
        return False
    transaction = session.sync_session.get_transaction()
    return transaction is None or session.info.get(_NOTIFIED) is not transaction


def notified(session: AsyncSession) -> None:
    """Record that this transaction has sent its NOTIFY (call after the statement that carried
    ``pg_notify``: the transaction exists from then on)."""
    session.info[_NOTIFIED] = session.sync_session.get_transaction()


def notify_column() -> Any:
    """``pg_notify(CHANNEL, '')`` as a column, for a statement that wakes the workers as it writes (one round
    trip instead of two)."""
    return func.pg_notify(literal(CHANNEL), literal(""))


async def notify(session: AsyncSession) -> None:
    """Wake the workers when this transaction commits (once per transaction; nothing on SQLite)."""
    if not needs_notify(session):
        return
    await session.execute(_NOTIFY)
    notified(session)


class Listener:
    """One dedicated asyncpg connection LISTENing on ``CHANNEL``; calls ``on_wake`` per notification."""

    RECONNECT_SECONDS = 5.0

    def __init__(self, url: Any, on_wake: Callable[[], None]) -> None:
        self.dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.on_wake = on_wake
        self.conn: Any = None
        self._last_try = float("-inf")

    @property
    def listening(self) -> bool:
        return self.conn is not None and not self.conn.is_closed()

    async def ensure(self) -> None:
        """Connect (again) if not listening; at most every ``RECONNECT_SECONDS``. Never raises."""
        loop = asyncio.get_running_loop()
        if self.listening or loop.time() - self._last_try < self.RECONNECT_SECONDS:
            return
        self._last_try = loop.time()
        import asyncpg

        try:
            conn = await asyncpg.connect(self.dsn, timeout=5)
            await conn.add_listener(CHANNEL, self._notified)
            conn.add_termination_listener(self._lost)
        except Exception as exc:
            log.warning("LISTEN %s unavailable (%s); polling only", CHANNEL, type(exc).__name__)
            return
        self.conn = conn
        self.on_wake()  # anything written while we were not listening

    def _notified(self, *_: Any) -> None:
        self.on_wake()

    def _lost(self, *_: Any) -> None:
        if self.conn is not None:  # not our own close()
            log.warning("LISTEN connection lost; polling until it is back")
        self.conn = None

    async def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), timeout=2)
            except Exception:
                conn.terminate()

