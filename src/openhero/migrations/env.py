"""Alembic environment: runs migrations over the async engine of OPENHERO_DATABASE_URL (or the URL the
caller put in the config). Domains keep their migrations on their own branches; upgrade to ``heads``."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from openhero.core.db import make_engine
from openhero.models import load_all

config = context.config
target_metadata = load_all().metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = make_engine(url, pool_size=1)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


def run() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async(url))


run()
