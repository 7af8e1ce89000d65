"""core/security.py over real HTTP: the body cap, security headers, X-Forwarded-For from trusted peers only,
and sandbox-only routes that do not exist outside sandbox mode."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from openhero.core.security import forwarded_client, parse_allow_ips
from openhero.settings import Settings
from tests.conftest import TEST_SECRET, free_port

MB = 1024 * 1024


@pytest.fixture
def settings(database_url: str, request: pytest.FixtureRequest) -> Settings:
    over: dict[str, Any] = getattr(request, "param", {})
    values: dict[str, Any] = {"sandbox": True, "rate_limit": "100000/minute", **over}
    return Settings(database_url=database_url, secret_key=TEST_SECRET, public_base_url="http://testserver",
                    _env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def server(app: Any) -> AsyncIterator[str]:
    """The app under uvicorn as ``openhero serve`` runs it: uvicorn's own proxy-header handling off, so
    only OPENHERO_FORWARDED_ALLOW_IPS decides whom X-Forwarded-For is believed from."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                                        loop="asyncio", proxy_headers=False))
    task = asyncio.create_task(srv.serve())
    for _ in range(500):
        if srv.started:
            break
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    await task


@pytest.fixture
async def http(server: str, tenant: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, headers=tenant.headers, timeout=30) as c:
        yield c


def assert_too_large(r: httpx.Response) -> None:
    assert r.status_code == 413, r.text
    body = r.json()
    assert body["error"] is True and body["statusCode"] == 413
    assert body["message"][0]["code"] == "payload_too_large"


def webhook_body(size: int) -> bytes:
    """A JSON body of exactly ``size`` bytes."""
    base = {"event_type": "appointment.confirmed", "url": "https://partner.example/hook", "description": ""}
    padding = size - len(json.dumps(base, separators=(",", ":")).encode())
    base["description"] = "x" * padding
    data = json.dumps(base, separators=(",", ":")).encode()
    assert len(data) == size
    return data


@pytest.mark.parametrize("settings", [{"max_body_bytes": 1000}], indirect=True)
async def test_body_cap_is_exact_with_and_without_content_length(http, clean):
    headers = {"content-type": "application/json"}
    assert (await http.post("/v1/webhooks", content=webhook_body(1000), headers=headers)).status_code == 200
    assert_too_large(await http.post("/v1/webhooks", content=webhook_body(1001), headers=headers))

    async def chunks(data: bytes) -> AsyncIterator[bytes]:  # no Content-Length: Transfer-Encoding chunked
        for i in range(0, len(data), 100):
            yield data[i:i + 100]

    ok = await http.post("/v1/webhooks", content=chunks(webhook_body(1000)), headers=headers)
    assert ok.status_code == 200 and ok.request.headers.get("transfer-encoding") == "chunked"
    assert_too_large(await http.post("/v1/webhooks", content=chunks(webhook_body(1001)), headers=headers))
    # Pages' form posts are capped too.
    assert_too_large(await http.post("/messages/1/confirm_write_to_record", data={"auth_token": "x" * 2000}))
    assert (await http.get("/v1/webhooks")).json()["count"] == 2


