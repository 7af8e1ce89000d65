"""Prometheus metrics: HTTP requests by route template, worker jobs, outbox and webhook deliveries, and
calls to outside services (PDS, message providers).

Labels are bounded sets only: route *templates* (``/v1/patients/{id}``), job kinds, outcomes, service
names. Never a raw path, id or anything about a patient.

With several API processes (``openhero serve --workers N``) ``PROMETHEUS_MULTIPROC_DIR`` is set before
any process imports this module, so every process writes its samples to files there and ``/metrics``
(answered by any one of them) adds them all up. Queue depths and ages are read from the database when
``/metrics`` is scraped, so they are right whichever process answers.

Domain code reports through the one-line helpers below (``observe_call``, ``instrument``,
``webhook_delivery``); ``core/worker.py`` and ``RequestMetrics`` (an observer of ``core/observe.py``) count the rest.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # prometheus-client writes its files there from import on
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest  # noqa: E402
from prometheus_client.core import GaugeMetricFamily  # noqa: E402
from starlette.types import Scope  # noqa: E402

from openhero.core.logging import log_job  # noqa: E402
from openhero.core.observe import route_template  # noqa: E402

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SLOW = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0, 3600.0)

HTTP_REQUESTS = Counter("openhero_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
HTTP_DURATION = Histogram("openhero_http_request_duration_seconds", "Time to answer an HTTP request",
                          ["method", "route"], buckets=_FAST)
JOBS_CLAIMED = Counter("openhero_jobs_claimed_total", "Jobs claimed by a worker", ["kind"])
JOBS_FINISHED = Counter("openhero_jobs_finished_total",
                        "Job runs by outcome: succeeded, retried, failed, released (at shutdown)",
                        ["kind", "outcome"])
JOB_DURATION = Histogram("openhero_job_duration_seconds", "Time a job handler ran", ["kind"], buckets=_SLOW)
OUTBOX_DISPATCHED = Counter("openhero_outbox_events_dispatched_total", "Outbox events fanned out to deliveries")
WEBHOOK_DELIVERIES = Counter("openhero_webhook_deliveries_total",
                             "Webhook delivery attempts by outcome: delivered, pending (will retry), failed, "
                             "cancelled", ["outcome"])
WEBHOOK_LATENCY = Histogram("openhero_webhook_event_to_delivery_seconds",
                            "From the event's commit to its successful delivery", buckets=_SLOW)
EXTERNAL_CALLS = Counter("openhero_external_calls_total", "Calls to outside services (PDS, SMS/email providers)",
                         ["service", "operation", "outcome"])
EXTERNAL_DURATION = Histogram("openhero_external_call_duration_seconds", "Duration of calls to outside services",
                              ["service", "operation"], buckets=_FAST)


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


# ------------------------------------------------------------------ helpers for worker and domain code


def job_claimed(kind: str) -> None:
    JOBS_CLAIMED.labels(kind).inc()


def job_finished(kind: str, outcome: str, seconds: float) -> None:
    JOBS_FINISHED.labels(kind, outcome).inc()
    JOB_DURATION.labels(kind).observe(seconds)


def events_dispatched(count: int) -> None:
    if count:
        OUTBOX_DISPATCHED.inc(count)


def webhook_delivery(outcome: str, event_created_at: datetime | None, *, delivery_id: int, attempt: int,
                     seconds: float, worker_id: str) -> None:
    """One attempt's outcome (and its log line); for a delivered event, its event->delivery latency."""
    log_job(kind="webhook.delivery", job_id=delivery_id, attempt=attempt, outcome=outcome, duration=seconds,
            worker_id=worker_id)
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    if outcome == "delivered" and event_created_at is not None:
        WEBHOOK_LATENCY.observe(max(0.0, time.time() - event_created_at.timestamp()))


def observe_call(service: str, operation: str, outcome: str, seconds: float) -> None:
    EXTERNAL_CALLS.labels(service, operation, outcome).inc()
    EXTERNAL_DURATION.labels(service, operation).observe(seconds)


def _outcome(exc: BaseException) -> str:
    return type(exc).__name__  # a bounded set: the adapter's exception classes


class _Instrumented:
    """Times the awaited methods of an adapter; everything else passes through untouched."""

    def __init__(self, target: Any, service: str, methods: tuple[str, ...]) -> None:
        self._target, self._service, self._methods = target, service, methods

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance() sees the adapter's own class
        return type(self._target)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if name not in self._methods:
            return attr
        service = self._service

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = await attr(*args, **kwargs)
            except BaseException as exc:
                observe_call(service, name, _outcome(exc), time.perf_counter() - started)
                raise
            observe_call(service, name, "ok", time.perf_counter() - started)
            return result

        return timed


