"""The route index (core/routing.py) picks the route the framework's full scan would pick, for every path."""

from __future__ import annotations

import re
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.routing import APIRoute
from starlette.routing import Match

from openhero.app import create_app
from openhero.core.routing import ApiRoute, RouteIndex, include_routes, literal_prefix, served_by
from openhero.settings import Settings

METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")


def scan(routes, scope):  # type: ignore[no-untyped-def]
    """What the framework does: the first full match in order, else the first partial one, else None."""
    partial = None
    for route in routes:
        match, _ = route.matches(dict(scope))
        if match is Match.FULL:
            return route, Match.FULL
        if match is Match.PARTIAL and partial is None:
            partial = route
    return (partial, Match.PARTIAL) if partial is not None else (None, Match.NONE)


def scope_for(method: str, path: str) -> dict:  # type: ignore[type-arg]
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": [],
            "query_string": b""}


def sample_paths(routes) -> list[str]:  # type: ignore[no-untyped-def]
    paths = {"/", "", "/v1", "/v1/", "/v2", "/v1/slots/", "/v1/nothing-here", "/nothing/at/all", "/\x00*",
             "/v1/\x00*", "/healthz/", "/healthz/x", "/docs-assets/x.js", "/docs-assets", "/l/abc/def/ghi/jkl",
             "/V1/slots", "//v1/slots", "/v1//slots"}
    for route in routes:
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            continue
        for value in ("123", "abc", "a/b"):
            concrete = re.sub(r"\{[^}]+\}", value, path)
            paths.update({concrete, concrete + "/", concrete + "/extra"})
    return sorted(paths)


@pytest.fixture(scope="module")
def app(tmp_path_factory):  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('routing')}/x.db"
    return create_app(Settings(database_url=url, sandbox=True), run_worker=False)


def test_the_index_is_installed_and_the_routes_are_flat(app) -> None:  # type: ignore[no-untyped-def]
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    api = [r for r in app.router.routes if isinstance(r, APIRoute)]
    assert len(api) > 100  # the domains' routes are on the app's own list, where the index sees them
    # A typical API path is tried against a handful of routes, not the whole table.
    assert len(index.candidates(scope_for("GET", "/v1/slots/123"))) < 10
    assert len(index.candidates(scope_for("GET", "/healthz"))) < 5


def test_index_chooses_what_the_full_scan_chooses(app) -> None:  # type: ignore[no-untyped-def]
    index: RouteIndex = app.router.middleware_stack
    routes = list(app.router.routes)
    checked = 0
    for path in sample_paths(routes):
        for method in METHODS:
            scope = scope_for(method, path)
            assert scan(index.candidates(scope), scope) == scan(routes, scope), (method, path)
            checked += 1
    assert checked > 1000


def test_literal_prefix() -> None:
    class R:
        def __init__(self, path: str) -> None:
            self.path = path

    assert literal_prefix(R("/v1/slots/{slot_id}")) == ("v1", "slots")
    assert literal_prefix(R("/l/{code}/confirm")) == ("l",)
    assert literal_prefix(R("/{anything}")) == ()
    assert literal_prefix(R("/healthz")) == ("healthz",)
    assert literal_prefix(R("/v1/file.{ext}")) == ("v1",)
    assert literal_prefix(object()) == ()


async def test_unmatched_paths_keep_the_frameworks_answers(app) -> None:  # type: ignore[no-untyped-def]
    """405 for a known path with another method, the JSON 404 for an unknown path, the HTML 404 under a
    patient link: the same answers as before the index (they come from the routes or the framework)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.delete("/healthz")
        assert r.status_code == 405
        r = await c.get("/v1/no-such-thing")
        assert r.status_code == 404 and r.json()["error"] is True
        r = await c.get("/l/nope/no/such/page")
        assert r.status_code == 404 and "text/html" in r.headers["content-type"]
        assert (await c.get("/healthz")).json() == {"status": "ok"}


def test_a_router_included_later_is_indexed(app) -> None:  # type: ignore[no-untyped-def]
    from fastapi import APIRouter

    extra = APIRouter()

    @extra.get("/zz-late/{x}")
    async def late(x: str) -> dict[str, str]:
        return {"x": x}

    app.include_router(extra)
    try:
        index: RouteIndex = app.router.middleware_stack
        scope = scope_for("GET", "/zz-late/1")
        route, match = scan(index.candidates(scope), scope)
        assert match is Match.FULL
    finally:
        app.router.routes.pop()


async def _runtime(request: Request) -> str:
    return f"runtime:{request.query_params.get('x')}"


@served_by(_runtime)
async def _documented(x: Annotated[str | None, Query(description="the x")] = None) -> str:
    return f"documented:{x}"


async def test_served_by_serves_requests_with_the_runtime_and_documents_the_signature() -> None:
    router = APIRouter(route_class=ApiRoute)

    @router.get("/thing")
    async def thing(value: Annotated[str, Depends(_documented)]) -> dict[str, str]:
        return {"value": value}

    app = FastAPI()
    include_routes(app, router)  # as create_app mounts every domain (FastAPI's include_router would rebuild
    # the handler from the documented graph: correct, only slower)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/thing?x=1")).json() == {"value": "runtime:1"}
    # the documented query parameter would keep the route on FastAPI's handler; the lean graph compiles
    assert router.routes[0].compiled_plan is not None  # type: ignore[attr-defined]
    params = app.openapi()["paths"]["/thing"]["get"]["parameters"]
    assert [(p["name"], p["in"], p["description"]) for p in params] == [("x", "query", "the x")]
