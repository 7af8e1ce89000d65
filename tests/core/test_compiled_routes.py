"""Compiled request handlers (core/routing.py): the same answers as FastAPI's own handler, dependency for
dependency. Each synthetic app is built twice, compiled (``routing.COMPILE``) and not, and every request is
sent to both; the real app's compiled routes are checked against FastAPI's ``solve_dependencies`` and,
byte for byte, against FastAPI's handlers for the same routes.

No ``from __future__ import annotations``: the synthetic routes' parameters name dependencies defined inside
the tests, which FastAPI could not resolve from a string annotation."""

import dataclasses
import datetime
import enum
import functools
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from typing import Annotated, Any

import httpx
import pytest
from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    FastAPI,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    Security,
)
from fastapi._body_limit import wrap_app_with_body_limit
from fastapi.dependencies.models import _get_cache_key
from fastapi.dependencies.utils import get_dependant, request_params_to_args, solve_dependencies
from fastapi.exceptions import ResponseValidationError
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute, request_response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from openhero.app import create_app
from openhero.core import routing
from openhero.core.routing import ApiRoute, _lean, compiled_routes, include_routes
from tests.booking.builders import make_world
from tests.builders import make_task, make_tenant

# ---- synthetic apps ------------------------------------------------------------------------------------

calls: list[str] = []


def build(monkeypatch: pytest.MonkeyPatch, define: Callable[[APIRouter], None], *, overridable: bool = False
          ) -> tuple[FastAPI, FastAPI]:
    """The routes ``define`` adds, mounted as create_app mounts the domains: compiled, and FastAPI's handler."""
    apps = []
    for compile_ in (True, False):
        monkeypatch.setattr(routing, "COMPILE", compile_)
        app = FastAPI()
        router = APIRouter(route_class=ApiRoute, dependency_overrides_provider=app if overridable else None)
        define(router)
        include_routes(app, router)
        apps.append(app)
    monkeypatch.setattr(routing, "COMPILE", True)
    return apps[0], apps[1]


def route(app: FastAPI, path: str) -> ApiRoute:
    return next(r for r in app.router.routes if getattr(r, "path", None) == path)  # type: ignore[return-value]


def plan_of(app: FastAPI, path: str) -> routing.Plan:
    """The route's compiled plan (the test fails with the reason when it did not compile)."""
    r = route(app, path)
    assert r.compiled_plan is not None, r.fallback_reason
    return r.compiled_plan


async def answer(app: FastAPI, path: str, method: str = "GET", **kwargs: Any) -> tuple[int, Any, bytes, list[str]]:
    calls.clear()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.request(method, path, **kwargs)
    return r.status_code, r.headers.raw, r.content, list(calls)


async def same(compiled: FastAPI, plain: FastAPI, path: str, **kwargs: Any) -> tuple[int, bytes, list[str]]:
    """Sends one request to both apps; the answers and the calls made must be identical."""
    got = await answer(compiled, path, **kwargs)
    assert got == await answer(plain, path, **kwargs), path
    return got[0], got[2], got[3]


def recorder(name: str) -> Callable[..., Any]:
    async def dependency(request: Request) -> str:
        calls.append(name)
        return name

    dependency.__name__ = dependency.__qualname__ = name
    return dependency


async def test_shared_dependencies_are_solved_as_fastapi_solves_them(monkeypatch: pytest.MonkeyPatch) -> None:
    shared, fresh, leaf = recorder("shared"), recorder("fresh"), recorder("leaf")

    async def a(s: Annotated[str, Depends(shared)]) -> str:
        calls.append("a")
        return "a"

    async def b(s: Annotated[str, Depends(shared)], f: Annotated[str, Depends(fresh, use_cache=False)]) -> str:
        calls.append("b")
        return "b"

    async def holder(f: Annotated[str, Depends(fresh, use_cache=False)], x: Annotated[str, Depends(leaf)]) -> str:
        calls.append("holder")
        return "holder"

    def define(router: APIRouter) -> None:
        @router.get("/graph", dependencies=[Depends(shared)])
        async def endpoint(x: Annotated[str, Depends(a)], y: Annotated[str, Depends(b)],
                           f1: Annotated[str, Depends(fresh, use_cache=False)],
                           f2: Annotated[str, Depends(fresh)],
                           h1: Annotated[str, Depends(holder)], h2: Annotated[str, Depends(holder)]) -> Response:
            calls.append("endpoint")
            return Response(f"{x}{y}{f1}{f2}{h1}{h2}")

    compiled, plain = build(monkeypatch, define)
    plan = plan_of(compiled, "/graph")
    assert route(plain, "/graph").compiled_plan is None
    status, body, made = await same(compiled, plain, "/graph")
    # shared once (three uses); fresh on each use_cache=False use (and once more under the second, cached,
    # holder: FastAPI walks a cached dependency's sub-graph again); leaf once.
    assert made == ["shared", "a", "fresh", "b", "fresh", "fresh", "leaf", "holder", "fresh", "endpoint"]
    assert (status, body) == (200, b"abfreshfreshholderholder")
    assert [c.__name__ for c in plan.calls()] == made


