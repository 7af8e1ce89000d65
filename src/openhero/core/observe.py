"""Observers of HTTP requests (the request log line, the request metrics): ``core.edge.EdgeMiddleware`` times
every request and catches its status, then hands both to each observer (one clock read per request, however
many observers there are); and FastAPI's OpenTelemetry check, answered at most once a second."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import Scope

# observer(scope, status, seconds), called after the response has been sent (or the app raised: status 500).
Observer = Callable[[Scope, int, float], None]


def route_template(scope: Scope) -> str:
    """The matched route's path template; ``unmatched`` for 404s (never the raw path)."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if path else "unmatched"


TELEMETRY_CHECK_SECONDS = 1.0


class TelemetryCheck:
    """FastAPI's per-request question "is OpenTelemetry configured?" (``NativeTelemetry.enabled``: three
    provider lookups, each through ``os.environ``; ~9 µs, a twentieth of an authenticated 404), answered from
    its last answer for up to ``interval`` seconds. A deployer who configures a provider (before start-up, or
    later from code) is therefore traced from the next second on, as before from the next request."""

    def __init__(self, check: Callable[[], bool], interval: float = TELEMETRY_CHECK_SECONDS) -> None:
        self.check = check
        self.interval = interval
        self.value = False
        self.until = float("-inf")

    def __call__(self) -> bool:
        now = time.monotonic()
        if now >= self.until:
            self.value = self.check()
            self.until = now + self.interval
        return self.value


def throttle_telemetry_check(app: object) -> None:
    """Wrap the app's FastAPI telemetry check in ``TelemetryCheck`` (a FastAPI without one is left alone)."""
    native = getattr(app, "_native_telemetry", None)
    check = getattr(native, "enabled", None)
    if callable(check) and not isinstance(check, TelemetryCheck):
        native.enabled = TelemetryCheck(check)  # type: ignore[union-attr]
