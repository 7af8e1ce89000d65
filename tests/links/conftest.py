"""Links fixtures: a bookable practice (``world``: one practitioner, location, appointment type and six
free slots two days ahead, from the booking builders), a patient with a known date of birth, and the
headless Chromium of the browser tests (``chrome``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from openhero.core.clock import FrozenClock
from openhero.core.db import Database
from tests.booking.builders import BookingWorld, make_world
from tests.builders import Tenant, make_patient
from tests.links import chrome as chrome_module


@pytest.fixture
async def world(clean: Database, clock: FrozenClock, tenant: Tenant) -> BookingWorld:
    return await make_world(clean, clock.now(), tenant=tenant)


@pytest.fixture
async def patient(clean: Database, tenant: Tenant):  # type: ignore[no-untyped-def]
    return await make_patient(clean, tenant.id, first_name="Amira", last_name="Khan", dob=date(1984, 6, 15),
                              nhs_number="9434765919")


@pytest.fixture(scope="session")
def chrome() -> Iterator[chrome_module.Chrome]:
    browser = chrome_module.Chrome()
    yield browser
    browser.close()


_skipped: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run when chromium, chromedriver and axe-core are installed (``.ci/run`` installs them).
    Without them they are left out with one line saying so, unless OPENHERO_BROWSER_TESTS=required (CI),
    where their absence fails the run rather than hiding the gap."""
    # One backend for the walks (SQLite): the journey's database behaviour is tested on both by the httpx tests.
    other_backends = [item for item in items if item.get_closest_marker("browser")
                      and "postgres" in getattr(getattr(item, "callspec", None), "id", "")]
    if other_backends:
        items[:] = [item for item in items if item not in other_backends]
        config.hook.pytest_deselected(items=other_backends)
    browser_items = [item for item in items if item.get_closest_marker("browser")]
    gaps = chrome_module.missing() if browser_items else []
    if not gaps:
        return
    if chrome_module.browser_required():
        raise pytest.UsageError(f"browser tests required but missing: {', '.join(gaps)}")
    items[:] = [item for item in items if not item.get_closest_marker("browser")]
    config.hook.pytest_deselected(items=browser_items)
    _skipped.append(f"browser tests not run ({len(browser_items)}): missing {', '.join(gaps)} — "
                    f"apt-get install chromium chromium-driver && npm install axe-core")


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    for line in _skipped:
        terminalreporter.write_line(line, yellow=True, bold=True)