class CountedKey(APIKeyHeader):
    async def __call__(self, request: Request) -> str | None:
        calls.append("key")
        return await super().__call__(request)


async def test_security_scopes_split_the_cache_as_fastapi_splits_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """FastAPI's cache key is the call plus, for a node that uses scopes (a security scheme, or a node above
    one), its sorted scopes: the same scheme under two scopes is called twice, under the same scopes once."""
    key = CountedKey(name="x-key", auto_error=False)

    async def reader(k: Annotated[str | None, Security(key, scopes=["read"])]) -> str:
        calls.append("reader")
        return "r"

    async def writer(k: Annotated[str | None, Security(key, scopes=["write", "read"])]) -> str:
        calls.append("writer")
        return "w"

    def define(router: APIRouter) -> None:
        @router.get("/scoped")
        async def scoped(r: Annotated[str, Security(reader)], w: Annotated[str, Security(writer)],
                         r2: Annotated[str, Security(reader)],
                         k: Annotated[str | None, Security(key, scopes=["read"])]) -> dict[str, str]:
            return {"v": r + w + r2}

    compiled, plain = build(monkeypatch, define)
    plan = plan_of(compiled, "/scoped")
    status, _, made = await same(compiled, plain, "/scoped", headers={"x-key": "k"})
    assert (status, made) == (200, ["key", "reader", "key", "writer"])
    assert [getattr(c, "__name__", "key") for c in plan.calls()] == [*made, "scoped"]


async def test_a_dependency_raising_comes_before_the_path_parameters_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    async def auth(request: Request) -> str:
        calls.append("auth")
        if request.headers.get("x-key") != "ok":
            raise HTTPException(401, "no key", headers={"www-authenticate": "Key"})
        return "ok"

    def define(router: APIRouter) -> None:
        @router.get("/items/{item_id}", dependencies=[Depends(auth)])
        async def item(item_id: int, who: Annotated[str, Depends(auth)]) -> dict[str, Any]:
            calls.append("item")
            return {"item_id": item_id, "who": who}

    compiled, plain = build(monkeypatch, define)
    plan_of(compiled, "/items/{item_id}")
    status, body, made = await same(compiled, plain, "/items/abc")
    assert (status, made) == (401, ["auth"]) and json.loads(body) == {"detail": "no key"}
    status, body, made = await same(compiled, plain, "/items/abc", headers={"x-key": "ok"})
    assert (status, made) == (422, ["auth"])
    assert json.loads(body)["detail"][0]["loc"] == ["path", "item_id"]
    status, body, made = await same(compiled, plain, "/items/7", headers={"x-key": "ok"})
    assert (status, json.loads(body), made) == (200, {"item_id": 7, "who": "ok"}, ["auth", "item"])


class Refused(Exception):
    pass


class RefusedHarder(Refused):
    pass


class Ignored(Exception):
    pass


class Threaded(Exception):
    pass


