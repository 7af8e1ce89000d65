"""Paging, sorting and array filters, parsed the same way by every list endpoint.

- ``page_index`` (0-based, default 0, max 1,000,000) and ``page_size`` (default 20, max 100); numbers sent as
  strings are accepted; anything else (other scripts' digits too) is a 400 in the contract's error shape.
- Array filters repeat the key: ``status=open&status=closed``; ``status[]=open`` is accepted too.
- ``from_query``: any other query parameters, validated as FastAPI validates them, without FastAPI's
  per-request extraction.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from fastapi.dependencies.utils import get_dependant, request_params_to_args
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core import routing
from openhero.core.errors import ValidationFailed, error_item, pydantic_item
from openhero.core.ids import is_id, parse_ids
from openhero.core.routing import served_by

try:  # FastAPI's telemetry event for a failed validation (what its handler emits for the parameters it reads)
    from fastapi.telemetry._api import _validation_failed
except ImportError:  # pragma: no cover - a FastAPI without telemetry
    def _validation_failed(exc: Any) -> None:
        return None

__all__ = ["MAX_PAGE_INDEX", "PageDep", "PageParams", "array_filter", "enum_error", "from_query", "order_clauses",
           "page_params", "paginate", "parse_bool", "parse_ids", "parse_sort", "query_list"]

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Bounds the row offset (page_index * page_size) far below BIGINT, so no database overflows on it.
MAX_PAGE_INDEX = 1_000_000

T = TypeVar("T")


@dataclass(frozen=True)
class PageParams:
    page_index: int = 0
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return self.page_index * self.page_size


def _parse_int(name: str, raw: str | None, default: int, minimum: int, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    text = str(raw).strip()
    digits = text.removeprefix("-")
    if not (digits and digits.isascii() and digits.isdigit()):
        raise ValidationFailed(f"{name} must be a whole number", items=[
            error_item("invalid_type", "number", [name], f"{name} must be a whole number")])
    if len(digits) > 18:  # out of any bound; int() of a very long string is slow, so it is not parsed
        value = minimum - 1 if text.startswith("-") else maximum + 1
    else:
        value = int(text)
    if value < minimum:
        raise ValidationFailed(f"{name} must be >= {minimum}", items=[
            error_item("too_small", f"a number >= {minimum}", [name], f"{name} must be >= {minimum}")])
    if value > maximum:
        raise ValidationFailed(f"{name} must be <= {maximum}", items=[
            error_item("too_big", f"a number <= {maximum}", [name], f"{name} must be <= {maximum}")])
    return value


def _page(page_index: str | None, page_size: str | None) -> PageParams:
    return PageParams(
        page_index=_parse_int("page_index", page_index, 0, 0, MAX_PAGE_INDEX),
        page_size=_parse_int("page_size", page_size, DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
    )


async def _page_from_request(request: Request) -> PageParams:
    query = request.query_params
    return _page(query.get("page_index"), query.get("page_size"))


@served_by(_page_from_request)
async def page_params(
    page_index: Annotated[str | None, Query(description=f"0-based page number (default 0, max {MAX_PAGE_INDEX})")
                          ] = None,
    page_size: Annotated[str | None, Query(description=f"Page length, default {DEFAULT_PAGE_SIZE}, "
                                                        f"max {MAX_PAGE_SIZE}")] = None,
) -> PageParams:
    return _page(page_index, page_size)


PageDep = Annotated[PageParams, Depends(page_params)]


@functools.lru_cache(maxsize=64)
def _adapter(item_type: Any) -> TypeAdapter[Any]:
    return TypeAdapter(item_type)


def query_list(request: Request, name: str, item_type: Any = str) -> list[Any]:
    """All values of an array filter, from ``name``, ``name[]`` and indexed ``name[0]`` keys."""
    params = request.query_params
    raw: list[str] = []
    for key in dict.fromkeys(params.keys()):  # each distinct key once; getlist returns its repeats
        if key == name or key == f"{name}[]" or (key.startswith(f"{name}[") and key.endswith("]")
                                                 and is_id(key[len(name) + 1:-1])):
            raw.extend(params.getlist(key))
    if item_type is str:
        return raw
    adapter = _adapter(item_type)
    out = []
    for i, value in enumerate(raw):
        try:
            out.append(adapter.validate_python(value))
        except ValidationError as exc:
            items = []
            for err in exc.errors():
                item = pydantic_item(dict(err))
                item["path"] = [name, i]
                items.append(item)
            raise ValidationFailed(f"invalid {name}", items=items) from None
    return out


def parse_bool(name: str, raw: str | None, default: bool = False) -> bool:
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ValidationFailed(f"{name} must be true or false",
                           items=[error_item("invalid_type", "boolean", [name], f"{name} must be true or false")])


def array_filter(name: str, item_type: Any = str, *, documented_name: str | None = None,
                 description: str | None = None) -> Callable[..., list[Any]]:
    """A dependency for an array filter; documents ``documented_name`` (e.g. ``status[]``) in OpenAPI
    and accepts both spellings."""
    alias = documented_name or name
    documented = Annotated[list[item_type] | None, Query(alias=alias, description=description)]  # type: ignore[valid-type]

    async def dependency(request: Request, **_: Any) -> list[Any]:
        return query_list(request, name, item_type)

    async def runtime(request: Request) -> list[Any]:
        return query_list(request, name, item_type)

    # The signature is built at run time so FastAPI documents the parameter under its contract name.
    dependency.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        inspect.Parameter("documented", inspect.Parameter.KEYWORD_ONLY, annotation=documented, default=None),
    ])
    dependency.openhero_array = (name, item_type, documented)  # type: ignore[attr-defined]
    return served_by(runtime)(dependency)  # documented for OpenAPI; requests are served by ``runtime``


def array_filters(**filters: Callable[..., list[Any]]) -> Callable[..., dict[str, list[Any]]]:
    """Several ``array_filter``s as one dependency (``{key: values}``): the same parameters, documented in
    the same order, but one node for FastAPI to solve per request instead of one per filter."""
    specs = {key: dep.openhero_array for key, dep in filters.items()}  # type: ignore[attr-defined]

    async def dependency(request: Request, **_: Any) -> dict[str, list[Any]]:
        return {key: query_list(request, name, item_type) for key, (name, item_type, _doc) in specs.items()}

    async def runtime(request: Request) -> dict[str, list[Any]]:
        return await dependency(request)

    dependency.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        *(inspect.Parameter(f"documented_{key}", inspect.Parameter.KEYWORD_ONLY, annotation=documented,
                            default=None) for key, (_n, _t, documented) in specs.items()),
    ])
    return served_by(runtime)(dependency)


def from_query(documented: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """``served_by`` for a dependency that takes query parameters, of any type FastAPI reads (``list[...]``,
    ``bool``, ``int``, ``Literal``, ``alias``, defaults, ``ge``/``max_length``/``pattern``...), and optionally
    the request and ``served_by`` dependencies (``PageDep``, array filters). Requests are served by a function
    of the request that solves it as FastAPI's ``solve_dependencies`` does: the sub-dependencies first, in
    order, through their own runtimes; then the query parameters, read from ``request.query_params`` and
    validated by FastAPI's own fields for the documented signature (the same values; the same errors with the
    same ``loc``: one ``RequestValidationError`` carrying a sub-dependency's errors and then these); then
    ``documented`` called with the values. OpenAPI still documents the signature.

    FastAPI validates a route's own query parameters after all its dependencies, but lists them before the
    dependencies' parameters: a ``from_query`` dependency of the route's trailing parameter-reading
    dependencies (e.g. ``page: PageDep``) and of its own query parameters, in the place of those dependencies,
    keeps both orders. Its errors are raised where it stands, so nothing solved after it (a later dependency,
    the route's own parameters) may read a parameter that can fail: FastAPI would have reported that error
    together with these. Parameter names must not be path parameter names of the route (FastAPI would read
    such a parameter from the path)."""
    dependant = get_dependant(path="", call=documented)
    refused = [kind for kind in ("path_params", "header_params", "cookie_params", "body_params",
                                 "websocket_param_name", "http_connection_param_name", "response_param_name",
                                 "background_tasks_param_name", "security_scopes_param_name")
               if getattr(dependant, kind)]
    subs: list[tuple[str, Callable[[Request], Awaitable[Any]]]] = []
    for sub in dependant.dependencies:
        solve = getattr(sub.call, "openhero_runtime", None)
        if sub.name is None or solve is None:
            refused.append(f"dependency {getattr(sub.call, '__qualname__', sub.call)}")
        else:
            subs.append((sub.name, solve))
    if refused:
        raise TypeError(f"from_query({documented.__qualname__}): only query parameters, the request and "
                        f"served_by dependencies (found {', '.join(refused)})")
    fields = dependant.query_params
    # request_params_to_args(fields) itself, or its steps worked out once for the plain fields (routing)
    read: Callable[[Mapping[str, Any]], tuple[dict[str, Any], list[Any]]] | None = (
        routing.path_reader(fields) if getattr(routing, "_MIRRORABLE", False)
        else functools.partial(request_params_to_args, fields) if fields else None)
    request_name = dependant.request_param_name

    async def runtime(request: Request) -> T:
        values: dict[str, Any] = {}
        errors: list[Any] = []
        for name, solve in subs:
            try:
                values[name] = await solve(request)
            except RequestValidationError as failed:  # a from_query sub-dependency: FastAPI goes on, then fails
                errors.extend(failed.errors())
        if read is not None:
            found, wrong = read(request.query_params)
            values.update(found)
            errors.extend(wrong)
        if errors:
            error = RequestValidationError(errors)
            _validation_failed(error)
            raise error
        if request_name:
            values[request_name] = request
        return await documented(**values)

    return served_by(runtime)(documented)


async def paginate(session: AsyncSession, stmt: Select[Any], page: PageParams) -> tuple[list[Any], int]:
    """Run ``stmt`` for one page and count all matching rows (count ignores ordering)."""
    count_stmt = select(func.count()).select_from(stmt.order_by(None).subquery())
    count = (await session.execute(count_stmt)).scalar_one()
    rows = (await session.execute(stmt.limit(page.page_size).offset(page.offset))).scalars().all()
    return list(rows), int(count)


def order_clauses(columns: Sequence[Any], descending: bool) -> list[Any]:
    return [c.desc() if descending else c.asc() for c in columns]


def enum_error(name: str, index: int, allowed: Sequence[str], value: str) -> ValidationFailed:
    """A 400 for one bad value of an array filter (``path`` is ``[name, index]``)."""
    expected = " | ".join(f"'{a}'" for a in allowed)
    return ValidationFailed(f"invalid {name}", items=[
        error_item("invalid_enum_value", expected, [name, index], f"{value!r} is not one of {expected}")])


def parse_sort(order_by: list[str], order_descending: list[str], allowed: Sequence[str], *,
               default: str = "created_at", default_descending: bool = True) -> tuple[list[str], list[bool]]:
    """``order_by[]`` keys (each one of ``allowed``) and their ``order_descending[]`` flags. A flag list
    shorter than the keys repeats its last value; none at all means ``default_descending``."""
    for i, raw in enumerate(order_by):
        if raw not in allowed:
            raise enum_error("order_by", i, allowed, raw)
    descending = []
    for i, raw in enumerate(order_descending):
        value = raw.strip().lower()
        if value not in ("true", "false", "1", "0"):
            raise ValidationFailed("order_descending must be true or false", items=[
                error_item("invalid_type", "boolean", ["order_descending", i], f"{raw!r} is not a boolean")])
        descending.append(value in ("true", "1"))
    return order_by or [default], descending or [default_descending]
