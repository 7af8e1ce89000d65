"""The published OpenAPI document: FastAPI's generation, corrected to say what the server really does.

FastAPI documents a 422 ``HTTPValidationError`` on every operation with parameters and nothing else; the
server answers 400 with the contract's error body instead, and also 401/403/404/409/413/429 (and 502/503
where PDS is called). This module post-processes the generated schema once per app, driven by:

- route metadata: ``authenticate`` among the dependencies → 401, 403 (group outside the key's network,
  missing scope) and 429; a path parameter → 404 and 400; a request body → 400 and 413; query parameters
  → 400;
- ``openapi_operations.OPERATIONS``: per operationId, the statuses route metadata cannot reveal (409 for
  business rules, 404 for ids looked up from the body, 502/503 for PDS), parameter types, and Hero's
  request/response examples.

Parameters keep being parsed by the handlers as today ("true", "5" accepted); only their documented
types change (booleans, bounded integers, dates, enums, ``^\\d+$`` ids). Core imports no domain.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from openhero.core import pagination
from openhero.core.auth import SECURITY_SCHEMES, authenticate
from openhero.core.openapi_operations import OPERATIONS, OperationDoc

ERROR_SCHEMA = "HeroErrorResponse"
ERROR_ITEM_SCHEMA = "HeroErrorItem"
ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
ID_PATTERN = r"^\d+$"
METHODS = ("get", "put", "post", "patch", "delete")

ERROR_SCHEMAS: dict[str, Any] = {
    ERROR_ITEM_SCHEMA: {
        "type": "object",
        "title": ERROR_ITEM_SCHEMA,
        "required": ["code", "expected", "path"],
        "properties": {
            "code": {"type": "string", "description": "Machine code: invalid_type, too_small, not_found, ..."},
            "expected": {"type": "string", "description": "What would have been accepted."},
            "path": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                     "description": "Where the problem is: field names and array indexes."},
            "message": {"type": "string", "description": "openhero: a human sentence."},
        },
    },
    ERROR_SCHEMA: {
        "type": "object",
        "title": ERROR_SCHEMA,
        "description": "The contract's one error body: every answer that is not a success has it.",
        "required": ["error", "statusCode", "message"],
        "properties": {
            "error": {"type": "boolean", "examples": [True]},
            "statusCode": {"type": "integer", "examples": [400]},
            "message": {"type": "array", "items": {"$ref": f"#/components/schemas/{ERROR_ITEM_SCHEMA}"}},
        },
    },
}

# status -> (description, example item)
ERRORS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("Bad request: the body, a parameter or a header value failed validation (one item per bad field).",
          {"code": "invalid_type", "expected": "string", "path": ["patient_id"], "message": "Required"}),
    401: ("Missing, unknown or revoked API key or access token, or a missing or malformed x-practice-group-id "
          "header.", {"code": "unauthorised", "expected": "a valid API key", "path": ["x-api-key"],
                      "message": "Invalid or revoked API key"}),
    403: ("The key lacks the scope this operation needs, or x-practice-group-id names a practice group outside "
          "the key's network (openhero).",
          {"code": "forbidden", "expected": "a key with the booking scope", "path": ["x-api-key"],
           "message": "This API key lacks the 'booking' scope"}),
    404: ("No such resource in this practice group (another tenant's id is answered the same way).",
          {"code": "not_found", "expected": "an existing appointment id", "path": [],
           "message": "Appointment not found"}),
    409: ("Refused by a business rule (openhero): the resource is not in a state that allows this.",
          {"code": "slot_unavailable", "expected": "a free slot", "path": ["start_time"],
           "message": "That slot is already reserved or booked"}),
    413: ("The request body is larger than the server accepts (OPENHERO_MAX_BODY_BYTES).",
          {"code": "payload_too_large", "expected": "a smaller request body", "path": [],
           "message": "Request body too large"}),
    429: ("Over the key's rate limit; retry after the number of seconds in Retry-After.",
          {"code": "rate_limited", "expected": "at most the key's request rate; retry after 12s", "path": [],
           "message": "Rate limit exceeded; retry after 12 seconds"}),
    502: ("PDS answered with an error (openhero); nothing was stored.",
          {"code": "upstream_error", "expected": "a valid answer from PDS", "path": [],
           "message": "PDS failed: 500 from upstream"}),
    503: ("PDS could not be reached (openhero); nothing was stored, retry later.",
          {"code": "service_unavailable", "expected": "PDS to answer; retry later", "path": [],
           "message": "PDS is unavailable: timed out"}),
}

# Reusable responses, named as Hero's reference contract names them where it has one.
RESPONSE_NAMES = {400: "ValidationError", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
                  413: "PayloadTooLarge", 429: "TooManyRequests", 502: "BadGateway", 503: "ServiceUnavailable"}

RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.",
                               "schema": {"type": "integer", "minimum": 1}}}

BOOLEAN_PARAMS = frozenset({"has_availability", "has_follow_up", "reply_form", "order_descending"})


def _page_params() -> dict[str, dict[str, Any]]:
    index: dict[str, Any] = {"type": "integer", "minimum": 0, "default": 0}
    max_index = getattr(pagination, "MAX_PAGE_INDEX", None)
    if max_index is not None:
        index["maximum"] = max_index
    return {"page_index": index,
            "page_size": {"type": "integer", "minimum": 1, "maximum": pagination.MAX_PAGE_SIZE,
                          "default": pagination.DEFAULT_PAGE_SIZE}}


def error_response(status: int, description: str | None = None) -> dict[str, Any]:
    """A reference to the shared response, or the same response inline when an operation words it itself."""
    if description is None:
        return {"$ref": f"#/components/responses/{RESPONSE_NAMES[status]}"}
    return _inline_error(status, description)


def _inline_error(status: int, description: str | None = None) -> dict[str, Any]:
    text, item = ERRORS[status]
    response: dict[str, Any] = {
        "description": description or text,
        "content": {"application/json": {
            "schema": ERROR_REF,
            "example": {"error": True, "statusCode": status, "message": [item]},
        }},
    }
    if status == 429:
        response["headers"] = RETRY_AFTER
    return response


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependants(sub)


def authenticates(route: Any) -> bool:
    """Whether the route runs ``authenticate`` (directly or through a scope check that calls it)."""
    return any(d.call is authenticate or getattr(d.call, "openhero_authenticates", False)
               for d in _dependants(route.dependant))


def route_statuses(route: Any) -> set[int]:
    """The error statuses a route's own metadata reveals."""
    statuses: set[int] = set()
    if authenticates(route):
        statuses |= {401, 403, 429}
    if route.dependant.path_params:
        # 404 for an id naming nothing here; 400 for text no field may hold (a NUL character, say).
        statuses |= {400, 404}
    if route.body_field is not None:
        statuses |= {400, 413}
    if route.dependant.query_params or any(d.query_params for d in _dependants(route.dependant)):
        statuses.add(400)
    return statuses


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf")
    if not options:
        return schema
    kept = [o for o in options if o.get("type") != "null"]
    if len(kept) == len(options):
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**kept[0], **rest} if len(kept) == 1 else {**rest, "anyOf": kept}


