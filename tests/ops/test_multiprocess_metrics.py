"""`openhero serve --workers 2`: /metrics adds up every API process's series (multiprocess mode)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
from prometheus_client.multiprocess import MultiProcessCollector

from tests.conftest import free_port
from tests.ops.processes import finish, start_server
from tests.ops.test_health_metrics import _sample


def _per_process(directory: Path) -> list[float]:
    """Each process's own count of GET /v1/me, read from its file."""
    counts = []
    for f in directory.glob("counter_*.db"):
        for metric in MultiProcessCollector.merge([str(f)]):
            counts += [s.value for s in metric.samples
                       if s.name == "openhero_http_requests_total" and s.labels.get("route") == "/v1/me" and s.value]
    return counts


async def test_two_api_processes_report_one_sum(database_url, clean, tenant, tmp_path):
    port = free_port()
    directory = tmp_path / "metrics"
    proc = await asyncio.to_thread(start_server, database_url, port, "--no-worker", "--workers", "2",
                                   PROMETHEUS_MULTIPROC_DIR=str(directory))
    base = f"http://127.0.0.1:{port}"

    async def one_request() -> None:
        # a fresh connection each
        async with httpx.AsyncClient(base_url=base, headers=tenant.headers, timeout=60) as c:
            assert (await c.get("/v1/me")).status_code == 200

    sent = 0
    try:
        for _ in range(30):  # until both processes have answered some (the kernel picks who accepts)
            await asyncio.gather(*(one_request() for _ in range(10)))
            sent += 10
            if len(_per_process(directory)) == 2:
                break
        totals = []
        for _ in range(6):
            async with httpx.AsyncClient(base_url=base, timeout=60) as c:
                totals.append(_sample((await c.get("/metrics")).text, "openhero_http_requests_total", route="/v1/me"))
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(finish, proc)
    counts = _per_process(directory)
    assert len(counts) == 2 and sum(counts) == sent, counts  # both processes served some
    assert totals == [float(sent)] * 6, totals  # whichever process answers the scrape, it reports the sum