async def test_handled_exceptions_get_the_apps_answer_as_starlette_gives_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled handler answers an exception the app has an async handler for itself (``routing.handled``):
    the nearest class in the MRO, a status handler for an HTTPException, a handler returning None (no answer);
    a sync handler and an exception without a handler go on to Starlette. Every answer equals FastAPI's."""
    async def gate(request: Request) -> str:
        calls.append("gate")
        kind = request.headers.get("x-raise", "")
        if kind == "refused":
            raise Refused("base")
        if kind == "harder":
            raise RefusedHarder("sub")
        if kind == "teapot":
            raise HTTPException(418, "short and stout", headers={"x-pot": "1"})
        if kind == "ignored":
            raise Ignored()
        if kind == "threaded":
            raise Threaded()
        if kind == "unhandled":
            raise LookupError("nobody handles this")
        return "open"

    def define(router: APIRouter) -> None:
        @router.get("/gated/{n}")
        async def gated(n: int, g: Annotated[str, Depends(gate)]) -> dict[str, Any]:
            calls.append("gated")
            if n == 0:
                raise RefusedHarder("from the endpoint")
            return {"n": n, "g": g}

    compiled, plain = build(monkeypatch, define)
    for app in (compiled, plain):
        async def refused(request: Request, exc: Refused) -> Response:
            return Response(f"{type(exc).__name__}:{exc}:{request.url.path}", status_code=409)

        async def teapot(request: Request, exc: HTTPException) -> Response:
            return Response(f"teapot {exc.detail}", status_code=418, headers=exc.headers)

        async def ignored(request: Request, exc: Ignored) -> None:
            return None

        def threaded(request: Request, exc: Threaded) -> Response:
            return Response("from a thread", status_code=503)

        app.add_exception_handler(Refused, refused)
        app.add_exception_handler(418, teapot)
        app.add_exception_handler(Ignored, ignored)  # type: ignore[arg-type]
        app.add_exception_handler(Threaded, threaded)
    plan_of(compiled, "/gated/{n}")
    answered: list[str] = []
    real = routing.handled

    async def spy(request: Request, exc: Exception) -> Any:
        answer = await real(request, exc)
        answered.append(f"{type(exc).__name__}:{answer is not None}")
        return answer

    monkeypatch.setattr(routing, "handled", spy)
    cases = {"refused": (409, b"Refused:base:/gated/1"), "harder": (409, b"RefusedHarder:sub:/gated/1"),
             "teapot": (418, b"teapot short and stout"), "threaded": (503, b"from a thread"),
             "unhandled": (500, b"Internal Server Error")}
    for kind, (status, body) in cases.items():
        got_status, got_body, made = await same(compiled, plain, "/gated/1", headers={"x-raise": kind})
        assert (got_status, got_body, made) == (status, body, ["gate"]), kind
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    for app in (compiled, plain):  # a handler that answers nothing: nothing is sent, as Starlette does
        await app({"type": "http", "method": "GET", "path": "/gated/1", "raw_path": b"/gated/1", "root_path": "",
                   "query_string": b"", "headers": [(b"x-raise", b"ignored")], "scheme": "http",
                   "server": ("t", 80), "client": ("c", 1), "http_version": "1.1"}, receive, send)
        assert sent == []
    assert await same(compiled, plain, "/gated/0") == (409, b"RefusedHarder:from the endpoint:/gated/0",
                                                       ["gate", "gated"])
    assert await same(compiled, plain, "/gated/5") == (200, b'{"n":5,"g":"open"}', ["gate", "gated"])
    assert answered == ["Refused:True", "RefusedHarder:True", "HTTPException:True", "Threaded:False",
                        "LookupError:False", "Ignored:True", "RefusedHarder:True"]