def _param_schema(param: dict[str, Any], overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    name, where = param["name"], param["in"]
    schema = _without_null(param.get("schema", {}))
    description = schema.get("description")
    base = name[:-2] if name.endswith("[]") else name
    page = _page_params()
    if name in overrides:
        schema = copy.deepcopy(overrides[name])
    elif name in page:
        schema = page[name]
    elif schema.get("type") == "array":
        items = schema.get("items", {})
        if base in BOOLEAN_PARAMS:
            items = {"type": "boolean"}
        elif base.endswith(("_id", "_ids")) and not base.startswith("ehr_") and items.get("type") == "string":
            items = {"type": "string", "pattern": ID_PATTERN}
        schema = {"type": "array", "items": items}
    elif base in BOOLEAN_PARAMS:
        schema = {"type": "boolean"}
    elif (where == "path" and name == "id") or (base.endswith("_id") and not base.startswith("ehr_")
                                                 and schema.get("type") == "string"):
        schema = {"type": "string", "pattern": ID_PATTERN}
    if description and "description" not in schema:
        param.setdefault("description", description)
    schema.pop("title", None)
    return schema


def _apply_examples(operation: dict[str, Any], doc: OperationDoc) -> None:
    if doc.request_examples and "requestBody" in operation:
        media = operation["requestBody"].get("content", {}).get("application/json")
        if media is not None:
            media["examples"] = copy.deepcopy(doc.request_examples)
    for status, examples in doc.response_examples.items():
        media = operation["responses"].get(str(status), {}).get("content", {}).get("application/json")
        if media is not None:
            media["examples"] = copy.deepcopy(examples)


def document_operation(operation: dict[str, Any], route: Any) -> None:
    doc = OPERATIONS.get(operation.get("operationId", ""), OperationDoc())
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    statuses = (route_statuses(route) if route is not None else set()) | set(doc.errors)
    # The document's own statements say the same, should a dependency be wrapped beyond recognition.
    if operation.get("security"):
        statuses |= {401, 403, 429}
    if "requestBody" in operation:
        statuses |= {400, 413}
    statuses -= set(doc.not_errors)
    for status in sorted(statuses):
        responses[str(status)] = error_response(status, doc.errors.get(status))
    operation["responses"] = dict(sorted(responses.items()))
    for param in operation.get("parameters", []):
        param["schema"] = _param_schema(param, doc.parameters)
        if param["in"] == "query" and param["schema"].get("type") == "array":
            param.setdefault("style", "form")
            param.setdefault("explode", True)
    _apply_examples(operation, doc)


def _merge_security(operation: dict[str, Any]) -> None:
    """Both headers are required together (one security requirement, as Hero's contract has it), not
    either one: FastAPI lists each header dependency as its own alternative."""
    requirements = operation.get("security")
    if requirements and len(requirements) > 1:
        merged: dict[str, list[str]] = {}
        for requirement in requirements:
            merged.update(requirement)
        operation["security"] = [merged]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _drop_unused_validation_schemas(schema: dict[str, Any]) -> None:
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 body, unused once 422 is gone
        if name in schemas:
            rest = {**schema, "components": {**schema["components"],
                                             "schemas": {k: v for k, v in schemas.items() if k != name}}}
            if f"#/components/schemas/{name}" not in set(_refs(rest)):
                del schemas[name]


IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "openhero: send the same key again (within 24 hours) to repeat this write safely: the "
                   "stored answer comes back with `Idempotent-Replayed: true` and nothing changes. The same "
                   "key with a different request is 409 `idempotency_key_reused`; while the first is still "
                   "running, 409 `idempotency_key_in_use`. Keys belong to the API key and acting practice group.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7E]+$"},
}


