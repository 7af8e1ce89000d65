"""Errors as exceptions with a status and a code, mapped in one place to the contract's body.

Every response that is not a success carries::

    {"error": true, "statusCode": N, "message": [{"code": str, "expected": str, "path": [...]}]}

``expected`` says what would have been accepted; openhero adds a human ``message`` to each item.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("openhero.errors")

PathItem = str | int


# Messages of Python's own exceptions that reach a validator's ValueError say nothing to a partner
# (and show implementation details); they are replaced with what the field expects.
_PYTHON_MESSAGES = [
    (re.compile(r"invalid literal for int\(\) with base \d+: .*", re.S), "must be a whole number"),
    (re.compile(r"could not convert string to float: .*", re.S), "must be a number"),
    (re.compile(r"Exceeds the limit \(\d+ digits\) for integer string conversion.*", re.S), "is too long"),
    (re.compile(r"Invalid isoformat string: .*", re.S), "must be an ISO 8601 date or date-time"),
    (re.compile(r"(?:not enough|too many) values to unpack.*", re.S), "is not in the expected format"),
    (re.compile(r"'\w+' object (?:has no attribute|is not subscriptable|is not iterable).*", re.S),
     "has the wrong type"),
    (re.compile(r"(?:date value|year \d+ is) out of range.*", re.S), "is out of range"),
]


@functools.lru_cache(maxsize=1024)  # the same few texts come back (e.g. "Slot not found"): 7 regex searches each
def plain_message(text: str) -> str:
    """``text``, unless it is one of Python's own exception messages: then what was expected instead."""
    for pattern, replacement in _PYTHON_MESSAGES:
        if pattern.search(text):
            return pattern.sub(replacement, text)
    return text


def error_item(code: str, expected: str, path: list[PathItem] | None = None, message: str | None = None
               ) -> dict[str, Any]:
    item: dict[str, Any] = {"code": code, "expected": plain_message(expected), "path": list(path or [])}
    if message:
        item["message"] = plain_message(message)
    return item


def error_body(status: int, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"error": True, "statusCode": status, "message": items}