async def test_validation_errors_accumulate_in_fastapis_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dependency whose path parameter fails is not called, its siblings still are, the errors come in
    FastAPI's order (a cached dependency that failed is solved, and fails, again) and the endpoint is not
    called."""
    after = recorder("after")

    async def number(n: int, s: Annotated[str, Depends(recorder("below"))]) -> int:
        calls.append("number")
        return n

    async def twice(x: Annotated[int, Depends(number)]) -> int:
        calls.append("twice")
        return x * 2

    def define(router: APIRouter) -> None:
        @router.get("/calc/{n}/{m}")
        async def calc(m: Annotated[int, Path(ge=10)], x: Annotated[int, Depends(number)],
                       y: Annotated[int, Depends(twice)], z: Annotated[str, Depends(after)]) -> dict[str, int]:
            calls.append("calc")
            return {"m": m, "x": x, "y": y}

    compiled, plain = build(monkeypatch, define)
    plan_of(compiled, "/calc/{n}/{m}")
    status, body, made = await same(compiled, plain, "/calc/x/3")
    assert (status, made) == (422, ["below", "after"])
    assert [e["loc"] for e in json.loads(body)["detail"]] == [["path", "n"], ["path", "n"], ["path", "m"]]
    status, body, made = await same(compiled, plain, "/calc/2/3")
    assert status == 422 and made == ["below", "number", "twice", "after"]
    assert [e["type"] for e in json.loads(body)["detail"]] == ["greater_than_equal"]
    status, body, made = await same(compiled, plain, "/calc/2/30")
    assert (status, json.loads(body)) == (200, {"m": 30, "x": 2, "y": 4})
    assert made == ["below", "number", "twice", "after", "calc"]


async def test_request_validation_error_carries_what_fastapis_does(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.exceptions import RequestValidationError

    def define(router: APIRouter) -> None:
        @router.get("/n/{n}")
        async def n_(n: int) -> dict[str, int]:
            return {"n": n}

    compiled, plain = build(monkeypatch, define)
    seen = []
    for app in (compiled, plain):
        @app.exception_handler(RequestValidationError)
        async def keep(request: Request, exc: RequestValidationError) -> Response:
            seen.append((exc.errors(), exc.body, dict(exc.endpoint_ctx or {}), str(exc)))
            return Response(status_code=422)

        await answer(app, "/n/x")
    assert len(seen) == 2 and seen[0] == seen[1]
    assert seen[0][2]["path"] == "GET /n/{n}" and seen[0][2]["function"] == "n_"


class Item(BaseModel):
    item_id: int = Field(serialization_alias="itemId")
    note: str | None = None
    secret: str = "hidden"


async def test_responses_are_serialised_as_fastapi_serialises_them(monkeypatch: pytest.MonkeyPatch) -> None:
    def define(router: APIRouter) -> None:
        @router.get("/model", response_model=Item, response_model_exclude_none=True,
                    response_model_exclude={"secret"})
        async def model() -> dict[str, Any]:
            return {"item_id": 1, "note": None, "secret": "s"}

        @router.get("/annotated")
        async def annotated() -> Item:
            return Item(item_id=2, note="n")

        @router.get("/created", status_code=201, response_model=list[Item], response_model_by_alias=False)
        async def created() -> list[Item]:
            return [Item(item_id=3)]

        @router.get("/plain")
        async def plain_dict() -> dict[str, Any]:
            return {"a": [1, 2.5, None], "b": "ü"}

        @router.get("/html", response_class=HTMLResponse)
        async def html() -> str:
            return "<p>hi</p>"

        @router.get("/empty", status_code=204)
        async def empty() -> None:
            return None

        @router.get("/own")
        async def own() -> Response:
            return Response(b"raw", media_type="text/x-own", headers={"x-own": "1"})

        @router.get("/bad", response_model=Item)
        async def bad() -> dict[str, Any]:
            return {"item_id": "not a number"}

    compiled, plain = build(monkeypatch, define)
    for path in ("/model", "/annotated", "/created", "/plain", "/html", "/empty", "/own", "/bad"):
        plan_of(compiled, path)
        await same(compiled, plain, path)
    assert (await answer(compiled, "/model"))[2] == b'{"itemId":1}'
    assert (await answer(compiled, "/empty"))[:3:2] == (204, b"")
    errors = []
    for app in (compiled, plain):
        with pytest.raises(ResponseValidationError) as raised:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
                await c.get("/bad")
        errors.append((raised.value.errors(), raised.value.body, str(raised.value)))
    assert errors[0] == errors[1]


class Colour(enum.StrEnum):
    red = "red"
    blue = "blue"


async def _path_kinds(s: str, n: int, big: Annotated[int, Path(ge=10, le=20)], f: float, u: uuid.UUID,
                      c: Colour, d: datetime.date, o: int | None, rest: Annotated[str, Path(min_length=3)],
                      b: bool) -> None: ...


async def _listed(many: Annotated[list[int], Query()]) -> None: ...  # (a path parameter cannot be a list)


@pytest.mark.parametrize("received", [
    {}, {"s": "x"},
    {"s": "é", "n": "1", "big": "15", "f": "1.5", "u": str(uuid.UUID(int=1)), "c": "red", "d": "2024-02-29",
     "o": "7", "rest": "abcd", "b": "true"},
    {"s": "", "n": "x", "big": "9", "f": "nan", "u": "nope", "c": "green", "d": "2023-02-29", "o": "",
     "rest": "ab", "b": "maybe"},
    {"s": "1", "n": " 2 ", "big": "21", "f": "1e400", "u": "0" * 32, "c": "RED", "d": "2024-01-01T00:00",
     "o": "null", "rest": "abc", "b": "0"},
    {"s": "x", "n": "3", "big": "10", "f": "-0", "u": str(uuid.UUID(int=2)), "c": "blue", "d": "20240101",
     "o": "-1", "rest": "x" * 100, "b": "off", "extra": "ignored"},
])
def test_path_reader_reads_as_request_params_to_args(received: dict[str, str]) -> None:
    fields = get_dependant(path="/{s}/{n}/{big}/{f}/{u}/{c}/{d}/{o}/{rest}/{b}", call=_path_kinds).path_params
    assert len(fields) == 10
    read = routing.path_reader(fields)
    assert read is not None and not isinstance(read, functools.partial)  # the worked-out reading
    assert repr(read(received)) == repr(request_params_to_args(fields, received))  # (nan != nan)
    assert routing.path_reader([]) is None
    listed = get_dependant(path="/", call=_listed).query_params
    read = routing.path_reader(listed)  # a field it does not work out: FastAPI's function itself
    assert isinstance(read, functools.partial)
    assert repr(read(received)) == repr(request_params_to_args(listed, received))


async def test_request_and_connection_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    async def where(conn: HTTPConnection) -> str:
        return conn.url.path

    def define(router: APIRouter) -> None:
        @router.get("/where/{x}")
        async def at(x: str, request: Request, path: Annotated[str, Depends(where)]) -> dict[str, str]:
            return {"x": x, "path": path, "method": request.method}

    compiled, plain = build(monkeypatch, define)
    plan_of(compiled, "/where/{x}")
    status, body, _ = await same(compiled, plain, "/where/é")
    assert (status, json.loads(body)) == (200, {"x": "é", "path": "/where/é", "method": "GET"})


async def test_what_is_not_compiled_is_served_by_fastapi(monkeypatch: pytest.MonkeyPatch) -> None:
    def sync_dependency() -> str:
        calls.append("sync")
        return "sync"

    async def generator() -> AsyncIterator[str]:
        calls.append("enter")
        yield "gen"
        calls.append("exit")

    def define(router: APIRouter) -> None:
        @router.get("/sync")
        async def with_sync(v: Annotated[str, Depends(sync_dependency)]) -> dict[str, str]:
            return {"v": v}

        @router.get("/gen")
        async def with_generator(v: Annotated[str, Depends(generator)]) -> dict[str, str]:
            return {"v": v}

        @router.get("/def")
        def plain_def() -> dict[str, str]:
            return {"v": "def"}

        @router.get("/query")
        async def with_query(q: int = 1) -> dict[str, int]:
            return {"q": q}

        @router.get("/tasks")
        async def with_tasks(tasks: BackgroundTasks) -> dict[str, str]:
            tasks.add_task(calls.append, "background")
            return {"v": "tasks"}

        @router.post("/body")
        async def with_body(item: Item) -> Item:
            return item

    compiled, plain = build(monkeypatch, define)
    reasons = {r.path: r.reason for r in compiled_routes(compiled)}
    assert "sync_dependency is not a coroutine function" in reasons["/sync"]
    assert "generator is a generator" in reasons["/gen"]
    assert "endpoint is not a coroutine function" in reasons["/def"]
    assert "query parameters (q)" in reasons["/query"]
    assert "BackgroundTasks" in reasons["/tasks"]
    assert "request body" in reasons["/body"]
    assert not any(r.compiled for r in compiled_routes(compiled))
    assert (await same(compiled, plain, "/sync"))[2] == ["sync"]
    assert (await same(compiled, plain, "/gen"))[2] == ["enter", "exit"]
    await same(compiled, plain, "/def")
    await same(compiled, plain, "/query?q=2")
    assert (await same(compiled, plain, "/tasks"))[2] == ["background"]
    await same(compiled, plain, "/body", method="POST", json={"item_id": 5})


async def test_dependency_overrides_are_served_by_fastapis_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    real = recorder("real")

    def define(router: APIRouter) -> None:
        @router.get("/who")
        async def who(v: Annotated[str, Depends(real)]) -> dict[str, str]:
            return {"v": v}

    compiled, plain = build(monkeypatch, define, overridable=True)
    plan_of(compiled, "/who")
    for app in (compiled, plain):
        app.dependency_overrides[real] = recorder("override")
    assert json.loads((await same(compiled, plain, "/who"))[1]) == {"v": "override"}
    for app in (compiled, plain):
        app.dependency_overrides.clear()
    assert json.loads((await same(compiled, plain, "/who"))[1]) == {"v": "real"}


async def test_active_telemetry_is_served_by_fastapis_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    def define(router: APIRouter) -> None:
        @router.get("/t")
        async def t() -> dict[str, str]:
            return {"v": "t"}

    compiled, _ = build(monkeypatch, define)
    r = route(compiled, "/t")
    served: list[Request] = []

    async def fastapis(request: Request) -> Response:
        served.append(request)
        return Response(b"fastapi")

    handler, _plan = routing.compile_handler(r, r.dependant, fastapis)
    request = Request({"type": "http", "method": "GET", "path": "/t", "headers": [], "query_string": b""})
    monkeypatch.setattr(routing, "_get_request_telemetry", lambda: object())
    assert (await handler(request)).body == b"fastapi" and served == [request]
    monkeypatch.setattr(routing, "_get_request_telemetry", lambda: None)
    assert (await handler(request)).body == b'{"v":"t"}' and served == [request]


async def test_a_router_mounted_with_include_router_is_served_by_fastapi() -> None:
    router = APIRouter(route_class=ApiRoute)

    @router.get("/nested/{n}")
    async def nested(n: int) -> dict[str, int]:
        return {"n": n}

    own = router.routes[0]
    assert own.compiled_plan is not None  # type: ignore[attr-defined]
    app = FastAPI()
    app.include_router(router, prefix="/p")  # FastAPI builds the included copy's handler itself
    assert own.compiled_plan is not None  # type: ignore[attr-defined]  (the router's own route is untouched)
    assert compiled_routes(app) == []  # nested under the include, not on the app's own list
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/p/nested/3")).json() == {"n": 3}
        assert (await c.get("/p/nested/x")).status_code == 422


# ---- the real app --------------------------------------------------------------------------------------

HOT = ("/v1/me", "/v1/slots", "/v1/slots/{id}", "/v2/tasks", "/v2/tasks/{id}", "/v1/slots/count")


def test_the_hot_get_routes_compile_and_every_other_route_says_why(app) -> None:  # type: ignore[no-untyped-def]
    rows = compiled_routes(app)
    compiled = {r.path for r in rows if r.compiled and "GET" in r.methods}
    assert set(HOT) <= compiled
    assert len(compiled) > 30
    assert all(r.reason for r in rows if not r.compiled)
    assert all(not r.reason for r in rows if r.compiled)


def _stubbed(node: Any, stubs: dict[int, Any], log: list[Any]) -> Any:
    """``node``'s graph with every callable replaced by a recording coroutine (one stub per callable, so
    FastAPI's cache keys group the nodes as before)."""
    call = node.call
    if id(call) not in stubs:
        async def stub(**kwargs: Any) -> Any:
            log.append(call)
            return call

        stubs[id(call)] = stub
    subs = [_stubbed(sub, stubs, log) for sub in node.dependencies]
    copy = dataclasses.replace(node, call=stubs[id(call)], dependencies=subs)
    assert _get_cache_key(dependant=copy)[1:] == _get_cache_key(dependant=node)[1:]
    return copy


