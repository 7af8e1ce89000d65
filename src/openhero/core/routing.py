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

``ApiRoute`` (the API's route class) serves a request through a *compiled handler* when its dependency graph
allows: FastAPI's ``solve_dependencies`` walks the route's whole graph on every request and, per node,
recomputes what cannot change (cache key, generator or not, four kinds of parameters, mostly empty); the
compiled handler does that walk once, at startup, into a list of steps in the order FastAPI calls them. See
``plan`` for the subset it compiles and ``compiled_routes(app)`` for which routes use it and why the others
do not; every other route, and any request with dependency overrides or FastAPI telemetry active, is served
by FastAPI's own handler.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, NamedTuple, cast

from fastapi import APIRouter, FastAPI, params
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant, request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, serialize_response
from fastapi.utils import is_body_allowed_for_status_code
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

try:  # what FastAPI's request handler uses internally, mirrored here; without it every route keeps FastAPI's
    from fastapi._compat import Undefined, field_annotation_is_sequence
    from fastapi.dependencies.models import (
        _get_cache_key,
        _is_async_gen_callable,
        _is_coroutine_callable,
        _is_gen_callable,
    )
    from fastapi.dependencies.utils import (
        _get_param_aliases,
        _get_param_model,
        _validate_value_with_model_field,
    )
    from fastapi.routing import _effective_route_context_var, _extract_endpoint_context
    from fastapi.telemetry._api import _get_request_telemetry, _validation_failed
    from starlette._exception_handler import _lookup_exception_handler
    from starlette._utils import is_async_callable

    _MIRRORABLE = True
except ImportError:  # pragma: no cover - another FastAPI than the one the compiler was checked against
    _MIRRORABLE = False

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


# ---- compiled request handlers ---------------------------------------------------------------------------

COMPILE = True  # False: every ApiRoute built from now on keeps FastAPI's handler (tests compare the two)
_MISSING: Any = object()
# Dependant's fields, as of the FastAPI the compiler was checked against (0.165): a graph built by a FastAPI
# whose nodes carry anything more is not compiled, since the compiler could not know what that field does.
_KNOWN_FIELDS = frozenset({
    "path_params", "query_params", "header_params", "cookie_params", "body_params", "dependencies", "name", "call",
    "request_param_name", "websocket_param_name", "http_connection_param_name", "response_param_name",
    "background_tasks_param_name", "security_scopes_param_name", "own_oauth_scopes", "parent_oauth_scopes",
    "use_cache", "path", "scope", "concurrency"})
_FETCHED = {"query_params": "query", "header_params": "header", "cookie_params": "cookie", "body_params": "body"}
_SPECIAL = {"websocket_param_name": "WebSocket", "response_param_name": "Response",
            "background_tasks_param_name": "BackgroundTasks", "security_scopes_param_name": "SecurityScopes"}


class NotCompiled(Exception):
    """The route is outside the subset ``plan`` compiles; the message says why."""


PathReader = Callable[[Mapping[str, Any]], tuple[dict[str, Any], list[Any]]]


def path_reader(fields: list[Any]) -> PathReader | None:
    """``request_params_to_args(fields, ...)`` for path parameters (and ``from_query``'s query parameters).
    For a field FastAPI reads with a plain lookup (one alias, no model, not a sequence: every path parameter
    of this API) it runs that function's steps with what they derive from the field worked out once (~3 µs a
    request less); for any other field it is that function."""
    plain = []
    for field in fields:
        info, aliases = field.field_info, _get_param_aliases(field)
        if (not isinstance(info, params.Param) or len(aliases) != 1 or _get_param_model(field) is not None
                or field_annotation_is_sequence(info.annotation)):
            return partial(request_params_to_args, fields)
        alias = aliases[0][1]
        plain.append((field, field.name, alias, (info.in_.value, alias)))
    if not plain:
        return None

    def read(received: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        values: dict[str, Any] = {}
        errors: list[Any] = []
        for field, name, alias, loc in plain:
            value = received.get(alias)
            value, found = _validate_value_with_model_field(
                field=field, value=Undefined if value is None else value, values=values, loc=loc)
            if found:
                errors.extend(found)
            else:
                values[name] = value
        return values, errors

    return read


class Step(NamedTuple):
    """One node of a route's dependency graph as ``solve_dependencies`` meets it (a node met twice is two steps)."""

    call: Callable[..., Any]
    key: int  # FastAPI's cache key (the call, its security scopes if it uses them, its scope), numbered per route
    use_cache: bool
    args: tuple[tuple[str, int], ...]  # keyword <- the value of an earlier step
    request_names: tuple[str, ...]  # keywords that receive the request (Request, HTTPConnection)
    read_path: PathReader | None  # the node's path parameters: (values, errors) from request.path_params
    parent: int  # the step this one's value (or failure) goes to; len(steps) is the endpoint


@dataclasses.dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]  # the dependencies, in the order solve_dependencies solves them
    endpoint: Step
    keys: int

    def calls(self) -> list[Callable[..., Any]]:
        """What a request without validation errors calls, in order (cache hits left out)."""
        solved: set[int] = set()
        calls = []
        for step in self.steps:
            if not (step.use_cache and step.key in solved):
                calls.append(step.call)
            solved.add(step.key)
        return [*calls, self.endpoint.call]


def _label(call: Any) -> str:
    return getattr(call, "__qualname__", None) or type(call).__qualname__


def _check(node: Dependant, what: str) -> None:
    for kind, word in _FETCHED.items():
        if getattr(node, kind):
            names = ", ".join(field.name for field in getattr(node, kind))
            raise NotCompiled(f"{what} declares {word} parameters ({names})")
    for kind, word in _SPECIAL.items():
        if getattr(node, kind):
            raise NotCompiled(f"{what} takes a {word}")
    if node.call is None:
        raise NotCompiled(f"{what} has no callable")
    if _is_gen_callable(node.call) or _is_async_gen_callable(node.call):
        raise NotCompiled(f"{what} is a generator (yield)")
    if not _is_coroutine_callable(node.call):
        raise NotCompiled(f"{what} is not a coroutine function (FastAPI runs it in a thread pool)")
    if node.concurrency is not None:
        raise NotCompiled(f"{what} has a concurrency limit")


def plan(dependant: Dependant) -> Plan:
    """The route's graph as steps, in ``solve_dependencies``' order: depth first, a node's sub-dependencies (in
    declaration order) before the node, every occurrence of a node (FastAPI re-walks a cached node's
    sub-graph: a ``use_cache=False`` dependency below it is called again). Raises ``NotCompiled`` unless every
    node is an ``async def`` (neither generator nor thread-pool function, no concurrency limit) taking only the
    request, sub-dependencies and path parameters."""
    if not _MIRRORABLE or {f.name for f in dataclasses.fields(Dependant)} != _KNOWN_FIELDS:
        raise NotCompiled("this FastAPI is not the one the compiler mirrors")
    steps: list[Step] = []
    keys: dict[Any, int] = {}

    def visit(node: Dependant, what: str) -> int:
        _check(node, what)
        args, children = [], []
        for sub in node.dependencies:
            index = visit(sub, f"dependency {_label(sub.call)}")
            children.append(index)
            if sub.name is not None:
                args.append((sub.name, index))
        key = keys.setdefault(_get_cache_key(dependant=node, uses_scopes_cache={}), len(keys))
        names = tuple(n for n in (node.http_connection_param_name, node.request_param_name) if n)
        call = cast(Callable[..., Any], node.call)  # (_check refuses a node without one)
        steps.append(Step(call, key, node.use_cache, tuple(args), names, path_reader(node.path_params), -1))
        here = len(steps) - 1
        for child in children:
            steps[child] = steps[child]._replace(parent=here)
        return here

    visit(dependant, "the endpoint")
    endpoint = steps.pop()
    return Plan(tuple(steps), endpoint, len(keys))


def compile_handler(route: APIRoute, dependant: Dependant, fallback: Callable[[Request], Awaitable[Response]]
                    ) -> tuple[Callable[[Request], Awaitable[Response]], Plan]:
    """A request handler for ``route`` that gives the answers of FastAPI's ``get_request_handler`` for the same
    graph: dependencies called in the same order with the same cache, path parameters validated by FastAPI's
    own function (the same 422, after the sub-dependencies ran, a node whose parameters fail not called), the
    endpoint's result serialised by FastAPI's ``serialize_response`` with the route's options. ``fallback``
    (FastAPI's handler) serves a request that has dependency overrides or FastAPI telemetry active."""
    if not COMPILE:
        raise NotCompiled("compilation switched off (routing.COMPILE)")
    if route.body_field is not None:
        raise NotCompiled("the route reads a request body")
    steps_plan = plan(dependant)
    steps, keys, n = steps_plan.steps, steps_plan.keys, len(steps_plan.steps)
    endpoint, _, _, endpoint_args, endpoint_names, read_endpoint_path, _ = steps_plan.endpoint
    overrides = route.dependency_overrides_provider  # what FastAPI's handler consults (None: it never does)
    field, status_code, response_class = route.response_field, route.status_code, route.response_class
    dump_json = field is not None and isinstance(response_class, DefaultPlaceholder)
    make_response: Any = response_class.value if isinstance(response_class, DefaultPlaceholder) else response_class
    response_args: dict[str, Any] = {"background": None, **({"status_code": status_code} if status_code else {})}
    options = {"include": route.response_model_include, "exclude": route.response_model_exclude,
               "by_alias": route.response_model_by_alias, "exclude_unset": route.response_model_exclude_unset,
               "exclude_defaults": route.response_model_exclude_defaults,
               "exclude_none": route.response_model_exclude_none}
    path = dependant.path

    def endpoint_context(request: Request) -> Any:
        context = _extract_endpoint_context(endpoint)
        if path:
            context["path"] = f"{request.method} {request.scope.get('root_path', '').rstrip('/')}{path}"
        return context

    async def handler(request: Request) -> Response:
        if (overrides is not None and overrides.dependency_overrides) or _get_request_telemetry() is not None:
            return await fallback(request)
        try:
            return await solve(request)
        except Exception as exc:
            answer = await handled(request, exc)
            if answer is None:
                raise
            return answer

    async def solve(request: Request) -> Response:
        results: list[Any] = [None] * n
        cache: list[Any] = [_MISSING] * keys
        errors: list[Any] = []
        failed: set[int] | None = None  # steps a sub-dependency's validation error reached: not called
        for i, (call, key, use_cache, args, names, read_path, parent) in enumerate(steps):
            kwargs = dict.fromkeys(names, request)
            for name, j in args:
                kwargs[name] = results[j]
            if read_path is not None or (failed is not None and i in failed):
                values, found = read_path(request.path_params) if read_path is not None else ({}, [])
                if found or (failed is not None and i in failed):
                    errors.extend(found)
                    failed = failed or set()
                    failed.add(parent)
                    continue
                kwargs.update(values)
            value = cache[key]
            if value is _MISSING or not use_cache:
                solved = await call(**kwargs)
                if value is _MISSING:
                    cache[key] = solved
                value = solved
            results[i] = value
        kwargs = dict.fromkeys(endpoint_names, request)
        for name, j in endpoint_args:
            kwargs[name] = results[j]
        if read_endpoint_path is not None:
            values, found = read_endpoint_path(request.path_params)
            errors.extend(found)
            kwargs.update(values)
        if errors:
            error = RequestValidationError(errors, body=None, endpoint_ctx=endpoint_context(request))
            _validation_failed(error)
            raise error
        raw = await endpoint(**kwargs)
        if isinstance(raw, Response):
            return raw  # (FastAPI would set its background to the request's tasks: None, as there are none)
        content = await serialize_response(field=field, response_content=raw, **options, is_coroutine=True,
                                           endpoint_ctx=endpoint_context(request), dump_json=dump_json)
        if dump_json:
            response = Response(content=content, media_type="application/json", **response_args)
        else:
            response = make_response(content, **response_args)
        if not is_body_allowed_for_status_code(response.status_code):
            response.body = b""
        return response

    return handler, steps_plan


class _NoAnswer:
    """What a route answers when the app's handler for its exception returned None: nothing (as Starlette)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None


_NO_ANSWER: Any = _NoAnswer()


async def handled(request: Request, exc: Exception) -> Response | None:
    """The app's answer to ``exc``, as ``wrap_app_handling_exceptions`` (Starlette) gives it one frame up: the
    status handler of an ``HTTPException``'s status, else the handler of the nearest class in ``exc``'s MRO,
    called with the same request, and the exception's traceback dropped afterwards. None when the app has no
    ``async`` handler for it: it then propagates to Starlette unchanged (a sync handler runs in Starlette's
    thread pool). Answering here, in the compiled handler, spares the exception its way out through FastAPI's
    two exit stacks (an authenticated 404, 401, 403 or 429 is a tenth cheaper)."""
    handlers = request.scope.get("starlette.exception_handlers")
    if handlers is None:
        return None
    exception_handlers, status_handlers = handlers
    handler = status_handlers.get(exc.status_code) if isinstance(exc, StarletteHTTPException) else None
    if handler is None:
        handler = _lookup_exception_handler(exception_handlers, exc)
    if handler is None or not is_async_callable(handler):
        return None
    response = await handler(request, exc)
    exc.__traceback__ = None
    return _NO_ANSWER if response is None else response  # type: ignore[no-any-return]


class ApiRoute(APIRoute):
    """The API's route class: the request handler is built from a lean copy of the dependency graph
    (``served_by``), while ``self.dependant``, which OpenAPI reads, keeps the documented parameters; and
    compiled from that graph (``compile_handler``) when it is in the subset ``plan`` supports.

    Mount its routers with ``include_routes``: FastAPI's own ``include_router`` (0.16x) serves an included
    route through a handler it rebuilds from the documented graph (the same answers, without the saving)."""

    compiled_plan: Plan | None = None
    fallback_reason: str | None = None

    def get_route_handler(self) -> Any:
        effective = _effective_route_context_var.get() if _MIRRORABLE else None
        if effective is not None and getattr(effective, "original_route", None) is self:
            return super().get_route_handler()  # include_router's copy of the route: FastAPI's handler
        documented = self.dependant
        lean = _lean(documented, self.path_format)
        self.dependant = lean
        try:
            fallback = super().get_route_handler()
        finally:
            self.dependant = documented
        try:
            handler, self.compiled_plan = compile_handler(self, lean, fallback)
        except NotCompiled as reason:
            self.compiled_plan, self.fallback_reason = None, str(reason)
            return fallback
        self.fallback_reason = None
        return handler


class RouteHandling(NamedTuple):
    methods: str
    path: str
    compiled: bool
    reason: str  # why FastAPI's handler serves it ("" when compiled)


def compiled_routes(app: FastAPI) -> list[RouteHandling]:
    """Which of the app's API routes are served by a compiled handler, and why the others are not."""
    out = []
    for route in app.router.routes:
        if not isinstance(route, APIRoute):
            continue
        if isinstance(route, ApiRoute):
            compiled, reason = route.compiled_plan is not None, route.fallback_reason or ""
        else:
            compiled, reason = False, f"{type(route).__name__}, not an ApiRoute"
        out.append(RouteHandling(",".join(sorted(route.methods)), route.path, compiled, reason))
    return out


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
