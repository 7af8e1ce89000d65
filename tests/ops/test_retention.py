"""Retention: the prune deletes exactly what is past its setting, reports it, and `--dry-run` only counts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, insert, select, update

from openhero.booking.models import Appointment, Slot
from openhero.core.audit import AuditEntry
from openhero.core.jobs import Job, JobStatus, enqueue
from openhero.core.outbox import Event, emit
from openhero.core.retention import prune
from openhero.messaging.models import SandboxOutboxEntry
from openhero.webhooks.models import WebhookAttempt, WebhookDelivery
from openhero.webhooks.queue import new_delivery
from tests.booking.builders import make_world
from tests.test_cli import openhero_process
from tests.webhooks.conftest import create_hook

OLD = timedelta(days=400)
RECENT = timedelta(hours=1)


async def _count(db, model, *where) -> int:  # type: ignore[no-untyped-def]
    async with db.session(write=False) as s:
        return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def _seed(db, api, tenant, clock):  # type: ignore[no-untyped-def]
    now = clock.now()
    old, recent = now - OLD, now - RECENT
    hook = await create_hook(api, "http://127.0.0.1:9/hook")
    world = await make_world(db, now, tenant=tenant)
    reserved = await api.post("/v1/appointments", json=world.reserve_body())
    booked = await api.post("/v1/appointments", json=world.reserve_body(start=world.start + timedelta(minutes=10)))
    assert (await api.patch(f"/v1/appointments/{booked.json()['id']}/book")).status_code == 200
    async with db.session() as s:
        for when, dispatched in ((old, old), (recent, recent), (old, None)):
            e = await emit(s, "appointment.confirmed", "Appointment", 1, practice_group_id=tenant.id, now=when)
            e.dispatched_at = dispatched
        for when, status in ((old, JobStatus.DONE), (old, JobStatus.FAILED), (recent, JobStatus.DONE),
                             (old, JobStatus.QUEUED)):
            job = await enqueue(s, "test.kept", {}, now=when)
            job.status, job.finished_at = status, (when if status != JobStatus.QUEUED else None)
        rows = []
        for when, status in (("old", "delivered"), ("old", "failed"), ("old", "pending"), ("recent", "delivered"),
                             ("old", "cancelled")):
            at = old if when == "old" else recent
            row = new_delivery(webhook_id=int(hook["id"]), practice_group_id=tenant.id,
                               event_type="appointment.confirmed", body="{}", now=at)
            row.update(status=status, finished_at=at if status != "pending" else None)
            rows.append(row)
        ids = (await s.execute(insert(WebhookDelivery).returning(WebhookDelivery.id), rows)).scalars().all()
        s.add_all(WebhookAttempt(delivery_id=i, number=1, worker_id="w", started_at=old, latency_ms=1) for i in ids)
        for when in (old, recent):
            s.add(AuditEntry(practice_group_id=tenant.id, action="x", object_type="Patient", object_id="1",
                             created_at=when))
            s.add(SandboxOutboxEntry(practice_group_id=tenant.id, message_id=1, channel="sms", body="hi",
                                     outcome="sent", created_at=when))
        # The reservation lapsed long ago (its slot's hold with it); the booked appointment stays.
        appt_id = int(reserved.json()["id"])
        await s.execute(update(Appointment).where(Appointment.id == appt_id).values(reserved_until=old))
        await s.execute(update(Slot).where(Slot.appointment_id == appt_id).values(held_until=old))
        await s.commit()
    return appt_id


EXPECTED = {
    "webhook deliveries (delivered/cancelled)": 2,
    "webhook deliveries (failed)": 1,
    "outbox events (dispatched)": 1,
    "jobs (finished)": 2,
    "sandbox sent messages": 1,
    "audit entries": 1,
    "reservations (expired, never confirmed)": 1,
}


async def test_prune_deletes_what_is_past_retention_and_nothing_else(api, tenant, clean, clock, settings):
    appt_id = await _seed(clean, api, tenant, clock)
    counts_before = [await _count(clean, m) for m in (Event, Job, WebhookDelivery, AuditEntry, Appointment)]
    dry = await prune(clean, settings, clock.now(), dry_run=True)
    assert {k: v for k, v in dry.items() if v} == EXPECTED
    assert [await _count(clean, m) for m in (Event, Job, WebhookDelivery, AuditEntry, Appointment)] == counts_before

    done = await prune(clean, settings, clock.now())
    assert {k: v for k, v in done.items() if v} == EXPECTED
    assert "idempotency records (expired)" not in done or done["idempotency records (expired)"] == 0
    # kept: the recent dispatched one, the old undispatched one, and the booking's own (undispatched) event
    assert await _count(clean, Event) == 3 and await _count(clean, Event, Event.dispatched_at.is_(None)) == 2
    assert await _count(clean, Job) == 2 and await _count(clean, Job, Job.status == JobStatus.QUEUED) == 1
    assert {s for (s,) in (await _rows(clean, WebhookDelivery.status))} == {"pending", "delivered"}
    assert await _count(clean, WebhookAttempt) == 2  # the attempts of the two kept deliveries
    assert await _count(clean, AuditEntry) == 1 and await _count(clean, SandboxOutboxEntry) == 1
    assert await _count(clean, Appointment, Appointment.id == appt_id) == 0
    assert await _count(clean, Appointment) == 1
    assert await _count(clean, Slot, Slot.appointment_id == appt_id) == 0  # the slot is free again
    assert {k: v for k, v in (await prune(clean, settings, clock.now())).items() if v} == {}


async def _rows(db, *cols):  # type: ignore[no-untyped-def]
    async with db.session(write=False) as s:
        return (await s.execute(select(*cols))).all()


async def test_zero_days_keeps_forever(api, tenant, clean, clock, settings):
    await _seed(clean, api, tenant, clock)
    settings.retention_audit_days = 0
    assert "audit entries" not in await prune(clean, settings, clock.now(), dry_run=True)


async def test_db_prune_command_reports_and_dry_run_deletes_nothing(database_url, api, tenant, clean, clock):
    await _seed(clean, api, tenant, clock)
    dry = await asyncio.to_thread(openhero_process, database_url, "db", "prune", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would delete 1\taudit entries" in dry.stdout
    assert await _count(clean, AuditEntry) == 2
    real = await asyncio.to_thread(openhero_process, database_url, "db", "prune")
    assert real.returncode == 0, real.stderr
    assert "deleted 1\taudit entries" in real.stdout and "rows in all" in real.stderr
    assert await _count(clean, AuditEntry) == 1
