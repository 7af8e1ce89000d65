"""The application factory: settings, database, clock, error handlers and every domain's router."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from openhero import __version__
from openhero.api_docs import install_docs
from openhero.core.clock import Clock
from openhero.core.db import Database
from openhero.core.deps import ReadSessionMiddleware
from openhero.core.errors import install_error_handlers
from openhero.core.idempotency import IdempotencyMiddleware
from openhero.core.observe import throttle_telemetry_check
from openhero.core.openapi import install_openapi
from openhero.core.ratelimit import KeyRateLimiter
from openhero.core.routing import include_routes, install_route_index
from openhero.core.sandbox import wrap_clock
from openhero.domains import domain_modules
from openhero.settings import Settings, get_settings

log = logging.getLogger("openhero")


DESCRIPTION = """\
openhero: an open, self-hostable implementation of the Hero Health Public API.

Every operation needs `x-api-key` and `x-practice-group-id` (Elements tokens may be sent as
`Authorization: Bearer <access_token>` instead of the key). Errors always have the body
`{"error": true, "statusCode": N, "message": [{"code", "expected", "path"}]}`.

openhero's own decisions where Hero's docs are silent:
- a group header naming a practice group outside the key's network is **403**; inside it the call acts
  on the named group;
- scopes: `messaging` (messages, batch messages, templates, attachment links), `booking` (appointment
  types, locations, slots, appointments), `booking_links` (booking and form links and the reference data
  they need); patients, practice group, tasks, forms, webhooks and admins take any valid key;
- lists page with `page_index` (0-based, default 0) and `page_size` (default 20, max 100; over → 400);
- over the key's rate limit → **429** with `Retry-After`; business-rule refusals → **409**.
"""


def _include_domains(app: FastAPI, *, sandbox: bool) -> None:
    """Each domain's ``endpoints.router``, for patient-facing HTML ``pages.router``, and in sandbox mode
    only ``sandbox.router`` (routes that do not exist outside it). A module that says ``SANDBOX_ONLY = True``
    (the sandbox domain's clock, faults and console) is likewise mounted in sandbox mode only."""
    for kind in ("endpoints", "pages", *(("sandbox",) if sandbox else ())):
        for _domain, module in domain_modules(kind):
            if getattr(module, "SANDBOX_ONLY", False) and not sandbox:
                continue
            include_routes(app, module.router)


def _install_edge(app: FastAPI, settings: Settings) -> None:
    """The outermost of openhero's layers (core/edge.py): request id, security rules, and the observers (request
    log, metrics: they see the request id); plus /readyz and /metrics."""
    from openhero.core.edge import EdgeMiddleware
    from openhero.core.health import ops_router
    from openhero.core.logging import log_request
    from openhero.core.observe import Observer

    observers: list[Observer] = [log_request]
    if settings.metrics_enabled:
        from openhero.core.metrics import RequestMetrics

        observers.append(RequestMetrics())
    app.add_middleware(EdgeMiddleware, observers=observers, max_body_bytes=settings.max_body_bytes,
                       forwarded_allow_ips=settings.forwarded_allow_ips)
    include_routes(app, ops_router(settings.metrics_enabled))


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, run_worker: bool | None = None,
               db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.check_secrets()
    sandbox_secret = settings.uses_development_secret
    if sandbox_secret:
        # Sandbox mode: the published secret never signs anything. Until the lifespan has read this
        # database's own secret, a random per-process one stands in.
        settings = settings.model_copy(update={"secret_key": secrets.token_urlsafe(48)})
    if run_worker is None:
        run_worker = settings.serve_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from openhero.core.backup import hold_server_lock

        server_lock = hold_server_lock(settings.database_url) if db is None else None  # see `openhero db restore`
        worker_task: asyncio.Task[Any] | None = None
        stop = asyncio.Event()
        if sandbox_secret:
            from openhero.core.instance import database_secret

            settings.secret_key = await database_secret(app.state.db)
        if run_worker:
            from openhero.core.worker import Worker

            worker = Worker(app.state.db, settings, app.state.clock)
            worker_task = asyncio.create_task(worker.run(stop))
        try:
            yield
        finally:
            stop.set()
            if worker_task is not None:
                await worker_task
            if db is None:
                await app.state.db.dispose()
            if server_lock is not None:
                server_lock.close()

    app = FastAPI(
        title="openhero — Hero Health Public API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        servers=[{"url": settings.public_base_url, "description": "this openhero server"}],
        docs_url=None, redoc_url=None,  # served by install_docs from packaged assets (no CDN)
    )
    install_docs(app)
    throttle_telemetry_check(app)
    app.state.settings = settings
    app.state.db = db or Database(settings.database_url, pool_size=settings.db_pool_size,
                                  hot_reads=settings.hot_reads)
    app.state.clock = wrap_clock(clock or Clock(), app.state.db, settings.sandbox)
    app.state.limiter = KeyRateLimiter(settings.rate_limit, settings.redis_url, settings.rate_limit_namespace)
    app.state.page_limiter = KeyRateLimiter(settings.page_rate_limit, settings.redis_url,
                                            f"{settings.rate_limit_namespace}-pages")
    install_error_handlers(app)
    # Outermost first on the way in: the edge (request id, security rules with the body cap before anything
    # buffers, request log and metrics), idempotency, and innermost the finishing of GET handlers' sessions
    # (core/deps.py).
    app.add_middleware(ReadSessionMiddleware)
    app.add_middleware(IdempotencyMiddleware)
    _install_edge(app, settings)
    # First among the routes: FastAPI matches routes in order (over 130 of them), and a liveness probe should
    # not pay for the whole API's route table (~150 µs measured when it came last).
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    _include_domains(app, sandbox=settings.sandbox)

    install_openapi(app)
    install_route_index(app)

    return app
