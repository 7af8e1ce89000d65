"""Per-key rate limits.

In process (the default) the limiter is a few dictionary and deque operations, no awaits on another task:
budgets up to ``EXACT_UP_TO`` requests per window use an exact moving window (one timestamp per request in
the window); larger ones a sliding window counter (two counters, approximate at window boundaries). Each
API process then has its own budget.

With OPENHERO_REDIS_URL several API processes share one budget: counters live in Redis through the
``limits`` package (an exact moving window up to ``EXACT_UP_TO``, a sliding window counter above).
"""

from __future__ import annotations

import math
import time
from collections import deque

from fastapi import Request
from limits import parse
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

from openhero.core.errors import RateLimited

EXACT_UP_TO = 10_000
_SWEEP_EVERY = 4096  # identifiers idle for a whole window are dropped this often (hits)


def _async_uri(url: str) -> str:
    return url if url.startswith("async+") else f"async+{url}"


class LocalLimiter:
    """One process's budgets: ``hit`` returns None when allowed, else the seconds until a slot frees."""

    def __init__(self, amount: int, window: float) -> None:
        self.amount, self.window = amount, window
        self.exact = amount <= EXACT_UP_TO
        self._hits: dict[str, deque[float]] = {}
        self._counters: dict[str, list[float]] = {}  # [window start, previous count, current count]
        self._since_sweep = 0

    def hit(self, identifier: str, now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        self._since_sweep += 1
        if self._since_sweep >= _SWEEP_EVERY:
            self._sweep(now)
        return self._moving(identifier, now) if self.exact else self._sliding(identifier, now)

    def _moving(self, identifier: str, now: float) -> float | None:
        hits = self._hits.get(identifier)
        if hits is None:
            hits = self._hits[identifier] = deque()
        horizon = now - self.window
        while hits and hits[0] <= horizon:
            hits.popleft()
        if len(hits) < self.amount:
            hits.append(now)
            return None
        return hits[0] + self.window - now

    def _sliding(self, identifier: str, now: float) -> float | None:
        state = self._counters.get(identifier)
        if state is None:
            state = self._counters[identifier] = [now, 0.0, 0.0]
        elapsed = now - state[0]
        if elapsed >= self.window:
            periods = int(elapsed // self.window)
            state[1] = state[2] if periods == 1 else 0.0
            state[2] = 0.0
            state[0] += periods * self.window
            elapsed = now - state[0]
        weighted = state[1] * (1 - elapsed / self.window) + state[2]
        if weighted < self.amount:
            state[2] += 1
            return None
        return self.window - elapsed

    def _sweep(self, now: float) -> None:
        self._since_sweep = 0
        horizon = now - self.window
        self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > horizon}
        self._counters = {k: v for k, v in self._counters.items() if now - v[0] < 2 * self.window}


class KeyRateLimiter:
    def __init__(self, limit: str, redis_url: str | None = None, namespace: str = "openhero") -> None:
        self.item = parse(limit)
        self.local: LocalLimiter | None = None
        self.storage: Storage | None = None
        if redis_url:
            # redis-py's asyncio client (already a dependency) rather than limits' default, coredis.
            self.storage = RedisStorage(_async_uri(redis_url), implementation="redispy", key_prefix=namespace)
            exact = self.item.amount <= EXACT_UP_TO
            self.strategy = (MovingWindowRateLimiter if exact else SlidingWindowCounterRateLimiter)(self.storage)
        else:
            self.local = LocalLimiter(self.item.amount, float(self.item.get_expiry()))

    async def hit(self, key_id: int) -> None:
        await self.hit_identifier(f"key:{key_id}")

    async def hit_identifier(self, identifier: str) -> None:
        if self.local is not None:
            wait = self.local.hit(identifier)
            if wait is not None:
                raise RateLimited(max(1, math.ceil(wait)))
            return
        if await self.strategy.hit(self.item, identifier):
            return
        stats = await self.strategy.get_window_stats(self.item, identifier)
        raise RateLimited(max(1, math.ceil(stats.reset_time - time.time())))


async def limit_by_client(request: Request) -> None:
    """For unauthenticated patient pages (links, approvals): a budget per client address, so nobody can
    hammer date-of-birth checks or slot holds from one machine. ``OPENHERO_PAGE_RATE_LIMIT``."""
    limiter: KeyRateLimiter | None = getattr(request.app.state, "page_limiter", None)
    if limiter is not None:
        client = request.client.host if request.client else "unknown"
        await limiter.hit_identifier(f"client:{client}")
