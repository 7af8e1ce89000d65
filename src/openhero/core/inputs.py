"""Request-level guards that keep hostile input away from handlers and the database.

``RejectNulBytes`` refuses a NUL character (U+0000) anywhere a string can come from: the path, the query
string, a JSON body (``\\u0000``) and a form post (``%00``), and unpaired UTF-16 surrogates in JSON bodies
(``\\ud800`` alone). PostgreSQL cannot store either in text and no field of the contract wants one, so
it is a 400 for every string field in one place rather than a validator on each. Bodies (JSON, form
posts, text) are scanned as they stream (nothing is buffered here); multipart and other binary bodies
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

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openhero.core.errors import error_body, error_item

log = logging.getLogger("openhero.errors")

# In JSON text, not itself escaped (an even number of backslashes before it): \u0000, a high surrogate
# escape not followed by a low one, or a low one not preceded by a high one. Python's json module
# decodes all of them into a str that PostgreSQL (and UTF-8) cannot store.
_HIGH = rb"\\u[dD][89abAB][0-9a-fA-F]{2}"
_LOW = rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_JSON_UNSTORABLE = re.compile(
    rb"(?<!\\)(?:\\\\)*"  # an even run of backslashes: what follows is an escape, not text
    rb"(?:\\u0000|" + _HIGH + rb"(?!" + _LOW + rb")|(?<!" + _HIGH + rb")" + _LOW + rb")")
# Surrogates written as raw bytes (CESU-8): never valid UTF-8, yet json.loads decodes them ("surrogatepass").
_RAW_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")
_TAIL = 4096  # bytes of the previous chunk kept so a match across chunk boundaries is still seen


def _json_unstorable(window: bytes, final: bool) -> bool:
    """A match ending in the last 12 bytes of a chunk that is not the last may be half a surrogate pair;
    it is judged again with the next chunk (the tail carries it over)."""
    limit = len(window) if final else len(window) - 12
    return any(m.end() <= limit for m in _JSON_UNSTORABLE.finditer(window))


class RejectedInput(HTTPException):
    """A 400 raised while the body streams in; an HTTPException so body parsers pass it through."""

    def __init__(self, item: dict[str, Any]) -> None:
        super().__init__(400, item.get("message") or item["expected"])
        self.items = [item]


def nul_item(where: str) -> dict[str, Any]:
    return error_item("invalid_string", "text without NUL (U+0000) or unpaired surrogate characters", [where],
                      f"NUL and unpaired surrogate characters are not accepted in the {where}")


async def _send_400(send: Send, item: dict[str, Any]) -> None:
    body = json.dumps(error_body(400, [item])).encode()
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
        raw_path = scope.get("raw_path") or b""
        if "\x00" in scope.get("path", "") or b"%00" in raw_path:
            await _send_400(send, nul_item("path"))
            return
        query: bytes = scope.get("query_string") or b""
        if b"%00" in query or b"\x00" in query:
            await _send_400(send, nul_item("query"))
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
        if not (form or not content_type or b"json" in content_type or content_type.startswith(b"text/")):
            await self.app(scope, receive, send)  # multipart and binary bodies: files may hold NUL bytes
            return
        tail = b""

        async def checked_receive() -> Message:
            nonlocal tail
            message = await receive()
            chunk = message.get("body") or b""
            final = not message.get("more_body", False)
            if message["type"] == "http.request" and (chunk or (final and tail)):
                window = tail + chunk
                if b"\x00" in chunk or (form and b"%00" in window) or _RAW_SURROGATE.search(window) or (
                        not form and b"\\u" in window and _json_unstorable(window, final)):
                    raise RejectedInput(nul_item("body"))
                tail = window[-_TAIL:]
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
