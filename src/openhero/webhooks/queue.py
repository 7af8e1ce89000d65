"""SQL for the delivery pipeline: fan events out into deliveries, claim due deliveries with a lease,
write a batch of attempt results back. Hot paths use Core statements and batched executemany so a
worker spends its time sending, not hydrating ORM objects.

Claims: on PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several workers take disjoint batches; on
SQLite the claim runs inside a BEGIN IMMEDIATE transaction (writers are serialised), so the
conditional UPDATE ... RETURNING is atomic. Every result write is conditional on still holding the
lease (``locked_by``), so a worker that lost its lease cannot overwrite a newer attempt's outcome.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core.outbox import Event
from openhero.webhooks.models import DeliveryStatus, Webhook, WebhookAttempt, WebhookDelivery

RETRY_WINDOW = timedelta(hours=24)

_deliveries = WebhookDelivery.__table__
_attempts = WebhookAttempt.__table__


def event_body(*, object_type: str, object_id: str, practice_group_id: int, event_type: str) -> str:
    """The thin payload as compact JSON, in Hero's member order."""
    return json.dumps(
        {
            "object": object_type,
            "id": str(object_id),
            "practice_group_id": str(practice_group_id),
            "event": event_type,
        },
        separators=(",", ":"),
    )


def new_delivery(
    *,
    webhook_id: int,
    practice_group_id: int,
    event_type: str,
    body: str,
    now: datetime,
    event_id: int | None = None,
    event_created_at: datetime | None = None,
    is_test: bool = False,
) -> dict[str, Any]:
    return {
        "webhook_id": webhook_id,
        "practice_group_id": practice_group_id,
        "event_id": event_id,
        "event_type": event_type,
        "body": body,
        "is_test": is_test,
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "retry_until": now + RETRY_WINDOW,
        "event_created_at": event_created_at,
        "created_at": now,
    }


async def dispatch_events(session: AsyncSession, *, now: datetime, limit: int, postgres: bool) -> int:
    """Fan up to ``limit`` undispatched events out into one delivery per live matching subscription of
    the event's practice group, and mark them dispatched, in the caller's (write) transaction.
    Returns the number of events taken."""
    stmt = (
        select(
            Event.id,
            Event.practice_group_id,
            Event.event_type,
            Event.object_type,
            Event.object_id,
            Event.created_at,
        )
        .where(Event.dispatched_at.is_(None))
        .order_by(Event.id)
        .limit(limit)
    )
    if postgres:
        # The row locks are the claim: held until commit, released by a crash's rollback.
        stmt = stmt.with_for_update(skip_locked=True)
    events = (await session.execute(stmt)).all()
    if not events:
        return 0
    groups = {e.practice_group_id for e in events}
    types = {e.event_type for e in events}
    subs = (
        await session.execute(
            select(Webhook.id, Webhook.practice_group_id, Webhook.event_type).where(
                Webhook.deleted_at.is_(None),
                Webhook.practice_group_id.in_(groups),
                Webhook.event_type.in_(types),
            )
        )
    ).all()
    by_key: dict[tuple[int, str], list[int]] = {}
    for sub in subs:
        by_key.setdefault((sub.practice_group_id, sub.event_type), []).append(sub.id)
    rows = []
    for e in events:
        targets = by_key.get((e.practice_group_id, e.event_type))
        if not targets:
            continue
        body = event_body(
            object_type=e.object_type,
            object_id=e.object_id,
            practice_group_id=e.practice_group_id,
            event_type=e.event_type,
        )
        rows.extend(
            new_delivery(
                webhook_id=w,
                practice_group_id=e.practice_group_id,
                event_type=e.event_type,
                body=body,
                now=now,
                event_id=e.id,
                event_created_at=e.created_at,
            )
            for w in targets
        )
    if rows:
        await session.execute(insert(_deliveries), rows)
    await session.execute(
        update(Event)
        .where(Event.id.in_([e.id for e in events]))
        .values(dispatched_at=now)
        .execution_options(synchronize_session=False)
    )
    return len(events)


def _due(now: datetime, group_offsets: dict[int, timedelta] | None = None) -> Any:
    pending_due = WebhookDelivery.next_attempt_at <= now
    if group_offsets:  # sandbox groups whose clock is ahead: their retries fall due by their own time
        pending_due = or_(pending_due, *(and_(WebhookDelivery.practice_group_id == group,
                                              WebhookDelivery.next_attempt_at <= now + offset)
                                         for group, offset in group_offsets.items() if offset > timedelta(0)))
    return or_(
        and_(WebhookDelivery.status == DeliveryStatus.PENDING, pending_due),
        and_(WebhookDelivery.status == DeliveryStatus.SENDING, WebhookDelivery.locked_until < now),
    )


