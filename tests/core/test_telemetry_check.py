"""FastAPI's per-request OpenTelemetry check is answered from its last answer for up to a second
(core/observe.py ``TelemetryCheck``): a provider configured later is still picked up, within that second."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from openhero.core import observe
from openhero.core.observe import TelemetryCheck, throttle_telemetry_check


async def test_the_check_runs_once_per_interval_and_sees_a_change_after_it(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    app = FastAPI()

    @app.get("/x")
    async def x() -> dict[str, int]:
        return {"x": 1}

    answers = [False]
    asked: list[bool] = []

    def configured() -> bool:
        asked.append(answers[0])
        return answers[0]

    app._native_telemetry.enabled = configured  # type: ignore[method-assign]
    throttle_telemetry_check(app)
    throttle_telemetry_check(app)  # idempotent: not wrapped twice
    check = app._native_telemetry.enabled
    assert isinstance(check, TelemetryCheck) and check.check is configured

    now = [1000.0]
    monkeypatch.setattr(observe.time, "monotonic", lambda: now[0])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        for _ in range(20):
            assert (await c.get("/x")).json() == {"x": 1}
        assert asked == [False]  # one check for twenty requests within the second

        answers[0] = True  # a provider is configured now
        now[0] += 0.9
        assert check() is False and asked == [False]
        now[0] += 0.2
        assert check() is True and asked == [False, True]  # seen once the second is over


def test_create_app_throttles_the_check(app) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(app._native_telemetry.enabled, TelemetryCheck)
