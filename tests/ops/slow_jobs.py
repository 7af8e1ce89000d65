"""Job handlers for the shutdown tests, loaded into a real ``openhero worker`` process:

    python -c "import tests.ops.slow_jobs; from openhero.cli import app; app()" worker
"""

from __future__ import annotations

import asyncio
from typing import Any

from openhero.core.worker import JobContext, job_handler


@job_handler("test.slow")
async def slow(ctx: JobContext, payload: dict[str, Any]) -> None:
    await asyncio.sleep(float(payload.get("seconds", 60)))
