"""The edge layer (core/edge.py): every HTTP answer, whoever produced it (a route, an error handler, the body
cap's refusal, the 500 guard), carries the request id and the security headers once, and every request is
observed once with its final status and its request id."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Response
from starlette.types import Scope

from openhero.app import create_app
from openhero.core.edge import EdgeMiddleware


def _observed(app: Any) -> list[tuple[str, str, int]]:
    """Adds an observer to the app's edge layer; returns what it records (request id, path, status)."""
    seen: list[tuple[str, str, int]] = []
    edge = next(m for m in app.user_middleware if m.cls is EdgeMiddleware)

    def observe(scope: Scope, status: int, seconds: float) -> None:
        assert seconds >= 0
        seen.append((scope["openhero.request_id"], scope["path"], status))

    edge.kwargs["observers"].append(observe)
    return seen


async def test_every_answer_carries_the_request_id_and_security_headers_once(settings, clean, clock, tenant
                                                                             ) -> None:  # type: ignore[no-untyped-def]
    settings.max_body_bytes = 1000
    app = create_app(settings, clock=clock, db=clean)
    extra = APIRouter()

    @extra.get("/zz-edge/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    @extra.get("/zz-edge/own-id")
    async def own_id() -> Response:
        return Response(b"{}", media_type="application/json", headers={"X-Request-Id": "set-by-route"})

    app.include_router(extra)
    seen = _observed(app)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=tenant.headers) as c:
        answers = {
            "ok": await c.get("/v1/me"),
            "404": await c.get("/v1/slots/abc"),
            "401": await c.get("/v1/me", headers={"x-api-key": "nope"}),
            "413 declared": await c.post("/v1/webhooks", content=b"x" * 2000,
                                         headers={"content-type": "application/json"}),
            "500": await c.get("/zz-edge/boom"),
            "caller's id": await c.get("/v1/me", headers={"x-request-id": "caller-1"}),
            "route's id": await c.get("/zz-edge/own-id"),
        }
    statuses = {name: r.status_code for name, r in answers.items()}
    assert statuses == {"ok": 200, "404": 404, "401": 401, "413 declared": 413, "500": 500, "caller's id": 200,
                        "route's id": 200}
    ids = []
    for name, r in answers.items():
        names = [k.lower() for k, _ in r.headers.raw]
        assert names.count(b"x-request-id") == 1 and names.count(b"x-content-type-options") == 1, name
        assert r.headers["x-content-type-options"] == "nosniff", name
        ids.append(r.headers["x-request-id"])
    assert answers["caller's id"].headers["x-request-id"] == "caller-1"
    assert answers["route's id"].headers["x-request-id"] == "set-by-route"
    generated = [i for i in ids if i not in ("caller-1", "set-by-route")]
    assert len(set(generated)) == len(generated) == 5  # unique per request
    # Observed once each, with the final status and the id the answer carried (the route's own id aside:
    # the scope keeps the one the edge gave the request).
    assert [(path, status) for _id, path, status in seen] == [
        ("/v1/me", 200), ("/v1/slots/abc", 404), ("/v1/me", 401), ("/v1/webhooks", 413),
        ("/zz-edge/boom", 500), ("/v1/me", 200), ("/zz-edge/own-id", 200)]
    assert [i for i, _p, _s in seen][:6] == ids[:6]


async def test_a_streamed_body_over_the_cap_is_refused_and_observed_as_413(settings, clean, clock, tenant
                                                                          ) -> None:  # type: ignore[no-untyped-def]
    settings.max_body_bytes = 1000
    app = create_app(settings, clock=clock, db=clean)
    seen = _observed(app)

    async def chunks() -> Any:
        for _ in range(5):
            yield b"x" * 400

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=tenant.headers) as c:
        r = await c.post("/v1/webhooks", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["message"][0]["code"] == "payload_too_large"
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-request-id"]
    assert [(path, status) for _i, path, status in seen] == [("/v1/webhooks", 413)]
