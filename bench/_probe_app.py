"""openhero's app wrapped in a probe (``bench/slot_tail.py --probe``): every 5 s the server prints the
durations of the requests it finished *inside* the ASGI app (p50, p99, max) and how late a 1 ms event-loop
timer fired (p99, max, how often over 10 ms). Slow requests show in the first; requests waiting their turn in
a saturated loop only in the second and in the client's latency."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from openhero.app import create_app


def _pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * q))] * 1e3


def make() -> Any:
    app = create_app()
    durations: list[float] = []
    lags: list[float] = []
    started = False

    async def lag_timer() -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append(time.perf_counter() - t - 0.001)

    async def report() -> None:
        while True:
            await asyncio.sleep(5)
            if durations and lags:
                print(f"probe: {len(durations)} requests, inside the app p50 {_pct(durations, .5):.2f} "
                      f"p99 {_pct(durations, .99):.2f} max {max(durations) * 1e3:.1f} ms; loop timer late p50 "
                      f"{_pct(lags, .5):.1f} p99 {_pct(lags, .99):.1f} max {max(lags) * 1e3:.1f} ms, "
                      f"{sum(x > 0.01 for x in lags)} times over 10 ms", file=sys.stdout, flush=True)
                durations.clear()
                lags.clear()

    async def probed(scope: Any, receive: Any, send: Any) -> None:
        nonlocal started
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        if not started:
            started = True
            loop = asyncio.get_running_loop()
            loop.create_task(lag_timer())
            loop.create_task(report())
        t = time.perf_counter()
        await app(scope, receive, send)
        durations.append(time.perf_counter() - t)

    return probed
