"""The sandbox secret: one per database, agreed by processes that start at the same moment, and the
published development secret never used in its place."""

import asyncio

import pytest

from openhero.core.db import Database
from openhero.core.instance import apply_secret, database_secret
from openhero.settings import DEFAULT_SECRET, ConfigError, Settings


async def test_processes_starting_together_agree_on_one_secret(database_url, clean):
    dbs = [Database(database_url, pool_size=1) for _ in range(4)]
    try:
        secrets = await asyncio.gather(*(database_secret(db) for db in dbs))
    finally:
        for db in dbs:
            await db.dispose()
    assert len(set(secrets)) == 1 and DEFAULT_SECRET not in secrets
    assert await database_secret(clean) == secrets[0]


async def test_apply_secret_replaces_the_published_one_only_in_sandbox(database_url, clean):
    sandbox = Settings(database_url=database_url, sandbox=True, _env_file=None)  # type: ignore[call-arg]
    await apply_secret(clean, sandbox)
    assert sandbox.secret_key == await database_secret(clean) != DEFAULT_SECRET

    chosen = Settings(database_url=database_url, sandbox=True, secret_key="an-operator-chosen-secret-" + "x" * 30,
                      _env_file=None)  # type: ignore[call-arg]
    await apply_secret(clean, chosen)
    assert chosen.secret_key.startswith("an-operator-chosen-secret-")  # a real secret is never replaced

    with pytest.raises(ConfigError, match="published development secret"):
        await apply_secret(clean, Settings(database_url=database_url, _env_file=None))  # type: ignore[call-arg]