async def has_undispatched_events(session: AsyncSession) -> bool:
    """A cheap read so an idle worker does not open a write transaction (on SQLite: take the database's
    write lock) every poll."""
    return (await session.execute(select(Event.id).where(Event.dispatched_at.is_(None)).limit(1))).first() is not None


async def has_due_deliveries(session: AsyncSession, now: datetime,
                             group_offsets: dict[int, timedelta] | None = None) -> bool:
    return (await session.execute(
        select(WebhookDelivery.id).where(_due(now, group_offsets)).limit(1))).first() is not None


@dataclass(frozen=True)
class Claimed:
    id: int
    webhook_id: int
    body: str
    attempts: int  # including this one
    retry_until: datetime
    is_test: bool
    event_created_at: datetime | None = None  # for the event->delivery latency metric


@dataclass(frozen=True)
class Target:
    url: str
    signing_key_encrypted: str | None
    headers: dict[str, str]
    live: bool
    practice_group_id: int | None = None


async def claim_deliveries(
    session: AsyncSession, *, worker_id: str, now: datetime, lease: timedelta, limit: int, postgres: bool,
    group_offsets: dict[int, timedelta] | None = None,
) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries: pending and due, or sending with an expired lease (its
    worker died mid-flight: the attempt is made again, at least once)."""
    due = _due(now, group_offsets)
    candidates = select(WebhookDelivery.id).where(due).order_by(WebhookDelivery.next_attempt_at).limit(limit)
    if postgres:
        candidates = candidates.with_for_update(skip_locked=True)
    stmt = (
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(candidates.scalar_subquery()))
        .values(
            status=DeliveryStatus.SENDING,
            locked_by=worker_id,
            locked_until=now + lease,
            attempts=WebhookDelivery.attempts + 1,
        )
        .returning(
            WebhookDelivery.id,
            WebhookDelivery.webhook_id,
            WebhookDelivery.body,
            WebhookDelivery.attempts,
            WebhookDelivery.retry_until,
            WebhookDelivery.is_test,
            WebhookDelivery.event_created_at,
        )
        .execution_options(synchronize_session=False)
    )
    return [Claimed(*row) for row in (await session.execute(stmt)).all()]


async def load_targets(session: AsyncSession, webhook_ids: set[int]) -> dict[int, Target]:
    rows = (
        await session.execute(
            select(Webhook.id, Webhook.url, Webhook.signing_key_encrypted, Webhook.headers, Webhook.deleted_at,
                   Webhook.practice_group_id).where(Webhook.id.in_(webhook_ids))
        )
    ).all()
    return {r.id: Target(r.url, r.signing_key_encrypted, dict(r.headers or {}), r.deleted_at is None,
                         r.practice_group_id) for r in rows}


@dataclass
class Outcome:
    """What one claimed delivery came to; written back in one batch."""

    delivery_id: int
    status: str
    next_attempt_at: datetime | None = None
    status_code: int | None = None
    error: str | None = None
    # None when nothing was sent (e.g. the subscription was deleted).
    attempt: dict[str, Any] | None = None


async def record_outcomes(session: AsyncSession, outcomes: list[Outcome], *, worker_id: str, now: datetime) -> None:
    attempts = [o.attempt for o in outcomes if o.attempt is not None]
    if attempts:
        await session.execute(insert(_attempts), attempts)
    params = [
        {
            "b_id": o.delivery_id,
            "b_worker": worker_id,
            "b_status": o.status,
            "b_next": o.next_attempt_at or now,
            "b_code": o.status_code,
            "b_error": o.error[:2000] if o.error else None,
            "b_delivered": now if o.status == DeliveryStatus.DELIVERED else None,
            "b_finished": now if o.status != DeliveryStatus.PENDING else None,
        }
        for o in outcomes
    ]
    stmt = (
        update(_deliveries)
        .where(
            _deliveries.c.id == bindparam("b_id"),
            _deliveries.c.locked_by == bindparam("b_worker"),
            _deliveries.c.status == DeliveryStatus.SENDING,
        )
        .values(
            status=bindparam("b_status"),
            next_attempt_at=bindparam("b_next"),
            last_status_code=bindparam("b_code"),
            last_error=bindparam("b_error"),
            delivered_at=bindparam("b_delivered"),
            finished_at=bindparam("b_finished"),
            locked_by=None,
            locked_until=None,
        )
    )
    await session.execute(stmt, params)