async def test_compiled_order_is_solve_dependencies_order(app) -> None:  # type: ignore[no-untyped-def]
    checked = 0
    for r in app.router.routes:
        plan = getattr(r, "compiled_plan", None)
        if plan is None:
            continue
        log: list[Any] = []
        graph = _stubbed(_lean(r.dependant, r.path_format), {}, log)
        scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b"",
                 "path_params": {name: "1" for name in r.param_convertors}}
        async with AsyncExitStack() as inner, AsyncExitStack() as function:
            scope["fastapi_inner_astack"], scope["fastapi_function_astack"] = inner, function
            solved = await solve_dependencies(request=Request(scope), dependant=graph, async_exit_stack=inner,
                                              embed_body_fields=False)
        assert not solved.errors, r.path
        assert log == plan.calls()[:-1], r.path
        # every node of the served graph (a served_by dependency's documented sub-dependencies are not in it)
        assert len(plan.steps) == _count(graph), r.path
        checked += 1
    assert checked > 30


def _count(node: Any) -> int:
    return sum(1 + _count(sub) for sub in node.dependencies)


@contextmanager
def fastapis_handlers(app: FastAPI) -> Iterator[None]:
    """Every compiled route of ``app`` served, meanwhile, by FastAPI's own handler for its (lean) graph, built
    as APIRoute builds it. (The domains' routes are built once, when their modules are imported, and shared by
    every app create_app makes: the swap is the way to have both handlers for the same route.)"""
    saved = []
    for r in app.router.routes:
        if getattr(r, "compiled_plan", None) is not None:
            documented = r.dependant
            r.dependant = _lean(documented, r.path_format)
            try:
                handler = APIRoute.get_route_handler(r)
            finally:
                r.dependant = documented
            saved.append((r, r.app))
            r.app = wrap_app_with_body_limit(request_response(handler), r.max_body_size)
    assert len(saved) > 30
    try:
        yield
    finally:
        for r, compiled in saved:
            r.app = compiled