def _document_idempotency(operation: dict[str, Any], method: str) -> None:
    """Every authenticated write takes ``Idempotency-Key`` (core/idempotency.py) and so may answer 409."""
    if method not in ("post", "put", "patch") or not operation.get("security"):
        return
    params = operation.setdefault("parameters", [])
    if not any(p.get("name", "").lower() == "idempotency-key" for p in params):
        params.append(copy.deepcopy(IDEMPOTENCY_PARAMETER))
    responses = operation.setdefault("responses", {})
    if "409" not in responses:
        responses["409"] = error_response(409, None)
        operation["responses"] = dict(sorted(responses.items()))


def _declare_security(schema: dict[str, Any], operation: dict[str, Any], route: Any) -> None:
    """``authenticate`` reads ``x-api-key`` and ``x-practice-group-id`` itself (no header dependencies to solve
    per request); every operation that depends on it requires both, as one security requirement."""
    if route is None or operation.get("security") or not authenticates(route):
        return
    operation["security"] = [{scheme.scheme_name: [] for scheme in SECURITY_SCHEMES}]
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    for scheme in SECURITY_SCHEMES:
        schemes.setdefault(scheme.scheme_name, scheme.model.model_dump(mode="json", by_alias=True, exclude_none=True))


def postprocess(schema: dict[str, Any], routes: dict[tuple[str, str], Any]) -> dict[str, Any]:
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in METHODS or not isinstance(operation, dict):
                continue
            _declare_security(schema, operation, routes.get((path, method)))
            _merge_security(operation)
            document_operation(operation, routes.get((path, method)))
            _document_idempotency(operation, method)
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {}).update(copy.deepcopy(ERROR_SCHEMAS))
    components.setdefault("responses", {}).update({name: _inline_error(status)
                                                   for status, name in RESPONSE_NAMES.items()})
    _drop_unused_validation_schemas(schema)
    return schema


def api_routes(app: FastAPI) -> Iterator[Any]:
    """Every API route with its effective dependencies (FastAPI >= 0.16x wraps included routers' routes
    in contexts that carry the router-level dependencies; older versions list plain APIRoutes)."""
    try:
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - older FastAPI
        yield from (route for route in app.routes if isinstance(route, APIRoute))
        return
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def install_openapi(app: FastAPI) -> None:
    """Replace ``app.openapi`` with the corrected document (built once, then cached like FastAPI does)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            routes = {(route.path_format, method.lower()): route for route in api_routes(app)
                      for method in route.methods}
            app.openapi_schema = postprocess(generate(), routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
