"""Webhook targets on internal addresses (SSRF): refused outside sandbox mode when saved and again before
every send, over real HTTP to the API and to a real loopback receiver. DNS is a table (``resolver`` hook)."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from openhero.settings import Settings
from openhero.webhooks import targets
from openhero.webhooks.models import Webhook, WebhookAttempt
from tests.conftest import TEST_SECRET

PUBLIC = "93.184.216.34"

# What the fake DNS answers; a list of answers is served in turn (the last one repeats).
DNS: dict[str, list[list[str]]] = {
    "partner.example": [[PUBLIC]],
    "partner6.example": [["2606:4700::6810:84e5"]],
    "internal.example": [["10.0.0.5"]],
    "metadata.example": [["169.254.169.254"]],
    "mixed.example": [[PUBLIC, "127.0.0.1"]],
    "mapped.example": [["::ffff:127.0.0.1"]],
    "receiver.example": [["127.0.0.1"]],
    "rebind.example": [[PUBLIC], ["127.0.0.1"]],
}


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Installs the table as the resolver; returns how often each name was looked up."""
    calls: dict[str, int] = {}

    async def resolve(host: str, _port: int) -> list[str]:
        calls[host] = calls.get(host, 0) + 1
        answers = DNS.get(host)
        if answers is None:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return answers[min(calls[host], len(answers)) - 1]

    monkeypatch.setattr(targets, "resolver", resolve)
    return calls


@pytest.fixture
def settings(database_url: str, request: pytest.FixtureRequest) -> Settings:
    """Production mode by default here; tests ask for sandbox/allow-private with indirect parametrisation."""
    over: dict[str, Any] = {"sandbox": False, **getattr(request, "param", {})}
    return Settings(database_url=database_url, secret_key=TEST_SECRET, rate_limit="100000/minute",
                    public_base_url="http://testserver", _env_file=None, **over)  # type: ignore[call-arg]


@pytest.fixture
async def http(live_server: str, tenant: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, headers=tenant.headers, timeout=30) as c:
        yield c


REFUSED = [
    "http://127.0.0.1:{port}/hook",
    "http://localhost:{port}/hook",
    "http://LOCALHOST./",
    "http://api.localhost/",
    "http://[::1]:{port}/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://0.0.0.0:{port}/",
    "http://0/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.1/",
    "http://0177.0.0.1/",
    "http://127.1:{port}/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[::]/",
    "http://[fe80::1]/",
    "http://[fd00:ec2::254]/",
    "http://[fc00::1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:7f00:1::]/",
    "http://internal.example/",
    "http://metadata.example/latest/meta-data/",
    "http://mixed.example/",
    "http://mapped.example/",
    "https://receiver.example/",
    "http://user:pw@10.1.2.3/",
]


async def test_internal_targets_are_refused_naming_url(http, receiver, dns, clean):
    port = receiver.url.rsplit(":", 1)[1]
    for template in REFUSED:
        url = template.format(port=port)
        r = await http.post("/v1/webhooks", json={"event_type": "appointment.confirmed", "url": url})
        assert r.status_code == 400, (url, r.text)
        body = r.json()
        assert body["error"] is True and body["statusCode"] == 400, url
        assert body["message"][0]["path"] == ["url"], (url, body)
        if url.startswith("http://internal.example"):
            assert "10.0.0.5" not in r.text  # what an internal name resolves to is not told
    assert (await http.get("/v1/webhooks")).json()["count"] == 0
    assert receiver.requests == []


@pytest.mark.parametrize("url", ["ftp://partner.example/", "file:///etc/passwd", "gopher://partner.example/",
                                 "http://1.2.3.4.5/", "http://09.1/", "http://[::1/", "http:///nohost",
                                 "http://partner.example:99999/"])
async def test_non_http_and_malformed_urls_are_refused(http, dns, clean, url):
    r = await http.post("/v1/webhooks", json={"event_type": "appointment.confirmed", "url": url})
    assert r.status_code == 400 and r.json()["message"][0]["path"] == ["url"], r.text


async def test_public_targets_are_accepted(http, dns, clean):
    for url in ("http://partner.example/hook", "https://partner6.example/", f"https://{PUBLIC}/h",
                "https://[2606:4700::6810:84e5]:8443/h", "https://not-yet-in-dns.example/hook"):
        r = await http.post("/v1/webhooks", json={"event_type": "appointment.confirmed", "url": url})
        assert r.status_code == 200, (url, r.text)