async def same_in_both(compiled: FastAPI, plain: FastAPI, path: str, **kwargs: Any) -> int:
    """One request to ``compiled`` and the same to ``plain`` (another app on the same database and clock, so
    its rate limiter and key cache have seen the same requests) served by FastAPI's handlers: the same bytes."""
    got = await answer(compiled, path, **kwargs)
    with fastapis_handlers(plain):
        assert got == await answer(plain, path, **kwargs), path
    return got[0]


async def test_real_routes_answer_byte_for_byte_as_fastapi(settings, clean, clock) -> None:  # type: ignore[no-untyped-def]
    compiled, plain = create_app(settings, clock=clock, db=clean), create_app(settings, clock=clock, db=clean)
    world = await make_world(clean, clock.now())
    task = await make_task(clean, world.tenant.id)
    narrow = await make_tenant(clean, scopes=["messaging"])
    headers = {**world.tenant.headers, "x-request-id": "fixed"}
    paths = ["/v1/me", "/v1/me/capabilities", "/v1/slots", "/v1/slots?page_size=2&page_index=1",
             "/v1/slots?page_size=500", "/v1/slots?start_time=nonsense", f"/v1/slots/{world.slot_ids[0]}",
             "/v1/slots/abc", "/v1/slots/999999999", "/v1/slots/count", "/v2/tasks", "/v2/tasks?status=open",
             f"/v2/tasks/{task.id}", "/v2/tasks/abc", "/v1/locations"]
    statuses = {await same_in_both(compiled, plain, path, headers=headers) for path in paths}
    assert {200, 400, 404} <= statuses
    # the one compiled POST (no body): an Elements token, signed over the frozen clock's time
    assert await same_in_both(compiled, plain, "/v1/access_token", method="POST", headers=headers) == 200
    for bad in ({"x-request-id": "fixed"}, {**headers, "x-api-key": "nope"},
                {**headers, "x-practice-group-id": "x"}, {**narrow.headers, "x-request-id": "fixed"}):
        assert await same_in_both(compiled, plain, "/v1/slots/abc", headers=bad) in (401, 403)
    # every compiled GET route, with its path parameters an id that may exist and one that cannot parse
    for row in compiled_routes(compiled):
        if row.compiled and "GET" in row.methods:
            for value in ("1", "abc"):
                path = row.path
                for name in route(compiled, row.path).param_convertors:
                    path = path.replace("{" + name + "}", value)
                await same_in_both(compiled, plain, path, headers=headers)


async def _documented_page(page_index: Annotated[int, Query(ge=0, description="the page")] = 0) -> int:
    return page_index


async def _page_runtime(request: Request) -> int:
    return int(request.query_params.get("page_index", 0))


def test_openapi_is_the_same_compiled_or_not(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiling reads the route's graph and leaves it as it was: the document OpenAPI builds from it does not
    change (the domains' routes are built at import, so this is checked on routes built both ways here)."""
    documented = routing.served_by(_page_runtime)(_documented_page)

    def define(router: APIRouter) -> None:
        @router.get("/things/{thing_id}", response_model=Item, status_code=200, summary="A thing",
                    dependencies=[Depends(recorder("auth"))])
        async def thing(thing_id: int, page: Annotated[int, Depends(documented)]) -> dict[str, Any]:
            return {"item_id": thing_id}

    compiled, plain = build(monkeypatch, define)
    plan_of(compiled, "/things/{thing_id}")
    document = json.dumps(compiled.openapi(), sort_keys=True)
    assert document == json.dumps(plain.openapi(), sort_keys=True)
    assert '"description": "the page"' in document
