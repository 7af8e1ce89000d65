"""Readiness: the database answers and its schema is at the newest migration of every branch.

``/healthz`` (liveness) only says the process serves HTTP; ``/readyz`` says it can do useful work. A
load balancer sends traffic to a process only while ``/readyz`` answers 200; an orchestrator restarts
one whose ``/healthz`` stops answering.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from openhero.core.db import Database

# A readiness probe must answer quickly even when the database hangs.
CHECK_TIMEOUT_SECONDS = 2.0


def _script() -> Any:
    from alembic.script import ScriptDirectory

    from openhero.core.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config("sqlite://"))


@lru_cache
def migration_heads() -> frozenset[str]:
    """The head revision of every migration branch this code ships (read once from the scripts)."""
    return frozenset(_script().get_heads())


@lru_cache(maxsize=8)
def missing_heads(current: tuple[str, ...]) -> frozenset[str]:
    """Heads not applied, given the rows of ``alembic_version``: that table keeps only the newest
    revisions, whose ancestry (down revisions and ``depends_on``) covers every other applied one."""
    if not current:
        return migration_heads()
    applied = {rev.revision for rev in _script().revision_map.iterate_revisions(current, "base")}
    return migration_heads() - applied


async def readiness(db: Database) -> tuple[bool, str]:
    """(ready, reason). Never raises: a failure is a reason."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                try:
                    rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
                except Exception:
                    return False, "migrations not applied (no alembic_version table); run `openhero db upgrade`"
    except TimeoutError:
        return False, f"database did not answer within {CHECK_TIMEOUT_SECONDS:g}s"
    except Exception as exc:  # the reason names the failure, never the URL (it may hold a password)
        return False, f"database unavailable: {type(exc).__name__}"
    try:
        missing = missing_heads(tuple(sorted(rows)))
    except Exception:
        return False, "the database has migrations this code does not know (a newer release ran against it)"
    if missing:
        return False, f"migrations behind: {len(missing)} branch head(s) not applied; run `openhero db upgrade`"
    return True, "ok"


def ops_router(metrics_enabled: bool) -> APIRouter:
    """``/readyz`` and (unless metrics are off) ``/metrics``; both outside the API contract."""
    router = APIRouter(include_in_schema=False)

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        ready, reason = await readiness(request.app.state.db)
        return JSONResponse({"status": "ready" if ready else "unavailable", "reason": reason},
                            status_code=200 if ready else 503)

    if metrics_enabled:
        from openhero.core import metrics

        @router.get("/metrics")
        async def prometheus_metrics(request: Request) -> Response:
            try:
                async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                    queues = await metrics.queue_families(request.app.state.db, request.app.state.clock.now())
            except Exception:  # the process's own series are still worth a scrape
                queues = []
            return Response(metrics.exposition(queues), media_type=metrics.CONTENT_TYPE)

    return router
