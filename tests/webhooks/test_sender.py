"""The lean delivery HTTP client against a raw loopback server that misbehaves on purpose."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from openhero.webhooks.sender import MAX_BODY, Sender, SendError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[bool]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    return head + await reader.readexactly(length)


class RawServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self.url = ""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        index = self.connections
        try:
            while True:
                try:
                    self.requests.append(await read_request(reader))
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                if not await self.handler(reader, writer, index):
                    break
        finally:
            writer.close()


@pytest.fixture
async def raw() -> AsyncIterator[Callable[[Handler], Awaitable[RawServer]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> RawServer:
        target = RawServer(handler)
        server = await asyncio.start_server(target.serve, "127.0.0.1", 0)
        servers.append(server)
        target.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook?x=1"
        return target

    yield start
    for server in servers:
        server.close()


async def test_keep_alive_reuses_one_connection_and_sends_the_request_verbatim(raw):
    async def ok(_r, writer, _i):  # type: ignore[no-untyped-def]
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        return True

    server = await raw(ok)
    sender = Sender()
    for _ in range(3):
        assert await sender.post(server.url, b'{"a":1}', {"Content-Type": "application/json", "X-A": "b"}) == (
            200,
            b"ok",
        )
    await sender.aclose()
    assert server.connections == 1
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /hook?x=1 HTTP/1.1\r\n") and b"\r\nX-A: b" in head and body == b'{"a":1}'
    assert f"Host: {server.url.split('/')[2]}".encode() in head


async def test_connection_close_and_stale_connections_are_not_reused(raw):
    async def close_after_first(_r, writer, index):  # type: ignore[no-untyped-def]
        # Says keep-alive, then hangs up: the next request on this connection must be retried on a new one.
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()
        return False

    server = await raw(close_after_first)
    sender = Sender()
    for _ in range(3):
        assert (await sender.post(server.url, b"{}", {}))[0] == 204
    await sender.aclose()
    assert len(server.requests) == 3


async def test_chunked_large_body_is_read_and_capped(raw):
    async def chunked(_r, writer, _i):  # type: ignore[no-untyped-def]
        chunk = b"x" * 50_000
        writer.write(b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        writer.write(b"0\r\n\r\n")
        return True

    server = await raw(chunked)
    sender = Sender()
    status, body = await sender.post(server.url, b"{}", {})
    assert status == 500 and len(body) == MAX_BODY
    assert (await sender.post(server.url, b"{}", {}))[0] == 500
    await sender.aclose()
    assert server.connections == 1


async def test_garbage_and_hang_ups_are_send_errors(raw):
    async def garbage(_r, writer, _i):  # type: ignore[no-untyped-def]
        writer.write(b"SMTP ready\r\n\r\n")
        return False

    async def hang_up(_r, _w, _i):  # type: ignore[no-untyped-def]
        return False

    sender = Sender()
    for handler in (garbage, hang_up):
        server = await raw(handler)
        with pytest.raises(SendError):
            await sender.post(server.url, b"{}", {})
    with pytest.raises(SendError):
        await sender.post("http://127.0.0.1:9/nothing", b"{}", {})
    await sender.aclose()


async def test_userinfo_becomes_basic_auth_and_odd_paths_are_encoded(raw):
    async def ok(_r, writer, _i):  # type: ignore[no-untyped-def]
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        return True

    server = await raw(ok)
    port = server.url.split("/")[2].split(":")[1]
    sender = Sender()
    await sender.post(f"http://partner:s%40cret@127.0.0.1:{port}/h\u00e9?q=1", b"{}", {})
    await sender.aclose()
    head = server.requests[0].split(b"\r\n\r\n")[0]
    assert head.startswith(b"POST /h%C3%A9?q=1 HTTP/1.1\r\n")
    assert b"\r\nAuthorization: Basic cGFydG5lcjpzQGNyZXQ=" in head  # partner:s@cret
