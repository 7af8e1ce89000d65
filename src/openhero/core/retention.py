"""Retention: rows that have done their job are deleted after a configurable number of days.

| what                                   | setting (days, 0 = keep forever)            |
|----------------------------------------|---------------------------------------------|
| delivered/cancelled webhook deliveries | ``retention_webhook_deliveries_days``        |
|   (with their attempt rows)            |                                             |
| failed webhook deliveries              | ``retention_failed_webhook_deliveries_days`` |
| dispatched outbox events, finished     | ``retention_outbox_days``                    |
|   jobs, sandbox sent-message records   |                                             |
| expired idempotency records            | ``retention_idempotency_days``               |
| audit entries                          | ``retention_audit_days``                     |
| expired, never-confirmed reservations  | ``retention_expired_reservations_days``      |

Tables are named, not imported (core has no domain imports); a table that is not installed is
skipped. Rows go in batches so a prune never holds a long write lock (SQLite has one writer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, column, delete, func, inspect, select, table, update
from sqlalchemy.sql.elements import ColumnElement

from openhero.core.db import Database, IdType, UTCDateTime
from openhero.settings import Settings

BATCH = 2000


def _t(name: str, *timestamps: str, **others: Any) -> Any:
    cols = [column("id", IdType)] + [column(c, UTCDateTime()) for c in timestamps]
    cols += [column(c, t) for c, t in others.items()]
    return table(name, *cols)


_deliveries = _t("webhook_deliveries", "finished_at", status=String())
_attempts = _t("webhook_delivery_attempts", delivery_id=IdType)
_events = _t("events", "dispatched_at")
_jobs = _t("jobs", "finished_at", status=String())
_sandbox = _t("messaging_sandbox_outbox", "created_at")
_idempotency = _t("idempotency_keys", "created_at", "expires_at")
_audit = _t("audit_log", "created_at")
_appointments = _t("appointments", "reserved_until", "booking_confirmed_at")
_slots = _t("slots", "held_until", appointment_id=IdType)


@dataclass(frozen=True)
class Rule:
    name: str
    setting: str
    table: Any
    where: Any  # (cutoff, now) -> condition

    def condition(self, days: int, now: datetime) -> ColumnElement[bool]:
        return self.where(now - timedelta(days=days), now)  # type: ignore[no-any-return]


RULES = (
    Rule("webhook deliveries (delivered/cancelled)", "retention_webhook_deliveries_days", _deliveries,
         lambda cut, now: and_(_deliveries.c.status.in_(("delivered", "cancelled")), _deliveries.c.finished_at < cut)),
    Rule("webhook deliveries (failed)", "retention_failed_webhook_deliveries_days", _deliveries,
         lambda cut, now: and_(_deliveries.c.status == "failed", _deliveries.c.finished_at < cut)),
    Rule("outbox events (dispatched)", "retention_outbox_days", _events,
         lambda cut, now: _events.c.dispatched_at < cut),
    Rule("jobs (finished)", "retention_outbox_days", _jobs,
         lambda cut, now: and_(_jobs.c.status.in_(("done", "failed")), _jobs.c.finished_at < cut)),
    Rule("sandbox sent messages", "retention_outbox_days", _sandbox,
         lambda cut, now: _sandbox.c.created_at < cut),
    Rule("idempotency records (expired)", "retention_idempotency_days", _idempotency,
         lambda cut, now: and_(_idempotency.c.expires_at < now, _idempotency.c.created_at < cut)),
    Rule("audit entries", "retention_audit_days", _audit, lambda cut, now: _audit.c.created_at < cut),
    Rule("reservations (expired, never confirmed)", "retention_expired_reservations_days", _appointments,
         lambda cut, now: and_(_appointments.c.booking_confirmed_at.is_(None), _appointments.c.reserved_until < cut)),
)


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def prune(db: Database, settings: Settings, now: datetime, *, dry_run: bool = False) -> dict[str, int]:
    """Delete (or, with ``dry_run``, count) what each rule no longer keeps. Returns rows per rule."""
    present = await _tables(db)
    report: dict[str, int] = {}
    for rule in RULES:
        days = int(getattr(settings, rule.setting))
        if days <= 0 or rule.table.name not in present:
            continue
        where = rule.condition(days, now)
        if dry_run:
            async with db.session(write=False) as session:
                report[rule.name] = int((await session.execute(
                    select(func.count()).select_from(rule.table).where(where))).scalar_one())
            continue
        report[rule.name] = await _delete_in_batches(db, rule.table, where)
    return report


async def _delete_in_batches(db: Database, target: Any, where: Any) -> int:
    total = 0
    while True:
        async with db.session() as session:
            ids = (await session.execute(select(target.c.id).where(where).limit(BATCH))).scalars().all()
            if not ids:
                return total
            if target is _deliveries:  # attempts cascade on PostgreSQL and SQLite alike; explicit is cheaper
                await session.execute(delete(_attempts).where(_attempts.c.delivery_id.in_(ids)))
            if target is _appointments:  # a lapsed hold still names its reservation: free the slot's pointer
                await session.execute(update(_slots).where(_slots.c.appointment_id.in_(ids),
                                                           _slots.c.held_until.is_not(None))
                                      .values(appointment_id=None, held_until=None))
            await session.execute(delete(target).where(target.c.id.in_(ids)))
            await session.commit()
        total += len(ids)
        if len(ids) < BATCH:
            return total
