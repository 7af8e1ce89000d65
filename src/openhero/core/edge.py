"""The outermost of openhero's layers, one pure-ASGI middleware for what every HTTP request gets on its way in
and its answer on its way out, whatever route serves it:

- a **request id**: the caller's ``X-Request-Id`` (first 64 characters) or a new one (a random per-process
  prefix and a counter: unique, and no urandom call per request), in ``scope["openhero.request_id"]`` and
  echoed on the answer;
- the **security rules** of ``core.security`` (body cap, security headers, trusted ``X-Forwarded-For``);
- **observers** (``core.observe``: the request log line, the request metrics), called once the answer is
  sent (or the app raised: status 500) with the status and the duration.

These were three middlewares, each with its own ``send`` wrapper and its own pass over the answer's headers;
as one they cost ~9 µs less per request (docs/performance.md, fifth pass) for the same answers.
"""

from __future__ import annotations

import itertools
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openhero.core.observe import Observer
from openhero.core.security import BodyTooLarge, SecurityRules


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, observers: list[Observer], max_body_bytes: int,
                 forwarded_allow_ips: str = "") -> None:
        self.app = app
        self.observers = observers
        self.rules = SecurityRules(max_body_bytes=max_body_bytes, forwarded_allow_ips=forwarded_allow_ips)
        self.prefix = uuid.uuid4().hex[:16]
        self.counter = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or []
        incoming = b""
        for name, value in headers:
            if name == b"x-request-id":
                incoming = value
                break
        request_id = incoming[:64].decode("latin-1") if incoming else f"{self.prefix}{next(self.counter):016x}"
        scope["openhero.request_id"] = request_id
        encoded = request_id.encode("latin-1")
        started_at = time.perf_counter()
        status = 500
        started = False
        rules = self.rules
        path: str = scope.get("path", "")

        async def edge_send(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = rules.headers(path, message.get("headers") or (), encoded)
            await send(message)

        try:
            if rules.trust_forwarded:
                rules.apply_forwarded(scope, headers)
            limit = rules.limit(path)
            if rules.declared_too_large(headers, limit):
                await rules.refuse(edge_send, limit)
                return
            received = 0

            async def counted_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise BodyTooLarge(limit)
                return message

            try:
                await self.app(scope, counted_receive, edge_send)
            except BodyTooLarge:
                if started:
                    raise
                await rules.refuse(edge_send, limit)
        finally:
            seconds = time.perf_counter() - started_at
            for observe in self.observers:
                observe(scope, status, seconds)
