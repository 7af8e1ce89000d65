"""Links fixtures: a bookable practice (``world``: one practitioner, location, appointment type and six
free slots two days ahead, from the booking builders) and a patient with a known date of birth. The headless
Chromium of the browser tests (``chrome``) is in tests/conftest.py, shared with the sandbox console's."""

from __future__ import annotations

from datetime import date

import pytest

from openhero.core.clock import FrozenClock
from openhero.core.db import Database
from tests.booking.builders import BookingWorld, make_world
from tests.builders import Tenant, make_patient


@pytest.fixture
async def world(clean: Database, clock: FrozenClock, tenant: Tenant) -> BookingWorld:
    return await make_world(clean, clock.now(), tenant=tenant)


@pytest.fixture
async def patient(clean: Database, tenant: Tenant):  # type: ignore[no-untyped-def]
    return await make_patient(clean, tenant.id, first_name="Amira", last_name="Khan", dob=date(1984, 6, 15),
                              nhs_number="9434765919")
