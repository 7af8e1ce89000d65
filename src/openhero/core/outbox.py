"""The transactional outbox: every event the outside world must hear about is a row written in the
same transaction as the change that causes it. A rolled-back change writes no event; a committed one
is never lost. The webhooks dispatcher (a worker poller) fans events out into deliveries."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from openhero.core.db import Base, IdType, add_as_loaded
from openhero.core.models import IdMixin, utcnow
from openhero.core.wakeup import needs_notify, notified, notify_column

EVENT_TYPES = (
    "appointment.confirmed", "appointment.cancelled", "appointment.rescheduled", "prescription.issued",
    "patient.medical-record-updated", "patient.added-to-sequence", "write-to-record.succeeded",
    "write-to-record.failed", "form-submission.created",
)
OBJECT_TYPES = ("Appointment", "Patient", "Prescription", "FormSubmission", "Message")


class Event(IdMixin, Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_undispatched", "dispatched_at", "id"),)
    practice_group_id: Mapped[int] = mapped_column(IdType, ForeignKey("practice_groups.id", ondelete="CASCADE"),
                                                   index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column()


async def emit(session: AsyncSession, event_type: str, object_type: str, object_id: int | str, *,
               practice_group_id: int, data: dict[str, Any] | None = None,
               now: datetime | None = None) -> Event:
    """Record an event in the caller's transaction (flushed, not committed)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    if object_type not in OBJECT_TYPES:
        raise ValueError(f"unknown object type {object_type!r}")
    values = {"practice_group_id": practice_group_id, "event_type": event_type, "object_type": object_type,
              "object_id": str(object_id), "data": data or {}, "created_at": now or utcnow(), "dispatched_at": None}
    if needs_notify(session):
        # PostgreSQL, first wake-up of this transaction: the INSERT and the NOTIFY in one statement (a
        # data-modifying CTE), then the row handed to the session as loaded (every column is known).
        event_id = (await session.execute(_insert_and_notify(), values)).scalar_one()
        notified(session)
        return add_as_loaded(session, Event, {"id": event_id, **values})  # type: ignore[no-any-return]
    event = Event(**values)
    session.add(event)
    await session.flush()
    return event


@functools.cache
def _insert_and_notify() -> Any:
    table = Event.__table__
    new = (insert(Event).values({c.key: bindparam(c.key, type_=c.type) for c in table.c if c.key != "id"})
           .returning(Event.id).cte("new_event"))
    return select(new.c.id, notify_column())
