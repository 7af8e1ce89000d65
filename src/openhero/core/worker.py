"""The worker: claims due jobs from the database and runs them; runs domain pollers.

Domains register job handlers with ``@job_handler("kind")`` in their ``jobs.py`` and periodic pollers
with ``@poller``. A handler gets a ``JobContext`` and the job's payload, opens its own session(s), and
either returns (done), raises ``Retry(delay)`` (try again later) or ``PermanentFailure`` (give up), or
raises anything else (retried with capped exponential backoff and jitter).

Run it with ``openhero worker``; ``openhero serve`` also runs one in-process unless ``--no-worker``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from openhero.core import jobs as jobs_repo
from openhero.core.clock import Clock
from openhero.core.db import Database
from openhero.core.sandbox import sandbox_state, use_group
from openhero.settings import Settings

log = logging.getLogger("openhero.worker")

try:  # httpcore tries `import sniffio` on every request; when it is absent that failed import
    import sniffio  # noqa: F401 - rescans sys.path each time (milliseconds per request). Fail fast.
except ImportError:
    sys.modules["sniffio"] = None  # type: ignore[assignment]



@dataclass
class JobContext:
    db: Database
    settings: Settings
    clock: Clock
    worker_id: str
    http: Any = None  # a shared httpx.AsyncClient, created by the worker
    # Per-worker resources a domain keeps between rounds (e.g. webhooks' connection pool). Values with an
    # ``aclose()`` are closed when the worker's run()/drain() ends.
    state: dict[str, Any] = field(default_factory=dict)


class Retry(Exception):  # noqa: N818 - it is an instruction, not an error
    def __init__(self, delay: timedelta, reason: str = "retry") -> None:
        super().__init__(reason)
        self.delay = delay


class PermanentFailure(Exception):
    pass


Handler = Callable[[JobContext, dict[str, Any]], Awaitable[None]]
Poller = Callable[[JobContext], Awaitable[int]]
HANDLERS: dict[str, Handler] = {}
POLLERS: list[Poller] = []


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


def poller(fn: Poller) -> Poller:
    if fn not in POLLERS:
        POLLERS.append(fn)
    return fn


def load_job_modules() -> None:
    """Import every domain's ``jobs`` module; importing registers its handlers and pollers."""
    from openhero.domains import domain_modules

    domain_modules("jobs")


