"""A worker's delivery pipeline: up to ``capacity`` sends in flight, topped up as they finish.

Each call to ``step()`` (one per worker round) writes the outcomes that finished since the last call
in one transaction, then claims enough due deliveries to refill the free slots. A slow receiver
therefore holds only its own slots for up to 10 seconds instead of stalling a whole batch, and the
database work of one round overlaps the HTTP work of the sends still in flight.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from urllib.request import getproxies

import httpx

from openhero.core import metrics
from openhero.core.sandbox import sandbox_state, use_group
from openhero.core.worker import JobContext
from openhero.webhooks import delivery, queue, targets
from openhero.webhooks.sender import Sender

log = logging.getLogger("openhero.webhooks")

# How long a round with nothing to claim waits for a chunk of sends to finish before writing.
_WAIT_SECONDS = 0.02


class DeliveryPipeline:
    def __init__(self, ctx: JobContext, *, capacity: int, batch: int) -> None:
        self.ctx = ctx
        self.capacity = capacity
        self.batch = batch
        self.in_flight: set[asyncio.Task[queue.Outcome]] = set()
        self.finished: list[queue.Outcome] = []
        # Our lean client, unless a proxy is configured: then the worker's httpx client (which honours it).
        self.sender = None if {"http", "https", "all"} & set(getproxies()) else Sender()
        self._own_http: httpx.AsyncClient | None = None
        self.guard = targets.TargetGuard(allow_private=ctx.settings.webhook_private_allowed)
        # Set when enough sends have finished to be worth a write (or none is left in flight).
        self._enough = asyncio.Event()
        self._wanted = 1

    async def step(self) -> int:
        """One round: refill free slots, write finished outcomes. Returns work done or under way."""
        room = self.capacity - len(self.in_flight)
        # Claim and write in reasonable chunks while busy: many tiny transactions cost more than they gain.
        chunk = min(self.batch, max(1, self.capacity // 2))
        claimed = 0
        if room > 0 and (not self.in_flight or room >= chunk):
            claimed = await self._claim(min(room, self.batch))
        if not claimed and self.in_flight and len(self.finished) < chunk:
            self._enough.clear()
            self._wanted = chunk
            try:
                await asyncio.wait_for(self._enough.wait(), timeout=_WAIT_SECONDS)
            except TimeoutError:
                pass
        return await self._flush() + claimed + len(self.in_flight)

    async def _claim(self, limit: int) -> int:
        ctx = self.ctx
        use_group(None)
        state = sandbox_state(ctx.clock)
        offsets = state.offsets if state is not None else None
        async with ctx.db.session(write=False) as session:
            if not await queue.has_due_deliveries(session, ctx.clock.now(), offsets):
                return 0
        async with ctx.db.session() as session:
            claimed = await queue.claim_deliveries(
                session,
                worker_id=ctx.worker_id,
                now=ctx.clock.now(),
                lease=timedelta(seconds=ctx.settings.worker_lease_seconds),
                limit=limit,
                postgres=ctx.db.is_postgres,
                group_offsets=offsets,
            )
            targets = await queue.load_targets(session, {c.webhook_id for c in claimed}) if claimed else {}
            await session.commit()
        for item in claimed:
            task = asyncio.create_task(self._send(item, targets.get(item.webhook_id)))
            self.in_flight.add(task)
            task.add_done_callback(self._done)
        return len(claimed)

    def _done(self, task: asyncio.Task[queue.Outcome]) -> None:
        self.in_flight.discard(task)
        if not task.cancelled():
            self.finished.append(task.result())
        if len(self.finished) >= self._wanted or not self.in_flight:
            self._enough.set()

    async def _send(self, item: queue.Claimed, target: queue.Target | None) -> queue.Outcome:
        ctx = self.ctx
        started = time.perf_counter()
        now = ctx.clock.now()  # real time: it signs the delivery, and receivers check it against theirs
        # Retries are scheduled by the subscription's practice group's (sandbox) clock, like its jobs.
        use_group(target.practice_group_id if target is not None else None)
        try:
            http = ctx.http
            if http is None and self.sender is None:
                http = self._own_http = self._own_http or httpx.AsyncClient()
            outcome = await delivery.attempt(
                http,
                self.sender,
                item,
                target,
                guard=self.guard,
                secret_key=ctx.settings.secret_key,
                now=now,
                worker_id=ctx.worker_id,
                schedule_now=ctx.clock.now(),
            )
            metrics.webhook_delivery(outcome.status, item.event_created_at, delivery_id=item.id, attempt=item.attempts,
                                     seconds=time.perf_counter() - started, worker_id=ctx.worker_id)
            return outcome
        except Exception as exc:  # a bug must not strand the delivery: retry it later
            log.exception("webhook delivery %s crashed", item.id)
            status, next_at = delivery.next_step(item, ctx.clock.now())
            return queue.Outcome(item.id, status, next_attempt_at=next_at, error=f"internal error: {exc}")

    async def _flush(self) -> int:
        if not self.finished:
            return 0
        outcomes, self.finished = self.finished, []
        async with self.ctx.db.session() as session:
            await queue.record_outcomes(session, outcomes, worker_id=self.ctx.worker_id, now=self.ctx.clock.now())
            await session.commit()
        return len(outcomes)

    async def aclose(self) -> None:
        """Let the sends in flight finish (each is bounded by the 10 s timeout) and record them."""
        if self.in_flight:
            await asyncio.wait(set(self.in_flight))
        await self._flush()
        if self.sender is not None:
            await self.sender.aclose()
        if self._own_http is not None:
            await self._own_http.aclose()
