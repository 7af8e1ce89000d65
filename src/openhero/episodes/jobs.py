"""The worker poller that files new tasks into episodes (see ``service.file_new_tasks``).

Registered when the worker imports every domain's ``jobs`` module (``openhero.domains``).
"""

from __future__ import annotations

from openhero.core.worker import JobContext, poller
from openhero.episodes import service


@poller
async def file_tasks_into_episodes(ctx: JobContext) -> int:
    async with ctx.db.session() as session:
        filed = await service.file_new_tasks(session, ctx.clock.now(), postgres=ctx.db.is_postgres)
        await session.commit()
    return filed
