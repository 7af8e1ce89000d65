"""The application factory: settings, database, clock, error handlers and every domain's router."""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openhero import __version__
from openhero.core.clock import Clock
from openhero.core.db import Database
from openhero.core.errors import install_error_handlers
from openhero.core.ratelimit import KeyRateLimiter
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


class RequestIdMiddleware:
    """Gives every request an id (or keeps the caller's X-Request-Id) and echoes it on the response.

    Generated ids are a random per-process prefix plus a counter (unique, and no urandom call per request).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.prefix = uuid.uuid4().hex[:16]
        self.counter = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value
                break
        request_id = incoming[:64].decode("latin-1") if incoming else f"{self.prefix}{next(self.counter):016x}"
        scope["openhero.request_id"] = request_id
        encoded = request_id.encode("latin-1")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", encoded))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


def _include_domains(app: FastAPI) -> None:
    """Each domain's ``endpoints.router`` and, for patient-facing HTML, ``pages.router``."""
    for kind in ("endpoints", "pages"):
        for _domain, module in domain_modules(kind):
            app.include_router(module.router)


def _merge_security_requirements(app: FastAPI) -> None:
    """Both headers are required together (one security requirement, as Hero's contract has it), not
    either one: FastAPI lists each header dependency as its own alternative."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for item in schema.get("paths", {}).values():
                for operation in item.values():
                    requirements = operation.get("security") if isinstance(operation, dict) else None
                    if requirements and len(requirements) > 1:
                        merged: dict[str, list[str]] = {}
                        for requirement in requirements:
                            merged.update(requirement)
                        operation["security"] = [merged]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, run_worker: bool | None = None,
               db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.check_secrets()
    if run_worker is None:
        run_worker = settings.serve_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker_task: asyncio.Task[Any] | None = None
        stop = asyncio.Event()
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

    app = FastAPI(
        title="openhero — Hero Health Public API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        servers=[{"url": settings.public_base_url, "description": "this openhero server"}],
    )
    app.state.settings = settings
    app.state.db = db or Database(settings.database_url, pool_size=settings.db_pool_size)
    app.state.clock = clock or Clock()
    app.state.limiter = KeyRateLimiter(settings.rate_limit, settings.redis_url, settings.rate_limit_namespace)
    app.state.page_limiter = KeyRateLimiter(settings.page_rate_limit, settings.redis_url,
                                            f"{settings.rate_limit_namespace}-pages")
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    _include_domains(app)

    _merge_security_requirements(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
