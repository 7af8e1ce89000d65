"""SIGTERM over real processes: the worker finishes short jobs and releases long ones; the API answers
the requests in flight before it exits."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import httpx
from sqlalchemy import select

from openhero.core.jobs import Job, JobStatus, enqueue
from tests.conftest import free_port
from tests.ops.processes import finish, start_server, start_worker


async def _jobs(db) -> dict[str, Job]:  # type: ignore[no-untyped-def]
    async with db.session(write=False) as s:
        return {j.payload["name"]: j for j in (await s.execute(select(Job))).scalars().all()}


async def test_worker_finishes_short_jobs_and_releases_long_ones_on_sigterm(database_url, clean):
    async with clean.session() as s:
        await enqueue(s, "test.slow", {"name": "short", "seconds": 0.5})
        await enqueue(s, "test.slow", {"name": "long", "seconds": 120})
        await s.commit()
    proc = start_worker(database_url, OPENHERO_SHUTDOWN_TIMEOUT_SECONDS="2")
    try:
        for _ in range(300):
            jobs = await _jobs(clean)
            if all(j.status == JobStatus.RUNNING for j in jobs.values()):
                break
            await asyncio.sleep(0.05)
        assert all(j.status == JobStatus.RUNNING and j.locked_by for j in jobs.values())
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code, err = await asyncio.to_thread(finish, proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, err
    assert time.monotonic() - started < 15  # the grace period, not the long job's 120 s
    jobs = await _jobs(clean)
    assert jobs["short"].status == JobStatus.DONE
    long = jobs["long"]
    # Released, not left to expire: queued again, no lease, the interrupted attempt not counted.
    assert long.status == JobStatus.QUEUED and long.locked_by is None and long.locked_until is None
    assert long.attempts == 0
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    outcomes = {(x["job_id"], x["outcome"]) for x in lines if x.get("logger") == "openhero.job"}
    assert outcomes == {(jobs["short"].id, "succeeded"), (long.id, "released")}


async def test_api_answers_requests_in_flight_on_sigterm(database_url, clean, tenant):
    from tests.ops.slow_pds import SlowPds

    pds = SlowPds(delay=1.5)
    pds.start()
    port = free_port()
    proc = await asyncio.to_thread(start_server, database_url, port, "--no-worker",
                                   OPENHERO_PDS_ADAPTER="pds_fhir", OPENHERO_PDS_BASE_URL=pds.url,
                                   OPENHERO_SHUTDOWN_TIMEOUT_SECONDS="10")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=tenant.headers, timeout=30) as c:
            in_flight = asyncio.create_task(
                c.post("/v1/patients/register_pds", json={"nhs_number": "9000000009", "dob": "2010-10-22"}))
            for _ in range(200):
                if pds.requests:
                    break
                await asyncio.sleep(0.02)
            assert pds.requests, "the request never reached PDS"
            proc.send_signal(signal.SIGTERM)
            response = await in_flight
            assert response.status_code == 200, response.text  # finished, not cut off
            code, err = await asyncio.to_thread(finish, proc)
            # uvicorn re-raises the signal once it has shut down cleanly (the exit status says "by SIGTERM").
            assert code in (0, -signal.SIGTERM), err
            assert "Application shutdown complete" in err
            # Stopped accepting: nothing listens any more.
            try:
                await c.get("/healthz")
                raise AssertionError("the server still answers after SIGTERM")
            except httpx.ConnectError:
                pass
    finally:
        if proc.poll() is None:
            proc.kill()
        pds.stop()
