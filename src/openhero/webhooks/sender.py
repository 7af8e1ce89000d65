"""A lean HTTP/1.1 client for webhook POSTs: keep-alive connections pooled per origin, responses parsed
by httptools (the C parser uvicorn uses).

Why not httpx here: a delivery is one small POST, and httpx/httpcore spend milliseconds of CPU per
request in pool bookkeeping that grows with the number of connections, which caps a worker at a few
hundred deliveries a second. This client does the one thing deliveries need at a fraction of the cost.
When an HTTP(S) proxy is configured in the environment, deliveries go through the worker's httpx
client instead (see ``delivery.py``), which honours it.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

import httptools

MAX_BODY = 64 * 1024
MAX_IDLE_PER_ORIGIN = 256
Origin = tuple[str, str, int, str]  # scheme, host, port, the address connected to
# Characters left as they are in a request target; anything else (spaces, non-ASCII) is %-encoded.
_URL_SAFE = "/?#[]@!$&'()*+,;=:%-._~"


class SendError(Exception):
    """The exchange failed before a complete response arrived."""


def _ssl_context() -> ssl.SSLContext:
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - certifi comes with httpx
        return ssl.create_default_context()


@dataclass
class _Response:
    status: int = 0
    body: bytearray = field(default_factory=bytearray)
    complete: bool = False
    keep_alive: bool = False
    parser: httptools.HttpResponseParser | None = None

    # httptools callbacks
    def on_body(self, data: bytes) -> None:
        room = MAX_BODY - len(self.body)
        if room > 0:
            self.body += data[:room]

    def on_message_complete(self) -> None:
        self.complete = True
        # Asked here: the parser resets once this callback returns.
        self.keep_alive = bool(self.parser and self.parser.should_keep_alive())


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        self.writer.close()


class Sender:
    def __init__(self) -> None:
        self._idle: dict[Origin, deque[_Connection]] = {}
        self._ssl: ssl.SSLContext | None = None

    async def post(self, url: str, body: bytes, headers: dict[str, str], *, address: str | None = None
                   ) -> tuple[int, bytes]:
        """POST ``body``; returns (status, first 64 KiB of the response body). The caller bounds the time.
        ``address``: the IP to connect to (the one the caller checked); the Host header and the TLS
        server name stay the URL's host. Redirects are answers like any other: never followed."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname or ""  # lower-cased, brackets of IPv6 literals removed
        port = parts.port or (443 if scheme == "https" else 80)
        ascii_host = host if host.isascii() else host.encode("idna").decode("ascii")
        origin = (scheme, ascii_host, port, address or ascii_host)
        host_header = f"[{ascii_host}]" if ":" in ascii_host else ascii_host
        if port != (443 if scheme == "https" else 80):
            host_header += f":{port}"
        target = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=_URL_SAFE)
        lines = [f"POST {target} HTTP/1.1", f"Host: {host_header}", f"Content-Length: {len(body)}"]
        if parts.username is not None and not any(n.lower() == "authorization" for n in headers):
            # https://user:pass@host/ means HTTP Basic credentials, as browsers and httpx treat it.
            userinfo = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            lines.append(f"Authorization: Basic {base64.b64encode(userinfo).decode('ascii')}")
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

        conn, reused = self._take(origin), True
        if conn is None:
            conn, reused = await self._open(origin), False
        try:
            result = await self._exchange(conn, request)
        except SendError:
            conn.close()
            if not reused:
                raise
            # A kept-alive connection the receiver had already closed: nothing was processed; retry once.
            conn = await self._open(origin)
            try:
                result = await self._exchange(conn, request)
            except BaseException:
                conn.close()
                raise
        except BaseException:
            conn.close()  # timeouts and cancellation included: never pool a half-used connection
            raise
        status, data, keep_alive = result
        if keep_alive and conn.usable():
            pool = self._idle.setdefault(origin, deque())
            if len(pool) < MAX_IDLE_PER_ORIGIN:
                pool.append(conn)
                return status, data
        conn.close()
        return status, data

    def _take(self, origin: Origin) -> _Connection | None:
        pool = self._idle.get(origin)
        while pool:
            conn = pool.pop()
            if conn.usable():
                return conn
            conn.close()
        return None

    async def _open(self, origin: Origin) -> _Connection:
        scheme, host, port, address = origin
        context = None
        if scheme == "https":
            context = self._ssl = self._ssl or _ssl_context()
        try:
            reader, writer = await asyncio.open_connection(
                address, port, ssl=context, server_hostname=host if context else None
            )
        except (OSError, ssl.SSLError) as exc:
            raise SendError(f"cannot connect to {host}:{port}: {exc}") from exc
        return _Connection(reader, writer)

    async def _exchange(self, conn: _Connection, request: bytes) -> tuple[int, bytes, bool]:
        response = _Response()
        parser = response.parser = httptools.HttpResponseParser(response)
        try:
            conn.writer.write(request)
            await conn.writer.drain()
            while not response.complete:
                data = await conn.reader.read(65536)
                if not data:
                    if response.status or parser.get_status_code():
                        break  # a body delimited by the connection closing
                    raise SendError("connection closed before a response")
                parser.feed_data(data)
                if not response.status:
                    response.status = parser.get_status_code()
        except (OSError, ssl.SSLError) as exc:
            raise SendError(f"{type(exc).__name__}: {exc}") from exc
        except httptools.HttpParserError as exc:
            raise SendError(f"malformed HTTP response: {exc}") from exc
        status = response.status or parser.get_status_code()
        response.parser = None
        return status, bytes(response.body), response.complete and response.keep_alive

    async def aclose(self) -> None:
        for pool in self._idle.values():
            while pool:
                pool.pop().close()
        self._idle.clear()
