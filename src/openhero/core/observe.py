"""One pure-ASGI layer that times every HTTP request and catches its status, then hands both to each observer
(the request log line, the request metrics): one ``send`` wrapper and one clock read per request, however many
observers there are."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# observer(scope, status, seconds), called after the response has been sent (or the app raised: status 500).
Observer = Callable[[Scope, int, float], None]


def route_template(scope: Scope) -> str:
    """The matched route's path template; ``unmatched`` for 404s (never the raw path)."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if path else "unmatched"


class RequestObserverMiddleware:
    def __init__(self, app: ASGIApp, observers: list[Observer]) -> None:
        self.app = app
        self.observers = observers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            seconds = time.perf_counter() - started
            for observe in self.observers:
                observe(scope, status, seconds)
