"""Booking's worker poller: tidies lapsed holds. Purely cosmetic (claims already treat an expired hold
as free), so correctness never waits for it."""

from __future__ import annotations

from openhero.booking import repository
from openhero.core.worker import JobContext, poller


@poller
async def tidy_expired_holds(ctx: JobContext) -> int:
    async with ctx.db.session() as session:
        cleared = await repository.tidy_expired_holds(session, ctx.clock.now())
        await session.commit()
    return cleared