def instrument(target: Any, service: str, methods: tuple[str, ...]) -> Any:
    """``return instrument(adapter, "pds", ("trace_by_nhs_number",))``: count and time those calls."""
    return _Instrumented(target, service, methods)


# ------------------------------------------------------------------ HTTP


class RequestMetrics:
    """Counts and times every HTTP request by method, route template and status (a ``core.observe`` observer)."""

    def __init__(self) -> None:
        # (method, route, status) -> (counter child, histogram child): labels() once per series.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def __call__(self, scope: Scope, status: int, seconds: float) -> None:
        key = (scope["method"], route_template(scope), status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (HTTP_REQUESTS.labels(*key), HTTP_DURATION.labels(*key[:2]))
        children[0].inc()
        children[1].observe(seconds)


# ------------------------------------------------------------------ exposition


class _QueueCollector:
    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> list[GaugeMetricFamily]:
        return self.families


async def queue_families(db: Any, now: datetime) -> list[GaugeMetricFamily]:
    """Depth and age of the oldest due item of each queue, read from the database at scrape time."""
    due = GaugeMetricFamily("openhero_jobs_due", "Jobs due to run (queued, run_at reached)", labels=["kind"])
    age = GaugeMetricFamily("openhero_jobs_oldest_due_age_seconds", "Age of the oldest due job", labels=["kind"])
    events = GaugeMetricFamily("openhero_outbox_undispatched_events", "Outbox events not yet fanned out")
    events_age = GaugeMetricFamily("openhero_outbox_oldest_undispatched_age_seconds",
                                   "Age of the oldest outbox event not yet fanned out")
    deliveries = GaugeMetricFamily("openhero_webhook_deliveries_due", "Webhook deliveries due to be attempted")
    deliveries_age = GaugeMetricFamily("openhero_webhook_deliveries_oldest_due_age_seconds",
                                       "How long the oldest due webhook delivery has waited")
    from sqlalchemy import String, column, func, select, table

    from openhero.core.db import UTCDateTime
    from openhero.core.jobs import Job, JobStatus
    from openhero.core.outbox import Event

    # The webhooks domain's table, named rather than imported (core has no domain imports).
    wd = table("webhook_deliveries", column("status", String()), column("next_attempt_at", UTCDateTime()))
    async with db.session(write=False) as session:
        rows = (await session.execute(
            select(Job.kind, func.count(), func.min(Job.run_at))
            .where(Job.status == JobStatus.QUEUED, Job.run_at <= now).group_by(Job.kind))).all()
        for kind, count, oldest in rows:
            due.add_metric([kind], count)
            age.add_metric([kind], _age(now, oldest))
        count, oldest = (await session.execute(
            select(func.count(), func.min(Event.created_at)).where(Event.dispatched_at.is_(None)))).one()
        events.add_metric([], count)
        events_age.add_metric([], _age(now, oldest))
        try:
            count, oldest = (await session.execute(
                select(func.count(), func.min(wd.c.next_attempt_at))
                .where(wd.c.status == "pending", wd.c.next_attempt_at <= now))).one()
        except Exception:  # the webhooks domain is not installed
            return [due, age, events, events_age]
        deliveries.add_metric([], count)
        deliveries_age.add_metric([], _age(now, oldest))
    return [due, age, events, events_age, deliveries, deliveries_age]


def _age(now: datetime, then: Any) -> float:
    if then is None:
        return 0.0
    if isinstance(then, str):  # SQLite text timestamps through a raw query
        then = datetime.fromisoformat(then)
    if then.tzinfo is None:
        then = then.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - then).total_seconds())


def exposition(extra: list[GaugeMetricFamily] | None = None) -> bytes:
    """The text exposition of this process's (or, in multiprocess mode, every process's) series."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        registry = CollectorRegistry()
        mp.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY

        body = generate_latest(REGISTRY)
    if extra:
        registry = CollectorRegistry()
        registry.register(_QueueCollector(extra))  # type: ignore[arg-type]
        body += generate_latest(registry)
    return body


def worker_metrics_server(port: int, host: str) -> Callable[[], None]:
    """Serve a worker process's own series on ``host:port`` (a thread); returns a stopper."""
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, addr=host)

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=5)

    return stop