async def test_patch_to_an_internal_target_is_refused_and_keeps_the_old_url(http, dns, clean):
    hook = (await http.post("/v1/webhooks", json={"event_type": "appointment.confirmed",
                                                   "url": "https://partner.example/hook"})).json()
    r = await http.patch(f"/v1/webhooks/{hook['id']}", json={"url": "http://169.254.169.254/"})
    assert r.status_code == 400 and r.json()["message"][0]["path"] == ["url"]
    assert (await http.get(f"/v1/webhooks/{hook['id']}")).json()["url"] == "https://partner.example/hook"


async def _attempts(clean: Any, hook_id: int) -> list[WebhookAttempt]:
    async with clean.session(write=False) as s:
        return list((await s.execute(select(WebhookAttempt).order_by(WebhookAttempt.id))).scalars())


async def test_dns_rebinding_after_the_check_is_refused_at_send_time(http, receiver, dns, worker, clean):
    port = receiver.url.rsplit(":", 1)[1]
    # Public when saved...
    hook = (await http.post("/v1/webhooks", json={"event_type": "appointment.confirmed",
                                                   "url": f"http://rebind.example:{port}/hook"})).json()
    assert dns["rebind.example"] == 1
    # ...loopback when sent: the worker checks the address it is about to connect to.
    assert (await http.post(f"/v1/webhooks/{hook['id']}/test")).status_code == 200
    await worker.drain()
    assert receiver.requests == []
    log = (await http.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["data"][0]
    assert log["status"] == "pending" and log["attempt_count"] == 1
    assert log["last_error"] == "refused: rebind.example resolves to a non-public address"
    assert log["attempts"][0]["response_snippet"] is None and "127.0.0.1" not in str(log)


async def test_a_stored_internal_target_is_never_sent_to(http, receiver, dns, worker, clean, tenant, clock):
    """A subscription saved before the rule (or while private targets were allowed) is refused when sent."""
    async with clean.session() as s:
        s.add(Webhook(practice_group_id=tenant.id, event_type="appointment.confirmed", url=f"{receiver.url}/old",
                      headers={}, created_at=clock.now(), updated_at=clock.now()))
        await s.commit()
        hook_id = (await s.execute(select(Webhook.id))).scalar_one()
    assert (await http.post(f"/v1/webhooks/{hook_id}/test")).status_code == 200
    await worker.drain()
    assert receiver.requests == []
    attempts = await _attempts(clean, hook_id)
    assert len(attempts) == 1 and attempts[0].error.startswith("refused:") and attempts[0].response_snippet is None


@pytest.mark.parametrize("settings", [{"sandbox": True}, {"webhook_allow_private": True}], indirect=True,
                         ids=["sandbox", "allow-private"])
async def test_loopback_receiver_allowed_in_sandbox_or_with_allow_private(http, receiver, dns, worker, clean):
    hook = (await http.post("/v1/webhooks", json={"event_type": "appointment.confirmed",
                                                   "url": f"{receiver.url}/hook"})).json()
    assert "id" in hook, hook
    assert (await http.post(f"/v1/webhooks/{hook['id']}/test")).status_code == 200
    await worker.drain()
    assert [r.path for r in receiver.requests] == ["/hook"]
    log = (await http.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["data"][0]
    # Delivered, but what an internal address answered is not copied into the log.
    assert log["status"] == "delivered" and log["attempts"][0]["response_snippet"] is None


@pytest.mark.parametrize("settings", [{"sandbox": True, "webhook_allow_private": False}], indirect=True)
async def test_sandbox_can_refuse_private_targets_too(http, receiver, dns, clean):
    r = await http.post("/v1/webhooks", json={"event_type": "appointment.confirmed", "url": f"{receiver.url}/"})
    assert r.status_code == 400


@pytest.mark.parametrize("settings", [{"webhook_allow_private": True}], indirect=True)
async def test_sends_to_the_checked_address_with_the_host_header_kept(http, receiver, dns, worker, clean):
    """receiver.example exists only in the fake DNS: the delivery arrives because the worker connects to
    the address it checked (127.0.0.1), not to whatever a second lookup would say."""
    port = receiver.url.rsplit(":", 1)[1]
    hook = (await http.post("/v1/webhooks", json={"event_type": "appointment.confirmed",
                                                   "url": f"http://receiver.example:{port}/hook"})).json()
    await http.post(f"/v1/webhooks/{hook['id']}/test")
    await worker.drain()
    assert len(receiver.requests) == 1 and receiver.requests[0].headers["host"] == f"receiver.example:{port}"
    assert dns["receiver.example"] == 1  # the send's one lookup; saving does not resolve when private is allowed


@pytest.mark.parametrize("settings", [{"webhook_allow_private": True}], indirect=True)
async def test_redirects_are_not_followed(http, receiver, dns, worker, clean):
    receiver.statuses.append(302)
    receiver.response_headers = [(b"location", f"{receiver.url}/elsewhere".encode())]
    hook = (await http.post("/v1/webhooks", json={"event_type": "appointment.confirmed",
                                                   "url": f"{receiver.url}/hook"})).json()
    await http.post(f"/v1/webhooks/{hook['id']}/test")
    await worker.drain()
    assert [r.path for r in receiver.requests] == ["/hook"]
    log = (await http.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["data"][0]
    assert log["status"] == "pending" and log["last_error"] == "HTTP 302"


@pytest.mark.parametrize("settings", [{"webhook_allow_private": True}], indirect=True)
async def test_response_snippet_is_kept_for_public_targets_only(http, receiver, dns, worker, clean, monkeypatch):
    hook = (await http.post("/v1/webhooks", json={"event_type": "appointment.confirmed",
                                                   "url": f"{receiver.url}/hook"})).json()
    await http.post(f"/v1/webhooks/{hook['id']}/test")
    await worker.drain()
    # Pretend loopback is the public internet: the same receiver's answer is now logged.
    monkeypatch.setattr(targets, "is_public", lambda ip: True)
    await http.post(f"/v1/webhooks/{hook['id']}/test")
    await worker.drain()
    logs = (await http.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["data"]
    assert [d["attempts"][0]["response_snippet"] for d in logs] == ["status 200", None]  # newest first


@pytest.mark.parametrize(
    ("address", "public"),
    [("8.8.8.8", True), ("93.184.216.34", True), ("2606:4700::1", True), ("127.0.0.1", False),
     ("10.255.0.1", False), ("172.31.0.1", False), ("192.168.0.1", False), ("169.254.169.254", False),
     ("100.100.100.200", False), ("0.0.0.0", False), ("255.255.255.255", False), ("239.1.1.1", False),
     ("198.18.0.1", False), ("192.0.0.8", False), ("::1", False), ("::", False), ("fe80::1", False),
     ("fc00::1", False), ("fec0::1", False), ("ff02::1", False), ("::ffff:10.0.0.1", False),
     ("::ffff:8.8.8.8", True), ("64:ff9b::808:808", True), ("64:ff9b::7f00:1", False), ("2002:a00:1::", False),
     ("2001:db8::1", False), ("::127.0.0.1", False)],
)
def test_address_classification(address: str, public: bool) -> None:
    assert targets.is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    ("host", "address"),
    [("2130706433", "127.0.0.1"), ("0x7f000001", "127.0.0.1"), ("0X7F.0.0.1", "127.0.0.1"), ("0177.1", "127.0.0.1"),
     ("127.1", "127.0.0.1"), ("10.1", "10.0.0.1"), ("169.254.43518", "169.254.169.254"), ("0", "0.0.0.0"),
     ("8.8.8.8.", "8.8.8.8"), ("partner.example", None), ("1.example", None), ("0x.example", None)],
)
def test_numeric_ipv4_spellings(host: str, address: str | None) -> None:
    parsed = targets.parse_ipv4_host(host)
    assert (str(parsed) if parsed else None) == address


async def test_the_httpx_path_also_connects_to_the_checked_address(receiver, dns):
    """The client used behind a proxy: plain http goes to the checked IP, the Host header stays the name."""
    from openhero.webhooks import delivery

    port = receiver.url.rsplit(":", 1)[1]
    url = f"http://receiver.example:{port}/via-httpx?a=1"
    checked = await targets.TargetGuard(allow_private=True).resolve(url)
    assert checked.address == "127.0.0.1" and checked.public is False
    async with httpx.AsyncClient() as client:
        status, _ = await delivery._post(client, None, url, b"{}", {"Content-Type": "application/json"}, checked)
    assert status == 200 and len(receiver.requests) == 1
    got = receiver.requests[0]
    assert got.path == "/via-httpx" and got.headers["host"] == f"receiver.example:{port}"
    with pytest.raises(targets.TargetRefused):
        await targets.TargetGuard(allow_private=False).resolve(url)
