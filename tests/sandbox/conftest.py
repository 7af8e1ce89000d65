"""Sandbox fixtures: booking world and a worker that uses the app's (sandbox) clock."""

from __future__ import annotations

import pytest

from openhero.core.worker import Worker
from tests.booking.builders import make_world
from tests.webhooks.conftest import receiver  # noqa: F401  (the loopback webhook receiver fixture)


@pytest.fixture
async def world(clean, clock, tenant):  # type: ignore[no-untyped-def]
    return await make_world(clean, clock.now(), tenant=tenant)


@pytest.fixture
def drain(app, clean, settings):  # type: ignore[no-untyped-def]
    """``await drain()`` runs every job due, by each practice group's sandbox clock."""

    async def run() -> int:
        return await Worker(clean, settings, app.state.clock, worker_id="sandbox-test").drain()

    return run
