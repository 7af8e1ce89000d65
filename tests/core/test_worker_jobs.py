"""The generic worker: job handlers, retries, permanent failures, batched results, leases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from openhero.core import jobs as jobs_repo
from openhero.core.jobs import Job, JobStatus, enqueue
from openhero.core.worker import HANDLERS, PermanentFailure, Retry, Worker, job_handler

seen: list[tuple[str, dict]] = []  # type: ignore[type-arg]


@job_handler("test.ok")
async def _ok(ctx, payload):  # type: ignore[no-untyped-def]
    seen.append(("ok", payload))


@job_handler("test.retry")
async def _retry(ctx, payload):  # type: ignore[no-untyped-def]
    seen.append(("retry", payload))
    if payload.get("until", 0) > len([s for s in seen if s[0] == "retry"]):
        raise Retry(timedelta(minutes=5), "not yet")


@job_handler("test.permanent")
async def _permanent(ctx, payload):  # type: ignore[no-untyped-def]
    raise PermanentFailure("no such recipient")


@job_handler("test.crash")
async def _crash(ctx, payload):  # type: ignore[no-untyped-def]
    raise RuntimeError("boom")


async def _jobs(db) -> dict[str, Job]:  # type: ignore[no-untyped-def]
    async with db.session() as s:
        return {j.kind: j for j in (await s.execute(select(Job))).scalars().all()}


async def test_outcomes_of_a_batch(clean, settings, clock):
    seen.clear()
    async with clean.session() as s:
        for kind in ("test.ok", "test.retry", "test.permanent", "test.crash", "test.unknown"):
            await enqueue(s, kind, {"until": 2}, now=clock.now())
        await s.commit()
    worker = Worker(clean, settings, clock, worker_id="w1")
    await worker.drain()
    jobs = await _jobs(clean)
    assert jobs["test.ok"].status == JobStatus.DONE and jobs["test.ok"].locked_by == "w1"
    assert jobs["test.retry"].status == JobStatus.QUEUED and jobs["test.retry"].last_error == "not yet"
    assert jobs["test.retry"].run_at == clock.now() + timedelta(minutes=5)
    assert jobs["test.permanent"].status == JobStatus.FAILED
    assert jobs["test.crash"].status == JobStatus.QUEUED and "RuntimeError: boom" in jobs["test.crash"].last_error
    assert jobs["test.unknown"].status == JobStatus.FAILED and "no handler" in jobs["test.unknown"].last_error
    clock.advance(minutes=6)
    await worker.drain()
    jobs = await _jobs(clean)
    assert jobs["test.retry"].status == JobStatus.DONE and jobs["test.retry"].attempts == 2
    # One batch runs its jobs concurrently, in the order the claim returned them (not defined): compare counts.
    assert sorted(kind for kind, _ in seen) == ["ok", "retry", "retry"]


async def test_a_dead_workers_job_runs_again_after_its_lease(clean, settings, clock):
    seen.clear()
    async with clean.session() as s:
        await enqueue(s, "test.ok", {"n": 1}, now=clock.now())
        await s.commit()
    async with clean.session() as s:
        (claimed,) = await jobs_repo.claim(
            s, worker_id="dead", now=clock.now(), lease=timedelta(seconds=60), limit=10, postgres=clean.is_postgres
        )
        await s.commit()
    worker = Worker(clean, settings, clock, worker_id="alive")
    assert await worker.drain() == 0 and seen == []
    clock.advance(seconds=61)
    await worker.drain()
    job = (await _jobs(clean))["test.ok"]
    assert seen == [("ok", {"n": 1})] and job.status == JobStatus.DONE and job.attempts == 2
    # The dead worker's late result cannot overwrite the new one: updates are conditional on the lease.
    async with clean.session() as s:
        await jobs_repo.retry_or_fail(s, claimed, "dead", clock.now(), "late", timedelta(seconds=1))
        await s.commit()
    assert (await _jobs(clean))["test.ok"].status == JobStatus.DONE


def test_handlers_registered():
    assert {"test.ok", "test.retry", "test.permanent", "test.crash"} <= set(HANDLERS)


async def test_run_paces_idle_pollers_but_not_busy_ones(clean, settings, clock):
    from openhero.core.worker import POLLERS

    calls = {"idle": 0, "busy": 0}

    async def idle(ctx):  # type: ignore[no-untyped-def]
        calls["idle"] += 1
        return 0

    async def busy(ctx):  # type: ignore[no-untyped-def]
        calls["busy"] += 1
        return 1

    POLLERS.extend([idle, busy])
    try:
        worker = Worker(clean, settings.model_copy(update={"worker_poll_interval_seconds": 60}), clock)
        for _ in range(3):
            await worker.run_once(pace=True)
        assert calls == {"idle": 1, "busy": 3}
        await worker.run_once()  # unpaced (drain): everything runs
        assert calls == {"idle": 2, "busy": 4}
    finally:
        POLLERS.remove(idle)
        POLLERS.remove(busy)


async def test_a_wake_runs_the_job_queue_and_notify_pollers_not_every_idle_poller(clean, settings, clock):
    from openhero.core.worker import POLLERS, WAKE_ON_NOTIFY, poller

    calls = {"idle": 0, "notified": 0}

    async def idle(ctx):  # type: ignore[no-untyped-def]
        calls["idle"] += 1
        return 0

    @poller(on_notify=True)
    async def notified(ctx):  # type: ignore[no-untyped-def]
        calls["notified"] += 1
        return 0

    POLLERS.append(idle)
    try:
        worker = Worker(clean, settings.model_copy(update={"worker_poll_interval_seconds": 60}), clock)
        await worker.run_once(pace=True)
        await worker.run_once(pace=True)  # both idle now: paced
        assert calls == {"idle": 1, "notified": 1}
        worker.wake()
        await worker.run_once(pace=True)
        assert calls == {"idle": 1, "notified": 2}
    finally:
        POLLERS.remove(idle)
        POLLERS.remove(notified)
        WAKE_ON_NOTIFY.discard(notified)


@job_handler("test.hang")
async def _hang(ctx, payload):  # type: ignore[no-untyped-def]
    await asyncio.sleep(60)


async def test_stop_finishes_quick_jobs_and_releases_hung_ones_after_the_grace_period(clean, settings, clock):
    seen.clear()
    async with clean.session() as s:
        await enqueue(s, "test.hang", {}, now=clock.now())
        await enqueue(s, "test.ok", {}, now=clock.now())
        await s.commit()
    quick = settings.model_copy(update={"shutdown_timeout_seconds": 0.3, "worker_poll_interval_seconds": 0.05})
    worker = Worker(clean, quick, clock, worker_id="w-stop")
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    for _ in range(200):
        if ("ok", {}) in seen:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 10)
    jobs = await _jobs(clean)
    assert jobs["test.ok"].status == JobStatus.DONE
    hung = jobs["test.hang"]
    assert hung.status == JobStatus.QUEUED and hung.locked_by is None and hung.attempts == 0
    assert hung.run_at == clock.now()
