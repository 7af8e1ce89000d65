"""Request-level guards that keep hostile input away from handlers and the database.

``RejectNulBytes`` refuses a NUL character (U+0000) anywhere a string can come from: the path, the query
string, a JSON body (``\\u0000``) and a form post (``%00``), and unpaired UTF-16 surrogates in JSON bodies
(``\\ud800`` alone). PostgreSQL cannot store either in text and no field of the contract wants one, so
it is a 400 for every string field in one place rather than a validator on each; the error names each
field (``path``) as a validator would. JSON bodies and form posts are checked as they stream in (a
body is decoded here only when a chunk shows a sign of such text); multipart and other binary bodies
are left alone because uploaded files may hold NUL bytes.

``AnswerUnexpectedErrors`` turns an exception that escaped every handler into the contract's 500 body
without re-raising it: Starlette's outermost handler answers and then re-raises, and uvicorn closes
the connection after that, so a client's keep-alive connection died with every 500.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openhero.core.errors import error_body, error_item

log = logging.getLogger("openhero.errors")

# Cheap signs, looked for in each body chunk, that a body may decode to unstorable text: a \u0000 or
# surrogate escape in JSON, a raw NUL byte, surrogates written as raw bytes (CESU-8: never valid UTF-8,
# yet json.loads decodes them with "surrogatepass"), %00 in a form post. Only a body showing one is
# decoded here, to find the fields that really hold such text (a surrogate pair is fine).
_JSON_SIGN = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])|\x00|\xed[\xa0-\xbf]")
_FORM_SIGN = re.compile(rb"%00|\x00")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # in decoded text every surrogate left is unpaired
_TAIL = 16  # bytes of the previous chunk kept so a sign split across chunks is still seen
EXPECTED = "text without NUL (U+0000) or unpaired surrogate characters"


class RejectedInput(HTTPException):
    """A 400 raised while the body streams in; an HTTPException so body parsers pass it through."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        super().__init__(400, items[0]["message"])
        self.items = items


def _item(code: str, path: list[Any]) -> dict[str, Any]:
    where = ".".join(str(p) for p in path) or "body"
    return error_item(code, EXPECTED, path, f"{where}: NUL and unpaired surrogate characters are not accepted")


def unstorable_paths(value: Any, path: list[Any] | None = None) -> list[list[Any]]:
    """Paths of the strings (and object keys) in a decoded JSON value that hold NUL or lone surrogates."""
    path = path or []
    if isinstance(value, str):
        return [path] if _UNSTORABLE.search(value) else []
    found: list[list[Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += [[*path, key]] if _UNSTORABLE.search(key) else unstorable_paths(item, [*path, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += unstorable_paths(item, [*path, index])
    return found


def _query_paths(text: str) -> list[list[Any]]:
    return [[key if not _UNSTORABLE.search(key) else "query"] for key, value in parse_qsl(text, keep_blank_values=True)
            if _UNSTORABLE.search(key) or _UNSTORABLE.search(value)]


def _body_items(body: bytes, form: bool) -> list[dict[str, Any]]:
    """The fields of a whole body that hold unstorable text (as pydantic would name them: code ``custom``)."""
    if form:
        return [_item("custom", path) for path in _query_paths(body.decode("utf-8", "replace"))]
    try:
        value = json.loads(body)
    except ValueError:
        return []  # not JSON: the body parser answers with its own 400
    return [_item("custom", path) for path in unstorable_paths(value)][:20]


async def _send_400(send: Send, items: list[dict[str, Any]]) -> None:
    body = json.dumps(error_body(400, items)).encode()
    await send({"type": "http.response.start", "status": 400,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class RejectNulBytes:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", ""):
            await _send_400(send, [_item("invalid_string", ["path"])])
            return
        query: bytes = scope.get("query_string") or b""
        if b"%00" in query or b"\x00" in query:
            paths = _query_paths(query.decode("latin-1"))
            if paths:
                await _send_400(send, [_item("invalid_string", path) for path in paths])
                return
        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        content_type = b""
        for key, value in scope.get("headers") or ():
            if key == b"content-type":
                content_type = value.lower()
                break
        form = content_type.startswith(b"application/x-www-form-urlencoded")
        if not (form or not content_type or b"json" in content_type):
            await self.app(scope, receive, send)  # multipart and binary bodies: files may hold NUL bytes
            return
        sign = _FORM_SIGN if form else _JSON_SIGN
        chunks: list[bytes] = []
        suspicious = False

        async def checked_receive() -> Message:
            nonlocal suspicious
            message = await receive()
            if message["type"] != "http.request":
                return message
            chunk = message.get("body") or b""
            if chunk:
                if not suspicious:
                    suspicious = bool(sign.search((chunks[-1][-_TAIL:] if chunks else b"") + chunk))
                chunks.append(chunk)
            if not message.get("more_body", False) and suspicious:
                items = _body_items(b"".join(chunks), form)
                if items:
                    raise RejectedInput(items)
            return message

        await self.app(scope, checked_receive, send)


class AnswerUnexpectedErrors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            request_id = scope.get("openhero.request_id", "-")
            log.exception("unhandled error request_id=%s %s %s", request_id, scope.get("method"), scope.get("path"))
            if started:  # part of an answer went out; nothing sensible can follow it
                raise
            item = error_item("internal_error", "no server error", [],
                              f"Internal server error (request id {request_id})")
            body = json.dumps(error_body(500, [item])).encode()
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode()),
                                    (b"x-request-id", str(request_id).encode("latin-1", "replace"))]})
            await send({"type": "http.response.body", "body": body})
