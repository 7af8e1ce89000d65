"""Route lookup by literal path prefix, in front of the framework's linear route scan.

FastAPI (like Starlette) tries a request against every route in order until one matches; with ~130 routes an
API operation near the end of the table paid more for finding its route than for its own work
(docs/performance.md, "Route order"). ``RouteIndex`` keeps the same routes and the same order but only tries
the routes that *can* match: a route whose path starts with literal segments (``/v1/slots/{slot_id}``
starts with ``v1``, ``slots``) can only match a path with those same first segments, so the candidates for
a request are the routes whose literal prefix (up to ``DEPTH`` segments) agrees with the path's first
segments, in their original order. A route that starts with a parameter is a candidate for every path.

Same answers as the full scan, by construction: a route left out could not have matched, fully or partly
(405), so the first full match and the first partial match among the candidates are the scan's. When no
candidate matches, the request goes to the framework's own router unchanged, so trailing-slash redirects,
404s and anything else the framework does for an unmatched path behave exactly as before.

Install with ``install_route_index(app)`` once every route is added; routes included from other routers
must be on the app's own route list (``include_routes``), not nested in an included router.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.utils import get_dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

DEPTH = 2  # literal segments indexed: /v1/<resource> tells the API's resources apart
_ANY = "\x00*"  # a segment no route names literally


def served_by(runtime: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a dependency whose signature documents query parameters (for OpenAPI) but which reads
    ``request.query_params`` itself: ``runtime`` (a function of the request alone, same result) serves
    requests on routes of ``ApiRoute``. FastAPI extracts and validates every declared parameter on every
    request, ~10 µs each (docs/performance.md), for values these dependencies never use."""

    def mark(documented: Callable[..., Any]) -> Callable[..., Any]:
        documented.openhero_runtime = runtime  # type: ignore[attr-defined]
        return documented

    return mark


def _lean(dependant: Any, path: str) -> Any:
    """``dependant`` with every sub-dependency marked by ``served_by`` replaced by its runtime function."""
    changed, subs = False, []
    for sub in dependant.dependencies:
        runtime = getattr(sub.call, "openhero_runtime", None)
        if runtime is not None:
            sub = get_dependant(path=path, call=runtime, name=sub.name, use_cache=sub.use_cache)
            changed = True
        else:
            lean = _lean(sub, path)
            changed, sub = changed or lean is not sub, lean
        subs.append(sub)
    return dataclasses.replace(dependant, dependencies=subs) if changed else dependant


class ApiRoute(APIRoute):
    """The API's route class: the request handler is built from a lean copy of the dependency graph
    (``served_by``), while ``self.dependant``, which OpenAPI reads, keeps the documented parameters.

    Mount its routers with ``include_routes``: FastAPI's own ``include_router`` (0.16x) serves an included
    route through a handler it rebuilds from the documented graph (the same answers, without the saving)."""

    def get_route_handler(self) -> Any:
        documented = self.dependant
        lean = _lean(documented, self.path_format)
        if lean is documented:
            return super().get_route_handler()
        self.dependant = lean
        try:
            return super().get_route_handler()
        finally:
            self.dependant = documented


def include_routes(app: FastAPI, router: APIRouter) -> None:
    """Add ``router``'s routes to the app's own route list (a flat table the index can see).

    The routes are complete already (an ``APIRouter`` merges its dependencies, tags and defaults into each
    route when the route is added); ``include_router`` without a prefix would add only a nesting level.
    """
    app.router.routes.extend(router.routes)
    changed = getattr(app.router, "_mark_routes_changed", None)
    if changed is not None:
        changed()


def literal_prefix(route: Any) -> tuple[str, ...]:
    """The literal segments (at most ``DEPTH``) every path this route can match starts with."""
    inner = getattr(route, "original_router", None)  # an included router (FastAPI >= 0.16x keeps them nested)
    if inner is not None:
        if getattr(getattr(route, "include_context", None), "prefix", ""):
            return ()  # prefixed by its include: not worth reading; tried for every request
        return _common([literal_prefix(r) for r in inner.routes])
    path = getattr(route, "path", None)
    if not isinstance(path, str) or not path.startswith("/"):
        return ()  # no path to index (a host route or something unknown): tried for every request
    prefix: list[str] = []
    for segment in path.split("/")[1:DEPTH + 1]:
        if "{" in segment:
            break
        prefix.append(segment)
    return tuple(prefix)


def _common(prefixes: list[tuple[str, ...]]) -> tuple[str, ...]:
    if not prefixes:
        return ()
    first = prefixes[0]
    size = min(len(p) for p in prefixes)
    for i in range(size):
        if any(p[i] != first[i] for p in prefixes):
            return first[:i]
    return first[:size]


class RouteIndex:
    """The router's dispatch for HTTP requests: try only the candidate routes, else the router itself."""

    def __init__(self, router: Any, fallback: ASGIApp) -> None:
        self.router = router
        self.fallback = fallback
        self.known: set[tuple[str, ...]] = set()
        self.table: dict[tuple[str, ...], list[BaseRoute]] = {}
        self.size = -1
        self.rebuild()

    def rebuild(self) -> None:
        routes = list(self.router.routes)
        prefixes = [(route, literal_prefix(route)) for route in routes]
        # The literal segment sequences routes start with; any other segment a path has is looked up as
        # _ANY, so the table's keys are a finite set whatever paths clients send.
        known = {prefix[:depth] for _route, prefix in prefixes for depth in range(1, len(prefix) + 1)}
        keys = {(), (_ANY,), *known, *((*key, _ANY) for key in known)}
        self.known = known
        self.table = {key: [route for route, prefix in prefixes if key[:len(prefix)] == prefix] for key in keys}
        self.size = len(routes)

    def key(self, path: str) -> tuple[str, ...]:
        segments = path.split("/", DEPTH + 1)[1:DEPTH + 1]
        key: tuple[str, ...] = ()
        for segment in segments:
            candidate = (*key, segment)
            if candidate not in self.known:
                return (*key, _ANY)
            key = candidate
        return key

    def candidates(self, scope: Scope) -> list[BaseRoute]:
        if len(self.router.routes) != self.size:  # a route added after install (some tests add one)
            self.rebuild()
        path: str = scope["path"]
        root_path = scope.get("root_path", "")
        if root_path and path.startswith(root_path) and path != root_path and path[len(root_path)] == "/":
            path = path[len(root_path):]
        return self.table[self.key(path)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.fallback(scope, receive, send)
            return
        partial: tuple[BaseRoute, Scope] | None = None
        for route in self.candidates(scope):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                break
            if match is Match.PARTIAL and partial is None:
                partial = (route, child_scope)
        else:
            if partial is None:
                await self.fallback(scope, receive, send)  # unmatched: the framework's own answer
                return
            route, child_scope = partial
        if "router" not in scope:
            scope["router"] = self.router
        scope.update(child_scope)
        await route.handle(scope, receive, send)


def install_route_index(app: FastAPI) -> RouteIndex:
    router = app.router
    index = RouteIndex(router, router.middleware_stack)
    router.middleware_stack = index
    return index