async def _raw_request(server: str, head: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = server.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(head.encode())
    await writer.drain()
    return reader, writer


async def test_a_declared_100_mb_body_is_refused_before_it_is_sent(server, tenant, clean):
    """The answer arrives while not one byte of the body has been sent: nothing was buffered."""
    headers = "".join(f"{k}: {v}\r\n" for k, v in tenant.headers.items())
    reader, writer = await _raw_request(
        server, f"POST /v1/webhooks HTTP/1.1\r\nHost: x\r\n{headers}Content-Type: application/json\r\n"
                f"Content-Length: {100 * MB}\r\n\r\n")
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 413 ")
        length = next(int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
                      if line.startswith(b"content-length:"))
        body = await asyncio.wait_for(reader.readexactly(length), 10)
        assert json.loads(body)["message"][0]["code"] == "payload_too_large"
    finally:
        writer.close()


async def test_a_streamed_100_mb_body_is_cut_off_after_the_cap(server, tenant, clean):
    headers = "".join(f"{k}: {v}\r\n" for k, v in tenant.headers.items())
    reader, writer = await _raw_request(
        server, f"POST /v1/webhooks HTTP/1.1\r\nHost: x\r\n{headers}Content-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n")
    answer = asyncio.create_task(reader.readuntil(b"\r\n\r\n"))
    chunk = b"%x\r\n%s\r\n" % (MB, b" " * MB)
    sent = 0
    try:
        while sent < 100 * MB and not answer.done():
            writer.write(chunk)
            try:
                await asyncio.wait_for(writer.drain(), 5)
            except (ConnectionError, TimeoutError):
                break
            sent += MB
        head = await asyncio.wait_for(answer, 10)
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 413 ")
    assert 10 * MB <= sent < 40 * MB, sent


async def test_security_headers_on_html_json_and_patient_pages(http, clean):
    page = await http.get("/verify/abc123")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp and "script-src" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"

    docs = await http.get("/docs")
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    assert docs.headers["x-content-type-options"] == "nosniff"

    for path in ("/v1/webhooks", "/healthz", "/v1/nowhere"):
        r = await http.get(path)
        assert r.headers["content-type"].startswith("application/json"), path
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert "content-security-policy" not in r.headers, path

    # A patient page's JSON error (an attachment link that does not exist) is not cached either.
    missing = await http.get("/attachments/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"
    link = await http.get("/l/nosuchcode")
    assert link.headers["cache-control"] == "no-store" and link.headers["x-content-type-options"] == "nosniff"


# /verify/ is an unauthenticated patient page without a per-address limit: use /attachments/ instead.
async def _page_statuses(http: httpx.AsyncClient, forwarded: list[str | None]) -> list[int]:
    out = []
    for value in forwarded:
        headers = {"x-forwarded-for": value} if value else {}
        r = await http.get("/attachments/00000000-0000-0000-0000-000000000000", headers=headers)
        out.append(r.status_code)
    return out


@pytest.mark.parametrize("settings", [{"page_rate_limit": "2/minute"}], indirect=True)
async def test_forwarded_for_is_ignored_from_untrusted_peers(http, clean):
    # Each request claims another address; all come from 127.0.0.1, which is not trusted: one budget.
    assert await _page_statuses(http, ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) == [404, 404, 429]


@pytest.mark.parametrize("settings", [{"page_rate_limit": "2/minute", "forwarded_allow_ips": "127.0.0.1"}],
                         indirect=True)
async def test_forwarded_for_names_the_client_behind_a_trusted_proxy(http, clean):
    assert await _page_statuses(http, ["203.0.113.1", "203.0.113.2", "203.0.113.1", "203.0.113.2"]) == [404] * 4
    assert await _page_statuses(http, ["203.0.113.1"]) == [429]
    # A client cannot pick its address by prepending one: the proxy appends the real one last.
    assert await _page_statuses(http, ["198.51.100.7, 203.0.113.2"]) == [429]
    # The proxy itself (no header) has its own budget.
    assert await _page_statuses(http, [None, None, None]) == [404, 404, 429]


def test_forwarded_client_parsing() -> None:
    trusted = parse_allow_ips("10.0.0.0/8, 127.0.0.1")
    assert forwarded_client("127.0.0.1", ["203.0.113.9"], trusted) == "203.0.113.9"
    assert forwarded_client("127.0.0.1", ["198.51.100.1, 203.0.113.9, 10.1.2.3"], trusted) == "203.0.113.9"
    assert forwarded_client("127.0.0.1", ["198.51.100.1", "203.0.113.9"], trusted) == "203.0.113.9"
    assert forwarded_client("127.0.0.1", ["[2001:db8::1]:443"], trusted) == "2001:db8::1"
    assert forwarded_client("127.0.0.1", ["203.0.113.9:5555"], trusted) == "203.0.113.9"
    assert forwarded_client("127.0.0.1", ["not-an-ip"], trusted) is None
    assert forwarded_client("192.0.2.1", ["203.0.113.9"], trusted) is None  # untrusted peer
    assert forwarded_client("10.0.0.2", ["10.0.0.3"], trusted) == "10.0.0.3"  # only proxies: the first hop
    assert forwarded_client("192.0.2.1", ["203.0.113.9"], parse_allow_ips("*")) == "203.0.113.9"
    assert forwarded_client("127.0.0.1", ["203.0.113.9"], parse_allow_ips("")) is None


SANDBOX_ROUTES = [("get", "/openhero/v1/messaging/outbox"), ("post", "/openhero/v1/messages/1/open")]


@pytest.mark.parametrize("settings", [{"sandbox": False}], indirect=True)
async def test_sandbox_routes_do_not_exist_outside_sandbox_mode(http, clean):
    for method, path in SANDBOX_ROUTES:
        for headers in (None, {"x-api-key": "", "x-practice-group-id": ""}):
            r = await http.request(method, path, headers=headers)
            assert r.status_code == 404 and r.json()["statusCode"] == 404, (method, path, r.text)
    operations = {op.get("operationId") for item in (await http.get("/openapi.json")).json()["paths"].values()
                  for op in item.values()}
    assert not {"listSandboxOutbox", "openSandboxNhsAppMessage"} & operations
    assert "sendMessage" in operations


async def test_sandbox_routes_exist_in_sandbox_mode(http, clean):
    assert (await http.get("/openhero/v1/messaging/outbox")).json() == {"data": [], "count": 0}
    r = await http.post("/openhero/v1/messages/999999/open")
    assert r.status_code == 404 and r.json()["message"][0]["code"] == "not_found"
    assert (await http.get("/openhero/v1/messaging/outbox", headers={"x-api-key": "nope"})).status_code == 401
