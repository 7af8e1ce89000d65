"""Sandbox time and faults, per practice group (sandbox mode only).

**Test clock.** Each practice group may have a clock offset (``sandbox_clocks``). The application's clock
is a ``SandboxClock``: ``now()`` is the base clock plus the offset of the *current* practice group, a
context variable set where the acting group becomes known (the request's ``x-practice-group-id``, a patient
page's link, a worker job's ``practice_group_id``). Services keep calling ``clock.now()``: nothing else
needs to know about the sandbox. Worker jobs of a group whose clock is ahead are claimed by that group's
time (see ``core.jobs.claim``'s ``group_offsets``).

**Faults.** A group may switch faults on (``sandbox_faults``: name, mode, optional expiry) so partners can
exercise their error handling: adapters ask ``fault(group_id, name)`` and misbehave on purpose.

Offsets and faults are read from the database into a per-process cache, refreshed at most every
``REFRESH_SECONDS`` (API requests and worker rounds call ``refresh()``) and at once in the process that
changed them, so every process sharing the database follows within a poll interval.
"""

from __future__ import annotations

import contextvars
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from openhero.core.clock import Clock
from openhero.core.db import Base, Database, IdType

REFRESH_SECONDS = 0.5

FAULTS: dict[str, tuple[str, ...]] = {
    "pds": ("unavailable", "timeout", "error", "identity_check"),
    "sms": ("fail", "bounce", "delay"),
    "email": ("fail", "bounce", "delay"),
    "nhs_app": ("fail", "bounce", "delay"),
    "webhooks": ("drop",),
    "ehr_write": ("reject",),
}

current_group: contextvars.ContextVar[int | None] = contextvars.ContextVar("openhero_current_group", default=None)


class SandboxClockOffset(Base):
    __tablename__ = "sandbox_clocks"
    practice_group_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("practice_groups.id", ondelete="CASCADE"), primary_key=True)
    offset_seconds: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column()


class SandboxFault(Base):
    __tablename__ = "sandbox_faults"
    practice_group_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("practice_groups.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    mode: Mapped[str] = mapped_column(String(32))
    # In the group's own time, like everything else the group sees.
    expires_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()


class SandboxState:
    """The per-process cache of every group's clock offset and faults."""

    def __init__(self, db: Database, base: Clock) -> None:
        self.db = db
        self.base = base
        self.offsets: dict[int, timedelta] = {}
        self.faults: dict[tuple[int, str], tuple[str, datetime | None]] = {}
        self._loaded_at = float("-inf")

    def offset(self, group_id: int | None) -> timedelta:
        if group_id is None:
            return timedelta(0)
        return self.offsets.get(group_id, timedelta(0))

    def fault(self, group_id: int | None, name: str) -> str | None:
        if group_id is None:
            return None
        entry = self.faults.get((group_id, name))
        if entry is None:
            return None
        mode, expires_at = entry
        if expires_at is not None and expires_at <= self.base.now() + self.offset(group_id):
            return None
        return mode

    async def refresh(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._loaded_at < REFRESH_SECONDS:
            return
        self._loaded_at = time.monotonic()
        async with self.db.session(write=False) as session:
            offsets = (await session.execute(
                select(SandboxClockOffset.practice_group_id, SandboxClockOffset.offset_seconds))).all()
            faults = (await session.execute(
                select(SandboxFault.practice_group_id, SandboxFault.name, SandboxFault.mode,
                       SandboxFault.expires_at))).all()
        self.offsets = {group: timedelta(seconds=seconds) for group, seconds in offsets}
        self.faults = {(group, name): (mode, expires) for group, name, mode, expires in faults}

    # Writes (the sandbox endpoints), in the caller's transaction; this process's cache follows at once.

    async def advance(self, session: AsyncSession, group_id: int, seconds: int) -> timedelta:
        row = await session.get(SandboxClockOffset, group_id, with_for_update=True)
        if row is None:
            row = SandboxClockOffset(practice_group_id=group_id, offset_seconds=0, updated_at=self.base.now())
            session.add(row)
        row.offset_seconds = int(row.offset_seconds) + seconds
        row.updated_at = self.base.now()
        await session.flush()
        offset = timedelta(seconds=row.offset_seconds)
        self.offsets[group_id] = offset
        return offset

    async def reset_clock(self, session: AsyncSession, group_id: int) -> None:
        await session.execute(delete(SandboxClockOffset).where(SandboxClockOffset.practice_group_id == group_id))
        self.offsets.pop(group_id, None)

    async def set_fault(self, session: AsyncSession, group_id: int, name: str, mode: str,
                        expires_at: datetime | None) -> None:
        row = await session.get(SandboxFault, (group_id, name))
        if row is None:
            row = SandboxFault(practice_group_id=group_id, name=name, created_at=self.base.now())
            session.add(row)
        row.mode, row.expires_at = mode, expires_at
        await session.flush()
        self.faults[(group_id, name)] = (mode, expires_at)

    async def clear_fault(self, session: AsyncSession, group_id: int, name: str | None = None) -> None:
        stmt = delete(SandboxFault).where(SandboxFault.practice_group_id == group_id)
        if name is not None:
            stmt = stmt.where(SandboxFault.name == name)
        await session.execute(stmt)
        for key in [k for k in self.faults if k[0] == group_id and (name is None or k[1] == name)]:
            self.faults.pop(key, None)

    def active_faults(self, group_id: int) -> list[dict[str, Any]]:
        out = []
        for (group, name), (_mode, expires_at) in sorted(self.faults.items()):
            mode = self.fault(group, name) if group == group_id else None
            if mode is not None:
                out.append({"name": name, "mode": mode, "expires_at": expires_at})
        return out


class SandboxClock(Clock):
    """The base clock moved by the current practice group's sandbox offset."""

    def __init__(self, base: Clock, state: SandboxState) -> None:
        self.base = base
        self.state = state

    def now(self) -> datetime:
        return self.base.now() + self.state.offset(current_group.get())

    def real_now(self) -> datetime:
        return self.base.now()

    def __getattr__(self, name: str) -> Any:  # advance()/set() of a FrozenClock base stay reachable
        return getattr(self.base, name)


def sandbox_state(clock: Clock) -> SandboxState | None:
    return clock.state if isinstance(clock, SandboxClock) else None


# The process's sandbox state, for adapters deep in a domain that have no clock at hand. An application or
# worker in sandbox mode installs its state; outside sandbox mode it is None and every fault is off.
_installed: SandboxState | None = None


def install(state: SandboxState | None) -> None:
    global _installed
    _installed = state


def fault_for(group_id: int | None, name: str) -> str | None:
    """The fault mode switched on for ``name`` in ``group_id``'s sandbox, or None."""
    return _installed.fault(group_id, name) if _installed is not None else None


def wrap_clock(clock: Clock, db: Database, sandbox: bool) -> Clock:
    """In sandbox mode, the clock every component of this process should use (and the state installed)."""
    if not sandbox:
        install(None)
        return clock
    if isinstance(clock, SandboxClock):
        install(clock.state)
        return clock
    state = SandboxState(db, clock)
    install(state)
    return SandboxClock(clock, state)


def use_group(group_id: int | None) -> None:
    """The practice group whose clock and faults apply from here on in this task."""
    current_group.set(group_id)