def backoff(attempt: int, *, base: float = 2.0, cap: float = 3600.0) -> timedelta:
    """Capped exponential backoff with full jitter in the upper half."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def _http_client() -> Any:
    """The one HTTP client a worker shares between all its jobs and pollers: keep-alive connections are
    reused across deliveries, and the pool is large enough for a batch of concurrent sends."""
    import httpx

    return httpx.AsyncClient(timeout=10.0, limits=httpx.Limits(max_connections=256, max_keepalive_connections=256))


class Worker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        *,
        worker_id: str | None = None,
        kinds: list[str] | None = None,
        concurrency: int = 16,
    ) -> None:
        load_job_modules()
        self.db = db
        self.settings = settings
        self.clock = clock
        self.kinds = kinds
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{random.randrange(1 << 30):x}"
        self.semaphore = asyncio.Semaphore(concurrency)
        self.ctx = JobContext(db=db, settings=settings, clock=clock, worker_id=self.worker_id)
        # When each poller (or the job queue) last came back empty; real time, for pacing only.
        self._idle_since: dict[Any, float] = {}

    async def run_once(self, *, pace: bool = False) -> int:
        """Run every poller once and every due job once. Returns how much work was done.

        With ``pace`` (used by ``run()``), a poller or the job queue that found nothing last time is
        asked again only after the poll interval, so one busy poller (e.g. webhook sends, which keep
        rounds short) does not make every idle one query the database many times a second.
        """
        done = 0
        for poll in list(POLLERS):
            if pace and not self._due(poll):
                continue
            try:
                found = await poll(self.ctx)
            except Exception:
                log.exception("poller %s failed", getattr(poll, "__name__", poll))
                found = 0
            self._record(poll, found)
            done += found
        if not pace or self._due(self._run_jobs):
            found = await self._run_jobs()
            self._record(self._run_jobs, found)
            done += found
        return done

    def _due(self, key: Any) -> bool:
        idle_since = self._idle_since.get(key)
        return idle_since is None or time.monotonic() - idle_since >= self.settings.worker_poll_interval_seconds

    def _record(self, key: Any, found: int) -> None:
        if found:
            self._idle_since.pop(key, None)
        else:
            self._idle_since[key] = time.monotonic()

    async def _run_jobs(self) -> int:
        use_group(None)
        now = self.clock.now()
        state = sandbox_state(self.clock)
        if state is not None:
            await state.refresh()
        async with self.db.session() as session:
            claimed = await jobs_repo.claim(
                session,
                worker_id=self.worker_id,
                now=now,
                lease=timedelta(seconds=self.settings.worker_lease_seconds),
                limit=self.settings.worker_batch_size,
                kinds=self.kinds,
                postgres=self.db.is_postgres,
                group_offsets=state.offsets if state is not None else None,
            )
            await session.commit()
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._run_job(job) for job in claimed))
        # One transaction for the whole batch's results: a batch of 100 quick jobs costs one commit,
        # not 100. Each update is conditional on still holding the lease.
        async with self.db.session() as session:
            now = self.clock.now()
            done = [job.id for job, outcome in zip(claimed, outcomes, strict=True) if outcome is None]
            await jobs_repo.finish_many(session, done, self.worker_id, now)
            for job, outcome in zip(claimed, outcomes, strict=True):
                if outcome is not None:
                    error, delay, permanent = outcome
                    await jobs_repo.retry_or_fail(session, job, self.worker_id, now, error, delay, permanent=permanent)
            await session.commit()
        return len(claimed)

    async def _run_job(self, job: jobs_repo.Job) -> tuple[str, timedelta | None, bool] | None:
        """Run one job; None when it is done, else (error, retry delay or None, permanent)."""
        handler = HANDLERS.get(job.kind)
        if handler is None:
            return f"no handler for job kind {job.kind!r}", None, True
        async with self.semaphore:
            use_group(job.practice_group_id)  # this task's clock and faults are the job's group's
            try:
                await handler(self.ctx, job.payload)
            except Retry as exc:
                return str(exc), exc.delay, False
            except PermanentFailure as exc:
                return str(exc) or "permanent failure", None, True
            except Exception as exc:
                log.exception("job %s (%s) failed", job.id, job.kind)
                return f"{type(exc).__name__}: {exc}", backoff(job.attempts), False
        return None

    async def drain(self, *, max_rounds: int = 100) -> int:
        """Run until nothing is due (used by tests and the CLI's --once)."""
        total = 0
        async with _http_client() as http:
            self.ctx.http = http
            try:
                for _ in range(max_rounds):
                    done = await self.run_once()
                    total += done
                    if done == 0:
                        break
            finally:
                await self._close_state()
        return total

    async def _close_state(self) -> None:
        state, self.ctx.state = self.ctx.state, {}
        for value in state.values():
            closer = getattr(value, "aclose", None)
            if closer is not None:
                try:
                    await closer()
                except Exception:
                    log.exception("closing worker resource %r failed", value)

    async def run(self, stop: asyncio.Event) -> None:
        async with _http_client() as http:
            self.ctx.http = http
            log.info("worker %s started", self.worker_id)
            while not stop.is_set():
                try:
                    done = await self.run_once(pace=True)
                except Exception:
                    log.exception("worker round failed")
                    done = 0
                if done == 0:
                    idle = self.settings.worker_poll_interval_seconds
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=idle)
                    except TimeoutError:
                        pass
            await self._close_state()
            log.info("worker %s stopped", self.worker_id)
