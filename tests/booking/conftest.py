"""Booking fixtures: ``world`` is a practice with one practitioner, location, appointment type and six
free 10-minute slots two days ahead (outside the 24-hour cancellation window)."""

from __future__ import annotations

import httpx
import pytest

from openhero.core.clock import FrozenClock
from openhero.core.db import Database
from tests.booking.builders import BookingWorld, make_world
from tests.builders import Tenant


@pytest.fixture
async def world(clean: Database, clock: FrozenClock, tenant: Tenant) -> BookingWorld:
    return await make_world(clean, clock.now(), tenant=tenant)


@pytest.fixture
async def booking_api(api: httpx.AsyncClient, world: BookingWorld) -> httpx.AsyncClient:
    return api
