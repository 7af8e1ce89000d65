"""Test harness: every test runs against SQLite and, when one answers, PostgreSQL.

- ``database_url`` is parametrised over the backends (``OPENHERO_TEST_BACKENDS=sqlite`` narrows it).
  Each backend gets a fresh database migrated with Alembic (the same path production uses).
- Every test starts from empty tables (``clean``), gets a ``FrozenClock`` it can move, an app built by
  ``create_app`` and an ``httpx`` client speaking ASGI to it; ``live_server`` serves the same app over
  real HTTP on loopback for tests that need real concurrency.
- Builders in ``tests/builders.py`` make rows; ``tenant`` is a practice group with an all-scopes key.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import inspect

from openhero.app import create_app
from openhero.core.clock import FrozenClock
from openhero.core.db import Database
from openhero.core.migrate import upgrade
from openhero.models import load_all
from openhero.settings import Settings
from tests.builders import Tenant, make_tenant
from tests.links import chrome as chrome_module

PG_URL = os.environ.get("OPENHERO_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
TEST_SECRET = "test-secret-" + "x" * 40


def _postgres_answers() -> bool:
    async def probe() -> bool:
        import asyncpg

        try:
            conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg", "postgresql"), timeout=3)
        except Exception:
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


def _backends() -> list[str]:
    wanted = os.environ.get("OPENHERO_TEST_BACKENDS")
    if wanted:
        return [b.strip() for b in wanted.split(",") if b.strip()]
    return ["sqlite", "postgres"] if _postgres_answers() else ["sqlite"]


BACKENDS = _backends()


async def _admin_exec(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'openhero-test.db'}"
        upgrade(url)
        yield url
        return
    name = f"openhero_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin_exec(f'CREATE DATABASE "{name}"'))
    base, _, _ = PG_URL.rpartition("/")
    url = f"{base}/{name}"
    upgrade(url)
    yield url
    asyncio.run(_admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url, pool_size=10)
    yield db
    await db.dispose()


@pytest.fixture
def backend(database: Database) -> str:
    return "postgres" if database.is_postgres else "sqlite"


_existing_tables: dict[str, list[str]] = {}


async def truncate_all(db: Database) -> None:
    """Empty every table. DELETE (children first) in one round trip: on PostgreSQL it is far cheaper than
    TRUNCATE for tables that hold a handful of rows, which is what a test leaves behind."""
    async with db.engine.begin() as conn:
        if db.url not in _existing_tables:
            existing = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            _existing_tables[db.url] = [t.name for t in reversed(load_all().metadata.sorted_tables)
                                        if t.name in existing]
        script = "; ".join(f"DELETE FROM {name}" for name in _existing_tables[db.url])
        if db.is_postgres:  # asyncpg runs a multi-statement script through the simple query protocol
            raw = await conn.get_raw_connection()
            await raw.driver_connection.execute(script)
        else:
            for statement in script.split("; "):
                await conn.exec_driver_sql(statement)


@pytest.fixture
async def clean(database: Database) -> Database:
    await truncate_all(database)
    return database


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, secret_key=TEST_SECRET, sandbox=True, rate_limit="100000/minute",
                    public_base_url="http://testserver", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
async def app(settings: Settings, clean: Database, clock: FrozenClock):  # type: ignore[no-untyped-def]
    return create_app(settings, clock=clock, db=clean)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def tenant(clean: Database) -> Tenant:
    """A practice group with a key that has every scope and permission."""
    return await make_tenant(clean)


@pytest.fixture
async def api(client: httpx.AsyncClient, tenant: Tenant) -> httpx.AsyncClient:
    """The client, authenticated as ``tenant``."""
    client.headers.update(tenant.headers)
    return client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def live_server(app) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    """The app served by uvicorn on a loopback port, in this test's event loop."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                            loop="asyncio", backlog=2048, limit_concurrency=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


# Browser tests (patient pages, sandbox console): headless Chromium driven by Selenium, checked with axe-core.

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
