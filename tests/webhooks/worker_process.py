"""A worker process for crash tests: ``python tests/webhooks/worker_process.py [--drain] [--clock-offset S]``.

Runs ``Worker.run`` (or ``drain`` and exit) against OPENHERO_DATABASE_URL, like ``openhero worker``, with
its clock shifted forward so a restarted worker sees a dead worker's leases as expired without waiting.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

from openhero.core.clock import OffsetClock
from openhero.core.db import Database
from openhero.core.worker import Worker
from openhero.settings import Settings


async def main(drain: bool, offset: float) -> None:
    settings = Settings()
    clock = OffsetClock()
    clock.advance(timedelta(seconds=offset))
    db = Database(settings.database_url)
    worker = Worker(db, settings, clock)
    try:
        if drain:
            await worker.drain(max_rounds=1000)
        else:
            await worker.run(asyncio.Event())
    finally:
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--drain", action="store_true")
    parser.add_argument("--clock-offset", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(main(args.drain, args.clock_offset))
