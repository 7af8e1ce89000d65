"""Patients fixtures: the fake PDS FHIR server (one per session) and an app wired to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from openhero.patients.pds import FhirPdsAdapter
from tests.patients.fake_pds import FakePds

# Generous for ordinary answers (a loaded CI box); the timeout test installs a short one itself.
TEST_PDS_TIMEOUT = 5.0


@pytest.fixture(scope="session")
def fake_pds() -> Iterator[FakePds]:
    server = FakePds()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def pds(fake_pds: FakePds) -> Iterator[FakePds]:
    fake_pds.mode = "ok"
    fake_pds.requests.clear()
    yield fake_pds
    fake_pds.mode = "ok"


@pytest.fixture
def fhir_app(app, pds: FakePds, settings):  # type: ignore[no-untyped-def]
    """The app using the PDS FHIR adapter against the fake server."""
    app.state.pds_adapter = FhirPdsAdapter(
        base_url=pds.url,
        timeout=TEST_PDS_TIMEOUT,
        public_base_url=settings.public_base_url,
        secret_key=settings.secret_key,
    )
    return app
