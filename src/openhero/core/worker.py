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
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from openhero.core import jobs as jobs_repo
from openhero.core import metrics
from openhero.core.clock import Clock
from openhero.core.db import Database
from openhero.core.logging import log_job
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


# Pollers that a NOTIFY (new outbox rows or jobs, PostgreSQL) should run at once; the others keep their pace.
WAKE_ON_NOTIFY: set[Poller] = set()


def poller(fn: Poller | None = None, *, on_notify: bool = False) -> Any:
    """``@poller`` or ``@poller(on_notify=True)`` (run as soon as a writer NOTIFYs, not at the next poll)."""

    def register(f: Poller) -> Poller:
        if f not in POLLERS:
            POLLERS.append(f)
        if on_notify:
            WAKE_ON_NOTIFY.add(f)
        return f

    return register(fn) if fn is not None else register


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
        # Set by a NOTIFY (PostgreSQL) or by stop: ends the idle wait at once.
        self._wake = asyncio.Event()
        self._next_prune: float | None = None
        self._wakes = 0  # how many wake-ups so far

    def wake(self) -> None:
        """New work was committed: run the job queue and the outbox pollers now, not at the next poll."""
        self._wakes += 1
        self._idle_since.pop(self._run_jobs, None)
        for key in WAKE_ON_NOTIFY:
            self._idle_since.pop(key, None)
        self._wake.set()

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
            wakes = self._wakes
            try:
                found = await poll(self.ctx)
            except Exception:
                log.exception("poller %s failed", getattr(poll, "__name__", poll))
                found = 0
            self._record(poll, found, wakes)
            if found and poll in WAKE_ON_NOTIFY:  # e.g. fan-out made deliveries: the sender is due at once
                for key in WAKE_ON_NOTIFY:
                    self._idle_since.pop(key, None)
            done += found
        if not pace or self._due(self._run_jobs):
            wakes = self._wakes
            found = await self._run_jobs()
            self._record(self._run_jobs, found, wakes)
            done += found
        return done

    def _due(self, key: Any) -> bool:
        idle_since = self._idle_since.get(key)
        return idle_since is None or time.monotonic() - idle_since >= self.settings.worker_poll_interval_seconds

    def _record(self, key: Any, found: int, wakes: int = 0) -> None:
        # A NOTIFY that arrived while the poll ran may be for work the poll did not see yet: stay due.
        if found or wakes != self._wakes:
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
        for job in claimed:
            metrics.job_claimed(job.kind)
        runs = [asyncio.ensure_future(self._run_job(job)) for job in claimed]
        try:
            await asyncio.wait(runs)
        except asyncio.CancelledError:
            # Shutdown ran out of patience: stop the jobs still running and hand them back (below).
            for run in runs:
                run.cancel()
            await asyncio.gather(*runs, return_exceptions=True)
            await asyncio.shield(self._record_results(claimed, runs))
            raise
        await self._record_results(claimed, runs)
        return len(claimed)

    async def _record_results(self, claimed: list[jobs_repo.Job], runs: list[asyncio.Future[Any]]) -> None:
        """One transaction for the whole batch's results: a batch of 100 quick jobs costs one commit,
        not 100. Each update is conditional on still holding the lease. Cancelled runs are released."""
        done: list[int] = []
        released: list[int] = []
        failures: list[tuple[jobs_repo.Job, tuple[str, timedelta | None, bool]]] = []
        for job, run in zip(claimed, runs, strict=True):
            if run.cancelled():
                released.append(job.id)
            elif run.result() is None:
                done.append(job.id)
            else:
                failures.append((job, run.result()))
        async with self.db.session() as session:
            now = self.clock.now()
            await jobs_repo.finish_many(session, done, self.worker_id, now)
            await jobs_repo.release_many(session, released, self.worker_id, now)
            for job, (error, delay, permanent) in failures:
                await jobs_repo.retry_or_fail(session, job, self.worker_id, now, error, delay, permanent=permanent)
            await session.commit()

    async def _run_job(self, job: jobs_repo.Job) -> tuple[str, timedelta | None, bool] | None:
        """Run one job; None when it is done, else (error, retry delay or None, permanent). Logs one line."""
        started = time.perf_counter()
        try:
            result = await self._call_handler(job)
        except asyncio.CancelledError:
            self._report(job, "released", started, None)
            raise
        if result is None:
            self._report(job, "succeeded", started, None)
        else:
            error, delay, permanent = result
            failed = permanent or delay is None or job.attempts >= job.max_attempts
            self._report(job, "failed" if failed else "retried", started, error)
        return result

    def _report(self, job: jobs_repo.Job, outcome: str, started: float, error: str | None) -> None:
        elapsed = time.perf_counter() - started
        metrics.job_finished(job.kind, outcome, elapsed)
        # Only the error's class (``Retry`` reasons and messages may quote what the job was about).
        error_type = error.split(":", 1)[0][:64] if error and ":" in error else None
        log_job(kind=job.kind, job_id=job.id, attempt=job.attempts, outcome=outcome, duration=elapsed,
                worker_id=self.worker_id, error_type=error_type)

    async def _call_handler(self, job: jobs_repo.Job) -> tuple[str, timedelta | None, bool] | None:
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
                # The exception's class and traceback, not its message: messages can quote patient data.
                log.error("job %s (%s) raised %s; traceback:\n%s", job.id, job.kind, type(exc).__name__,
                          "".join(traceback.format_tb(exc.__traceback__)))
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
        """Work until ``stop`` is set. Then the round under way gets ``shutdown_timeout_seconds`` to
        finish; jobs still running after that are cancelled and released (due again at once, for
        another worker), not left to wait for their lease to expire."""
        from openhero.core.wakeup import Listener

        listener = Listener(self.db.engine.url, self.wake) if (
            self.db.is_postgres and self.settings.worker_listen) else None
        stopping = asyncio.ensure_future(stop.wait())
        stopping.add_done_callback(lambda _: self._wake.set())
        async with _http_client() as http:
            self.ctx.http = http
            log.info("worker %s started (%s)", self.worker_id,
                     "LISTEN/NOTIFY and polling" if listener else "polling")
            try:
                while not stop.is_set():
                    if listener is not None:
                        await listener.ensure()
                    self._wake.clear()
                    done = await self._round(stopping)
                    await self._maybe_prune()
                    if done == 0 and not stop.is_set():
                        idle = self.settings.worker_poll_interval_seconds
                        try:
                            await asyncio.wait_for(self._wake.wait(), timeout=idle)
                        except TimeoutError:
                            pass
            finally:
                stopping.cancel()
                if listener is not None:
                    await listener.close()
                await self._close_state()
            log.info("worker %s stopped", self.worker_id)

    async def _maybe_prune(self) -> None:
        """The scheduled retention prune, every ``retention_prune_interval_minutes`` (first after one interval)."""
        interval = self.settings.retention_prune_interval_minutes * 60
        now = time.monotonic()
        if interval <= 0:
            return
        if self._next_prune is None:
            self._next_prune = now + interval
        if now < self._next_prune:
            return
        self._next_prune = now + interval
        from openhero.core.retention import prune

        try:
            report = await prune(self.db, self.settings, self.clock.now())
        except Exception:
            log.exception("retention prune failed")
            return
        log.info("retention prune: %s", ", ".join(f"{n}={c}" for n, c in report.items() if c) or "nothing to delete")

    async def _round(self, stopping: asyncio.Future[Any]) -> int:
        current = asyncio.ensure_future(self.run_once(pace=True))
        await asyncio.wait({current, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not current.done():
            await asyncio.wait({current}, timeout=self.settings.shutdown_timeout_seconds)
        if not current.done():
            log.warning("worker %s: shutdown grace over; releasing unfinished jobs", self.worker_id)
            current.cancel()
        try:
            return await current
        except asyncio.CancelledError:
            return 0
        except Exception:
            log.exception("worker round failed")
            return 0
