"""Per-key rate limits with the ``limits`` package.

Budgets up to ``EXACT_UP_TO`` requests per window use an exact moving window (it keeps one timestamp per
request, cheap at that size); larger ones use a sliding window counter, O(1) per request but approximate
at window boundaries. Counters live in memory, or in Redis when OPENHERO_REDIS_URL is set so several API
processes share one budget.
"""

from __future__ import annotations

import math
import time

from fastapi import Request
from limits import parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

from openhero.core.errors import RateLimited

EXACT_UP_TO = 10_000


def _async_uri(url: str) -> str:
    return url if url.startswith("async+") else f"async+{url}"


class KeyRateLimiter:
    def __init__(self, limit: str, redis_url: str | None = None, namespace: str = "openhero") -> None:
        self.item = parse(limit)
        # redis-py's asyncio client (already a dependency) rather than limits' default, coredis.
        self.storage: Storage = (RedisStorage(_async_uri(redis_url), implementation="redispy",
                                              key_prefix=namespace)
                                 if redis_url else MemoryStorage())
        exact = self.item.amount <= EXACT_UP_TO
        self.strategy = (MovingWindowRateLimiter if exact else SlidingWindowCounterRateLimiter)(self.storage)

    async def hit(self, key_id: int) -> None:
        await self.hit_identifier(f"key:{key_id}")

    async def hit_identifier(self, identifier: str) -> None:
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
