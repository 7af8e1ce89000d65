"""/readyz, /healthz and /metrics over the ASGI app, against real databases."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from sqlalchemy import text

from openhero.app import create_app
from openhero.core.db import Database
from openhero.core.jobs import enqueue
from openhero.core.migrate import upgrade
from openhero.settings import Settings
from tests.conftest import TEST_SECRET


def _settings(url: str, **kw) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(database_url=url, secret_key=TEST_SECRET, sandbox=True, _env_file=None, **kw)  # type: ignore[call-arg]


async def _get(url: str, path: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
    db = Database(url)
    app = create_app(_settings(url, **kw), db=db)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            return await c.get(path)
    finally:
        await db.dispose()


async def test_readyz_is_200_at_head_and_healthz_stays_liveness(client):
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "reason": "ok"}
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_readyz_is_503_without_migrations(tmp_path):
    r = await _get(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", "/readyz")
    assert r.status_code == 503 and "migrations not applied" in r.json()["reason"]


async def test_readyz_is_503_when_a_branch_is_behind(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}"
    await asyncio.to_thread(upgrade, url, "0001_foundation")  # only the foundation branch
    r = await _get(url, "/readyz")
    assert r.status_code == 503 and "migrations behind" in r.json()["reason"]
    await asyncio.to_thread(upgrade, url)
    assert (await _get(url, "/readyz")).status_code == 200


async def test_readyz_is_503_when_the_database_does_not_answer():
    from tests.conftest import free_port

    url = f"postgresql+asyncpg://nobody:hunter2@127.0.0.1:{free_port()}/nothing"
    r = await _get(url, "/readyz")
    assert r.status_code == 503 and r.json()["reason"].startswith("database unavailable")
    assert "hunter2" not in r.text and "127.0.0.1" not in r.text


def _sample(body: str, name: str, **labels: str) -> float | None:
    for line in body.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return None


async def test_metrics_count_requests_by_route_template_never_raw_ids(api, tenant, clean, clock):
    from tests.builders import make_patient

    patient = await make_patient(clean, tenant.group.id)
    before = await api.get("/metrics")
    base = _sample(before.text, "openhero_http_requests_total", route="/v1/patients/{id}", status="200") or 0
    for _ in range(3):
        assert (await api.get(f"/v1/patients/{patient.id}")).status_code == 200
    assert (await api.get("/v1/patients/999999999")).status_code == 404
    body = (await api.get("/metrics")).text
    assert before.headers["content-type"].startswith("text/plain")
    assert _sample(body, "openhero_http_requests_total", method="GET", route="/v1/patients/{id}",
                   status="200") == base + 3
    assert _sample(body, "openhero_http_request_duration_seconds_count", route="/v1/patients/{id}") is not None
    await api.get("/no/such/path/12345")
    body = (await api.get("/metrics")).text
    routes = set(re.findall(r'route="([^"]*)"', body))
    assert "/v1/patients/{id}" in routes and "unmatched" in routes
    assert not [r for r in routes if re.search(r"/\d+(/|$)", r)], routes  # no raw id as a path segment
    assert not any("999999999" in r or "12345" in r for r in routes)


async def test_metrics_report_queue_depth_and_age(client, clean, clock):
    from datetime import timedelta

    async with clean.session() as s:
        for _ in range(3):
            await enqueue(s, "test.depth", {}, now=clock.now() - timedelta(seconds=90))
        await enqueue(s, "test.depth", {}, run_at=clock.now() + timedelta(hours=1), now=clock.now())
        await s.commit()
    body = (await client.get("/metrics")).text
    assert _sample(body, "openhero_jobs_due", kind="test.depth") == 3
    assert _sample(body, "openhero_jobs_oldest_due_age_seconds", kind="test.depth") == pytest.approx(90, abs=1)
    assert _sample(body, "openhero_outbox_undispatched_events") == 0


async def test_metrics_can_be_switched_off(database_url):
    assert (await _get(database_url, "/metrics", metrics_enabled=False)).status_code == 404


async def test_readyz_reads_alembic_version(clean):
    async with clean.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    from openhero.core.health import missing_heads

    assert rows and missing_heads(tuple(sorted(rows))) == frozenset()
    assert missing_heads(("0001_foundation",))
