"""A worker process for the crash test: ``python tests/webhooks/worker_process.py``.

Runs ``Worker.run`` against OPENHERO_DATABASE_URL until killed, as ``openhero worker`` does, without
importing the whole CLI (so it starts faster under a loaded test run).
"""

from __future__ import annotations

import asyncio

from openhero.core.clock import Clock
from openhero.core.db import Database
from openhero.core.worker import Worker
from openhero.settings import Settings


async def main() -> None:
    settings = Settings()
    db = Database(settings.database_url)
    try:
        await Worker(db, settings, Clock()).run(asyncio.Event())
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