class ErrorResponse(JSONResponse):
    """``JSONResponse`` written by orjson: the same bytes for the values an error body holds (strings, whole
    numbers, booleans, lists, objects; tests/core/test_errors.py compares them), ~7 µs less per error. A body
    orjson refuses (an integer beyond 64 bits, a lone surrogate, a non-string key) goes to ``JSONResponse``'s
    own writer, which gives what it always gave, its error included."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            return super().render(content)


class ApiError(Exception):
    status_code = 500
    code = "internal_error"
    headers: dict[str, str] | None = None

    def __init__(self, message: str, *, expected: str | None = None, path: list[PathItem] | None = None,
                 code: str | None = None, items: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.items = items or [error_item(code or self.code, expected or message, path, message)]

    def body(self) -> dict[str, Any]:
        return error_body(self.status_code, self.items)


class ValidationFailed(ApiError):
    status_code = 400
    code = "invalid_request"


class Unauthorised(ApiError):
    status_code = 401
    code = "unauthorised"


class Forbidden(ApiError):
    status_code = 403
    code = "forbidden"


class NotFound(ApiError):
    status_code = 404
    code = "not_found"

    def __init__(self, what: str = "Resource", **kwargs: Any) -> None:
        super().__init__(f"{what} not found", expected=f"an existing {what.lower()} id", **kwargs)


class Conflict(ApiError):
    status_code = 409
    code = "conflict"


class RateLimited(ApiError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Rate limit exceeded; retry after {retry_after} seconds",
                         expected=f"at most the key's request rate; retry after {retry_after}s")
        self.headers = {"Retry-After": str(retry_after)}


class BadGateway(ApiError):
    status_code = 502
    code = "upstream_error"


class ServiceUnavailable(ApiError):
    status_code = 503
    code = "service_unavailable"


# pydantic error type -> (contract code, expected)
_TYPE_EXPECTED = {
    "string_type": "string", "int_type": "number", "int_parsing": "number", "float_type": "number",
    "float_parsing": "number", "bool_type": "boolean", "bool_parsing": "boolean", "dict_type": "object",
    "model_type": "object", "model_attributes_type": "object", "list_type": "array", "date_type": "date",
    "datetime_type": "date-time", "int_from_float": "integer", "decimal_parsing": "number",
    "none_required": "null", "is_instance_of": "object",
}


def pydantic_item(err: dict[str, Any]) -> dict[str, Any]:
    etype: str = err.get("type", "")
    loc = list(err.get("loc", ()))
    if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
        loc = loc[1:]
    # Tagged unions and function validators add their own names to loc; they are not fields.
    path: list[PathItem] = [p for p in loc if not (isinstance(p, str) and ("[" in p or "function-" in p))]
    ctx = err.get("ctx") or {}
    msg = err.get("msg", "Invalid value")
    if etype == "missing":
        return error_item("invalid_type", "a value (required)", path, "Required")
    if etype == "json_invalid":
        return error_item("invalid_json", "a valid JSON body", [], f"Malformed JSON: {ctx.get('error', msg)}")
    if etype in ("enum", "literal_error"):
        expected = str(ctx.get("expected", "")).replace(" or ", " | ").replace(", ", " | ")
        return error_item("invalid_enum_value", expected or "one of the allowed values", path, msg)
    if etype in _TYPE_EXPECTED:
        return error_item("invalid_type", _TYPE_EXPECTED[etype], path, msg)
    if etype in ("string_too_short", "too_short"):
        return error_item("too_small", f"at least {ctx.get('min_length', 1)} characters or items", path, msg)
    if etype in ("string_too_long", "too_long"):
        return error_item("too_big", f"at most {ctx.get('max_length')} characters or items", path, msg)
    if etype in ("greater_than", "greater_than_equal"):
        bound = ctx.get("gt", ctx.get("ge"))
        return error_item("too_small", f"a number >{'=' if 'ge' in ctx else ''} {bound}", path, msg)
    if etype in ("less_than", "less_than_equal"):
        bound = ctx.get("lt", ctx.get("le"))
        return error_item("too_big", f"a number <{'=' if 'le' in ctx else ''} {bound}", path, msg)
    if etype == "string_pattern_mismatch":
        return error_item("invalid_string", f"a string matching {ctx.get('pattern')}", path, msg)
    if etype in ("date_parsing", "date_from_datetime_parsing", "datetime_parsing", "datetime_from_date_parsing",
                 "date_from_datetime_inexact"):
        return error_item("invalid_date", "an ISO 8601 date (YYYY-MM-DD) or date-time", path, msg)
    if etype == "extra_forbidden":
        return error_item("unrecognized_keys", "no such field", path, msg)
    if etype == "url_parsing" or etype.startswith("url_"):
        return error_item("invalid_string", "an absolute http(s) URL", path, msg)
    if etype == "value_error":
        text = str(ctx.get("error", msg))
        return error_item("custom", text, path, text)
    return error_item(etype or "invalid", msg, path, msg)


_STATUS_CODES = {400: "invalid_request", 401: "unauthorised", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
                 415: "unsupported_media_type", 429: "rate_limited"}


def install_error_handlers(app: FastAPI) -> None:
    """The contract's error body for every failure, and the request guards of ``core.inputs``: NUL
    characters refused with a 400, unexpected errors answered with a 500 that keeps the connection."""
    from openhero.core.inputs import AnswerUnexpectedErrors, RejectNulBytes

    app.add_middleware(AnswerUnexpectedErrors)
    app.add_middleware(RejectNulBytes)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> ErrorResponse:
        return ErrorResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> ErrorResponse:
        items = [pydantic_item(dict(e)) for e in exc.errors()]
        return ErrorResponse(error_body(400, items), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> ErrorResponse:
        status = exc.status_code
        if isinstance(getattr(exc, "items", None), list):  # inputs.RejectedInput: items in the contract's shape
            return ErrorResponse(error_body(status, exc.items), status_code=status)  # type: ignore[attr-defined]
        code = _STATUS_CODES.get(status, "error")
        if status == 404:
            item = error_item(code, "an existing route", [request.url.path], f"No route {request.url.path}")
        elif status == 405:
            item = error_item(code, f"one of: {exc.headers.get('Allow', '') if exc.headers else ''}",
                              [request.url.path], f"Method {request.method} not allowed")
        else:
            item = error_item(code, str(exc.detail), [], str(exc.detail))
        return ErrorResponse(error_body(status, [item]), status_code=status, headers=exc.headers)

    # Errors raised outside the guard (in an outer middleware) still get the body, from Starlette's
    # outermost handler; AnswerUnexpectedErrors answers the others without dropping the connection.
    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> ErrorResponse:
        request_id = request.scope.get("openhero.request_id", "-")
        log.exception("unhandled error request_id=%s %s %s", request_id, request.method, request.url.path)
        item = error_item("internal_error", "no server error", [],
                          f"Internal server error (request id {request_id})")
        return ErrorResponse(error_body(500, [item]), status_code=500, headers={"X-Request-Id": request_id})
