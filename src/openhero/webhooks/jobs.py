"""Worker pollers for webhooks: fan outbox events out into deliveries, then send due deliveries.

Both run in every worker (``openhero worker``, or in-process under ``openhero serve``). Several
workers may run against one PostgreSQL: events and deliveries are claimed with ``FOR UPDATE SKIP
LOCKED``, deliveries additionally with a lease, so each attempt is made by one worker at a time. A
worker killed mid-send leaves its lease behind; once it expires another worker sends again (at least
once; receivers deduplicate on ``X-Openhero-Delivery-Id``).

Deliveries are claimed in batches and sent concurrently (see ``pipeline.py``); the results that
finished during a round (attempt rows, new states) are written in one transaction.
"""

from __future__ import annotations

from openhero.core import metrics
from openhero.core.worker import JobContext, poller
from openhero.webhooks import queue
from openhero.webhooks.pipeline import DeliveryPipeline

DISPATCH_BATCH = 500
DELIVERY_BATCH = 256  # most deliveries claimed in one transaction
SEND_CONCURRENCY = 256  # sends in flight per worker


@poller(on_notify=True)
async def dispatch_webhook_events(ctx: JobContext) -> int:
    async with ctx.db.session(write=False) as session:
        if not await queue.has_undispatched_events(session):
            return 0
    async with ctx.db.session() as session:
        taken = await queue.dispatch_events(
            session, now=ctx.clock.now(), limit=DISPATCH_BATCH, postgres=ctx.db.is_postgres
        )
        await session.commit()
    metrics.events_dispatched(taken)
    return taken


@poller(on_notify=True)
async def send_due_deliveries(ctx: JobContext) -> int:
    pipeline = ctx.state.get("webhooks.pipeline")
    if pipeline is None:
        pipeline = ctx.state["webhooks.pipeline"] = DeliveryPipeline(
            ctx, capacity=SEND_CONCURRENCY, batch=DELIVERY_BATCH
        )
    return await pipeline.step()
