"""`openhero worker --metrics-port`: a separate worker process serves its own job series."""

from __future__ import annotations

import asyncio
import signal

import httpx

from openhero.core.jobs import enqueue
from tests.conftest import free_port
from tests.ops.processes import finish, start_worker
from tests.ops.test_health_metrics import _sample


async def test_a_worker_process_serves_its_own_job_series(database_url, clean):
    async with clean.session() as s:
        await enqueue(s, "test.slow", {"name": "quick", "seconds": 0})
        await s.commit()
    port = free_port()
    proc = start_worker(database_url, "--metrics-port", str(port))
    value = None
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(300):
                try:
                    body = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
                except httpx.HTTPError:
                    body = ""
                value = _sample(body, "openhero_jobs_finished_total", kind="test.slow", outcome="succeeded")
                if value:
                    break
                await asyncio.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        code, err = await asyncio.to_thread(finish, proc)
    assert value == 1.0
    assert code == 0, err
