"""The rules every answer follows, whatever route handles it (applied by ``core.edge.EdgeMiddleware``).

- **Body cap** (``OPENHERO_MAX_BODY_BYTES``, default 10 MB): a declared ``Content-Length`` over the cap
  is answered 413 before a byte of the body is read; a body without one (chunked) is counted as it
  streams and refused as soon as it passes the cap, so a 100 MB upload is never buffered. The 413 has
  the contract's error body. Routes that take a file as base64 (attachment links) may send the cap's
  worth of file: their bodies may be 4/3 of the cap plus 64 KiB.
- **Security headers**: every answer says ``X-Content-Type-Options: nosniff``; every HTML answer also
  gets a Content-Security-Policy with ``frame-ancestors 'none'`` (no scripts, inline styles only),
  ``X-Frame-Options: DENY`` and ``Referrer-Policy: no-referrer`` (a link's code must not leak through
  Referer); HTML and everything under the patient pages' paths is ``Cache-Control: no-store``. A
  route that sets one of these itself (attachment downloads) keeps its own.
- **Client address**: ``X-Forwarded-For`` names the client only when the connection comes from a peer
  listed in ``OPENHERO_FORWARDED_ALLOW_IPS`` (IPs or CIDRs, or ``*``); the middleware then rewrites the
  ASGI ``client``, so per-address limits (``request.client``) see the real client and nobody else can
  choose their address by sending the header.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Sequence

from fastapi import HTTPException
from starlette.types import Scope, Send

from openhero.core.errors import error_body, error_item

HTML_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")
# FastAPI's /docs and /redoc load their scripts from a CDN: they keep working, but cannot be framed.
DOCS_CSP = "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
DOCS_PATHS = ("/docs", "/redoc")
# Routes whose body carries a file as base64: the cap is on the file, so their body may be 4/3 of it (plus
# room for the other fields). POST /v1/attachment_links takes files up to the same 10 MB as the cap.
BASE64_UPLOAD_PATHS = frozenset({"/v1/attachment_links"})
# Patient-facing pages: booking and form links, approvals, attachments, identity checks.
PAGE_PREFIXES = ("/l/", "/f/", "/attachments/", "/messages/", "/verify/")

_NOSNIFF = (b"x-content-type-options", b"nosniff")


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the cap. An HTTPException, so FastAPI's body
    reader lets it through and the error handlers answer 413 with the contract body."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"a request body of at most {limit} bytes")


def too_large_body(limit: int) -> bytes:
    item = error_item("payload_too_large", f"a request body of at most {limit} bytes", [],
                      "Request body too large")
    return json.dumps(error_body(413, [item]), separators=(",", ":")).encode()


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allow_ips(raw: str) -> list[Network] | None:
    """``OPENHERO_FORWARDED_ALLOW_IPS``: None means every peer (``*``)."""
    entries = [e.strip() for e in raw.split(",") if e.strip()]
    if "*" in entries:
        return None
    return [ipaddress.ip_network(e, strict=False) for e in entries]


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def forwarded_client(peer: str, header_values: Iterable[str], trusted: list[Network] | None) -> str | None:
    """The client a trusted peer forwarded for: the right-most X-Forwarded-For entry that is not itself
    a trusted proxy. None when the peer is not trusted or the header names no valid address."""

    def is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        if address is None:
            return False
        return trusted is None or any(address in net for net in trusted)

    if not is_trusted(_ip(peer)):
        return None
    hops = [h for value in header_values for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        address = _ip(hop)
        if address is None:
            return None
        if not is_trusted(address):
            return str(address)
    first = _ip(hops[0]) if hops else None
    return str(first) if first else None


class SecurityRules:
    """The rules above, applied by ``core.edge.EdgeMiddleware`` (the one layer that also gives the request its
    id and observes it): ``limit``, ``apply_forwarded`` and ``refuse`` on the way in, ``headers`` on the
    answer's start."""

    def __init__(self, *, max_body_bytes: int, forwarded_allow_ips: str = "") -> None:
        self.max_body_bytes = max_body_bytes
        self.trusted = parse_allow_ips(forwarded_allow_ips)
        self.trust_forwarded = self.trusted is None or bool(self.trusted)

    def limit(self, path: str) -> int:
        limit = self.max_body_bytes
        if path in BASE64_UPLOAD_PATHS:
            limit = limit * 4 // 3 + 64 * 1024
        return limit

    @staticmethod
    def declared_too_large(headers: list[tuple[bytes, bytes]], limit: int) -> bool:
        declared = next((v for k, v in headers if k == b"content-length"), None)
        return (declared is not None and declared.strip().isascii() and declared.strip().isdigit()
                and int(declared) > limit)

    @staticmethod
    async def refuse(send: Send, limit: int) -> None:
        """The 413 (``send`` adds the security headers, as to any answer)."""
        body = too_large_body(limit)
        # No "Connection: close": uvicorn then discards (never buffers) the rest of the body, so a client
        # that reads the answer only after sending everything (most do) gets the 413 instead of a reset.
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def headers(path: str, headers: Sequence[tuple[bytes, bytes]], request_id: bytes | None = None
                ) -> list[tuple[bytes, bytes]]:
        """``headers`` (a new list) with the security headers the answer does not set itself, and last
        ``X-Request-Id: request_id`` unless the answer has one."""
        present = {k.lower() for k, _ in headers}
        content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
        extra: list[tuple[bytes, bytes]] = []
        if b"x-content-type-options" not in present:
            extra.append(_NOSNIFF)
        html = content_type.lower().startswith(b"text/html")
        if html:
            csp = DOCS_CSP if path.startswith(DOCS_PATHS) else HTML_CSP
            for name, value in ((b"content-security-policy", csp.encode()), (b"x-frame-options", b"DENY"),
                                (b"referrer-policy", b"no-referrer")):
                if name not in present:
                    extra.append((name, value))
        if (html or path.startswith(PAGE_PREFIXES)) and b"cache-control" not in present:
            extra.append((b"cache-control", b"no-store"))
        if request_id is not None and b"x-request-id" not in present:
            extra.append((b"x-request-id", request_id))
        return [*headers, *extra]

    def apply_forwarded(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> None:
        client = scope.get("client")
        values = [v.decode("latin-1") for k, v in headers if k == b"x-forwarded-for"]
        if not client or not values:
            return
        real = forwarded_client(str(client[0]), values, self.trusted)
        if real is not None:
            scope["openhero.peer"] = client
            scope["client"] = (real, 0)
