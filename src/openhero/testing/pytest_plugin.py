"""pytest plugin (entry point ``pytest11``): ``openhero_sandbox`` gives each test a fresh openhero sandbox.

    def test_booking(openhero_sandbox):
        r = openhero_sandbox.client.get("/v1/appointment_types")
        assert r.status_code == 200

``openhero_sandbox`` is function-scoped (a fresh database per test, copied from one migrated and seeded per
session, so it costs a server start, not a migration); ``openhero_sandbox_session`` is one sandbox for the
whole session, for speed. Nothing is imported from openhero until a fixture is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def _openhero_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    from openhero.testing.sandbox import prepare_database

    path = tmp_path_factory.mktemp("openhero-template") / "template.db"
    credentials = prepare_database(path)
    return path, credentials


@pytest.fixture
def openhero_sandbox(tmp_path: Path, _openhero_template: tuple[Path, dict[str, str]]) -> Iterator[Any]:
    """A fresh openhero sandbox server for this test (see openhero.testing.Sandbox)."""
    from openhero.testing.sandbox import start_sandbox

    sandbox = start_sandbox(tmp_path / "openhero", template=_openhero_template)
    try:
        yield sandbox
    finally:
        sandbox.close()


@pytest.fixture(scope="session")
def openhero_sandbox_session(tmp_path_factory: pytest.TempPathFactory,
                             _openhero_template: tuple[Path, dict[str, str]]) -> Iterator[Any]:
    """One openhero sandbox shared by every test of the session (state carries over between tests)."""
    from openhero.testing.sandbox import start_sandbox

    sandbox = start_sandbox(tmp_path_factory.mktemp("openhero-session"), template=_openhero_template)
    try:
        yield sandbox
    finally:
        sandbox.close()
