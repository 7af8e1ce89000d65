"""`openhero webhooks deliveries [--status failed]` and `openhero webhooks replay ID`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from openhero.settings import get_settings
from openhero.webhooks.cli import app
from tests.conftest import TEST_SECRET
from tests.webhooks.conftest import create_hook, emit_events


@pytest.fixture
def cli(monkeypatch, database_url):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENHERO_DATABASE_URL", database_url)
    monkeypatch.setenv("OPENHERO_SECRET_KEY", TEST_SECRET)
    get_settings.cache_clear()
    runner = CliRunner()

    async def invoke(*args: str):  # type: ignore[no-untyped-def]
        # The commands run their own event loop, so they run in a thread here.
        return await asyncio.to_thread(runner.invoke, app, list(args))

    yield invoke
    get_settings.cache_clear()


async def test_failed_deliveries_are_listed_and_replayed(api, tenant, receiver, worker, clean, clock, cli):
    await create_hook(api, receiver.url + "/cli")
    receiver.default_status = 500
    await emit_events(clean, tenant.id, 2, now=clock.now())
    for _ in range(8):
        await worker.drain()
        clock.advance(hours=4)
    result = await cli("deliveries", "--status", "failed")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("id\twebhook") and len(lines) == 3
    delivery_id = lines[1].split("\t")[0]
    assert "\tfailed\t" in lines[1] and "HTTP 500" in lines[1]

    receiver.default_status = 200
    sent = len(receiver.requests)
    result = await cli("replay", delivery_id)
    assert result.exit_code == 0 and f"delivery {delivery_id} queued again" in result.output
    # The replay was stamped with the real clock, which the test clock (32 hours on) is past already.
    assert clock.now() > datetime.now(UTC)
    await worker.drain()
    assert len(receiver.requests) == sent + 1 and receiver.requests[-1].delivery_id == delivery_id
    assert len((await cli("deliveries", "--status", "failed")).output.strip().splitlines()) == 2
    assert "\tdelivered\t" in (await cli("deliveries", "--status", "delivered")).output

    assert (await cli("replay", "999999")).exit_code == 2
    assert (await cli("deliveries", "--status", "nope")).exit_code == 2
