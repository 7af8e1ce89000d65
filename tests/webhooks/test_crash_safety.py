"""At least once under crashes and concurrency: kill -9 a worker process mid-run; two workers at once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from openhero.core.db import Database
from openhero.core.worker import Worker
from openhero.webhooks import jobs
from openhero.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from tests.conftest import TEST_SECRET
from tests.webhooks.conftest import Received, create_hook, emit_events

SCRIPT = Path(__file__).with_name("worker_process.py")
ROOT = Path(__file__).resolve().parents[2]


async def _start_worker(database_url: str, *args: str) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "OPENHERO_DATABASE_URL": database_url,
        "OPENHERO_SECRET_KEY": TEST_SECRET,
        "OPENHERO_SANDBOX": "1",
        "PYTHONPATH": str(ROOT / "src"),
    }
    return await asyncio.create_subprocess_exec(sys.executable, str(SCRIPT), *args, env=env, cwd=str(ROOT))


async def _statuses(db: Database) -> dict[str, int]:
    async with db.session() as s:
        rows = (await s.execute(select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status))).all()
    return {status: count for status, count in rows}


async def test_worker_killed_mid_run_loses_nothing(api, tenant, receiver, clean, clock, settings, database_url):
    count = 200
    await create_hook(api, receiver.url + "/crash", signing_key="k" * 20)
    await emit_events(clean, tenant.id, count, now=clock.now())
    first = await _start_worker(database_url)

    def kill_at_60(_: Received) -> None:
        if len(receiver.requests) == 60:
            os.kill(first.pid, signal.SIGKILL)  # mid-batch: sends in flight, no result written yet

    receiver.on_request = kill_at_60
    assert await asyncio.wait_for(first.wait(), timeout=120) == -signal.SIGKILL
    receiver.on_request = None
    before = await _statuses(clean)
    assert before.get(DeliveryStatus.SENDING, 0) > 0, before  # leases the dead worker left behind
    assert before.get(DeliveryStatus.DELIVERED, 0) < count
    received_before = len(receiver.requests)

    # Restart (in this process, to keep the test quick; bench/ restarts real processes): its clock runs
    # past the dead worker's leases, so it takes them over at once.
    clock.set(datetime.now(UTC) + timedelta(seconds=settings.worker_lease_seconds + 1))
    await Worker(clean, settings, clock, worker_id="restarted").drain(max_rounds=1000)

    assert await _statuses(clean) == {DeliveryStatus.DELIVERED: count}
    delivered_events = {r.json["id"] for r in receiver.requests}
    assert delivered_events == {str(1000 + i) for i in range(count)}, "every event delivered at least once"
    assert len(receiver.requests) >= count and received_before >= 60


async def test_two_workers_never_send_one_delivery_concurrently(
    api, tenant, receiver, clean, clock, settings, monkeypatch
):
    monkeypatch.setattr(jobs, "DELIVERY_BATCH", 7)  # small claims so both workers keep claiming
    monkeypatch.setattr(jobs, "SEND_CONCURRENCY", 14)
    receiver.delay = 0.005  # hold each request briefly so the two workers' sends overlap
    count = 80
    await create_hook(api, receiver.url + "/pair")
    await emit_events(clean, tenant.id, count, now=clock.now())
    db_a, db_b = Database(clean.url, pool_size=4), Database(clean.url, pool_size=4)
    try:
        a = Worker(db_a, settings, clock, worker_id="worker-a")
        b = Worker(db_b, settings, clock, worker_id="worker-b")
        # Fan out first: a drain ends when nothing is due, and b must not stop before a's fan-out commits.
        assert await jobs.dispatch_webhook_events(a.ctx) == count
        await asyncio.gather(a.drain(max_rounds=1000), b.drain(max_rounds=1000))
    finally:
        await db_a.dispose()
        await db_b.dispose()
    ids = [r.delivery_id for r in receiver.requests]
    assert len(ids) == count and len(set(ids)) == count, "each delivery sent exactly once"
    assert receiver.max_in_flight_per_delivery == 1
    async with clean.session() as s:
        workers = dict(
            (await s.execute(select(WebhookAttempt.worker_id, func.count()).group_by(WebhookAttempt.worker_id))).all()
        )
    assert sum(workers.values()) == count
    if clean.is_postgres:  # SKIP LOCKED lets both make progress; SQLite serialises claims
        assert set(workers) == {"worker-a", "worker-b"}, workers
    assert await _statuses(clean) == {DeliveryStatus.DELIVERED: count}
