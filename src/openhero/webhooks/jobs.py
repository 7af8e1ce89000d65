"""Worker pollers for webhooks: fan outbox events out into deliveries, then send due deliveries.

Both run in every worker (``openhero worker``, or in-process under ``openhero serve``). Several
workers may run against one PostgreSQL: events and deliveries are claimed with ``FOR UPDATE SKIP
LOCKED``, deliveries additionally with a lease, so each attempt is made by one worker at a time. A
worker killed mid-send leaves its lease behind; once it expires another worker sends again (at least
once; receivers deduplicate on ``X-Openhero-Delivery-Id``).

Deliveries are claimed in batches and sent concurrently through the worker's shared
``httpx.AsyncClient``; a batch's results (attempt rows, new states) are written in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from urllib.request import getproxies

import httpx

from openhero.core.worker import JobContext, poller
from openhero.webhooks import delivery, queue
from openhero.webhooks.sender import Sender

log = logging.getLogger("openhero.webhooks")

DISPATCH_BATCH = 500
DELIVERY_BATCH = 256
SEND_CONCURRENCY = 128


@poller
async def dispatch_webhook_events(ctx: JobContext) -> int:
    async with ctx.db.session(write=False) as session:
        if not await queue.has_undispatched_events(session):
            return 0
    async with ctx.db.session() as session:
        taken = await queue.dispatch_events(
            session, now=ctx.clock.now(), limit=DISPATCH_BATCH, postgres=ctx.db.is_postgres
        )
        await session.commit()
    return taken


@poller
async def send_due_deliveries(ctx: JobContext) -> int:
    async with ctx.db.session(write=False) as session:
        if not await queue.has_due_deliveries(session, ctx.clock.now()):
            return 0
    async with ctx.db.session() as session:
        claimed = await queue.claim_deliveries(
            session,
            worker_id=ctx.worker_id,
            now=ctx.clock.now(),
            lease=timedelta(seconds=ctx.settings.worker_lease_seconds),
            limit=DELIVERY_BATCH,
            postgres=ctx.db.is_postgres,
        )
        targets = await queue.load_targets(session, {c.webhook_id for c in claimed}) if claimed else {}
        await session.commit()
    if not claimed:
        return 0
    if ctx.http is not None:
        outcomes = await _send_all(ctx, ctx.http, claimed, targets)
    else:  # run_once() called outside run()/drain(): bring a client for this batch
        async with httpx.AsyncClient() as http:
            outcomes = await _send_all(ctx, http, claimed, targets)
    async with ctx.db.session() as session:
        await queue.record_outcomes(session, outcomes, worker_id=ctx.worker_id, now=ctx.clock.now())
        await session.commit()
    return len(claimed)


def _sender(ctx: JobContext) -> Sender | None:
    """The worker's own lean HTTP client for deliveries, or None to use its httpx client (which honours
    HTTP(S)_PROXY when one is configured)."""
    if {"http", "https", "all"} & set(getproxies()):
        return None
    sender = ctx.state.get("webhooks.sender")
    if sender is None:
        sender = ctx.state["webhooks.sender"] = Sender()
    return sender


async def _send_all(
    ctx: JobContext, http: httpx.AsyncClient, claimed: list[queue.Claimed], targets: dict[int, queue.Target]
) -> list[queue.Outcome]:
    gate = asyncio.Semaphore(SEND_CONCURRENCY)
    sender = _sender(ctx)

    async def one(item: queue.Claimed) -> queue.Outcome:
        async with gate:
            try:
                return await delivery.attempt(
                    http,
                    sender,
                    item,
                    targets.get(item.webhook_id),
                    secret_key=ctx.settings.secret_key,
                    now=ctx.clock.now(),
                    worker_id=ctx.worker_id,
                )
            except Exception as exc:  # a bug must not strand the batch: retry this one later
                log.exception("webhook delivery %s crashed", item.id)
                status, next_at = delivery.next_step(item, ctx.clock.now())
                return queue.Outcome(item.id, status, next_attempt_at=next_at, error=f"internal error: {exc}")

    return list(await asyncio.gather(*(one(c) for c in claimed)))
