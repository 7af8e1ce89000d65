"""The sandbox console (/sandbox): sign-in, what each page shows, its forms, and who may see what."""

from __future__ import annotations

import re

import httpx

from openhero.app import create_app
from openhero.practice import keys as key_service
from tests.builders import make_patient, make_task, make_tenant

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Console:
    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        self.page = ""

    async def get(self, path: str) -> httpx.Response:
        r = await self.http.get(path)
        self.page = r.text
        return r

    async def post(self, path: str, data: dict | None = None, csrf: bool = True) -> httpx.Response:
        body = dict(data or {})
        found = CSRF.search(self.page)
        if csrf and found:
            body["csrf_token"] = found.group(1)
        return await self.http.post(path, data=body)

    async def sign_in(self, tenant) -> httpx.Response:  # type: ignore[no-untyped-def]
        return await self.http.post("/sandbox/sign-in",
                                    data={"api_key": tenant.raw_key, "practice_group_id": str(tenant.id)})


async def test_sign_in_sets_a_strict_http_only_cookie_and_shows_messages(app, api, clean, tenant):
    console = Console(app)
    r = await console.get("/sandbox")
    assert r.status_code == 200 and "Sign in to the sandbox console" in r.text
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    r = await console.http.post("/sandbox/sign-in", data={"api_key": "ohk_wrong", "practice_group_id": str(tenant.id)})
    assert r.status_code == 400 and "<title>Error: " in r.text and 'aria-invalid="true"' in r.text
    r = await console.sign_in(tenant)
    assert r.status_code == 303 and r.headers["location"] == "/sandbox/messages"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/sandbox" in cookie
    assert tenant.raw_key not in r.headers["location"]

    patient = await make_patient(clean, tenant.id, mobile="07700 900123")
    text = "Book here: http://testserver/l/abc123 <script>alert(1)</script>"
    sent = await api.post("/v1/messages/send", json={"patient_id": str(patient.id), "message_type": "sms",
                                                    "message_string": text})
    assert sent.status_code == 200
    page = (await console.get("/sandbox/messages")).text
    assert '<a href="http://testserver/l/abc123">http://testserver/l/abc123</a>' in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "queued" in page and "07700 900123" in page


async def test_tasks_webhooks_and_replay(app, api, clean, tenant, drain, receiver):
    await make_task(clean, tenant.id, type_label="Call the patient back")
    hook = (await api.post("/v1/webhooks", json={"url": f"{receiver.url}/h", "event_type": "appointment.confirmed",
                                                 "signing_key": "whsec_console_test_0001"})).json()
    await api.post(f"/v1/webhooks/{hook['id']}/test")
    await drain()
    assert len(receiver.requests) == 1
    console = Console(app)
    await console.sign_in(tenant)
    assert "Call the patient back" in (await console.get("/sandbox/tasks")).text
    page = (await console.get("/sandbox/webhooks")).text
    assert "appointment.confirmed" in page and "HTTP 200" in page and "X-Herohealth-Signature" in page
    delivery_id = re.search(r"/sandbox/webhooks/(\d+)/replay", page).group(1)
    r = await console.post(f"/sandbox/webhooks/{delivery_id}/replay")
    assert r.status_code == 303 and r.headers["location"] == "/sandbox/webhooks"
    await drain()
    assert len(receiver.requests) == 2
    # Without the page's CSRF token nothing happens.
    r = await console.post(f"/sandbox/webhooks/{delivery_id}/replay", csrf=False)
    await drain()
    assert len(receiver.requests) == 2


async def test_clock_and_faults_from_the_console(app, api, clean, tenant):
    console = Console(app)
    await console.sign_in(tenant)
    assert "real time" in (await console.get("/sandbox/clock")).text
    r = await console.post("/sandbox/clock/advance", {"seconds": "3600"})
    assert r.status_code == 303
    assert (await api.get("/openhero/v1/sandbox/clock")).json()["offset_seconds"] == 3600
    await console.get("/sandbox/clock")
    await console.post("/sandbox/faults/pds", {"mode": "unavailable"})
    assert (await api.get("/openhero/v1/sandbox/faults")).json()["data"][0]["mode"] == "unavailable"
    page = (await console.get("/sandbox/clock")).text
    assert "3600 seconds ahead" in page
    await console.post("/sandbox/faults/pds", {"mode": "off"})
    await console.post("/sandbox/clock/reset")
    assert (await api.get("/openhero/v1/sandbox/faults")).json()["count"] == 0
    assert (await api.get("/openhero/v1/sandbox/clock")).json()["offset_seconds"] == 0


async def test_each_partner_sees_only_its_group_and_revocation_signs_out(app, clean, tenant):
    other = await make_tenant(clean)
    await make_task(clean, other.id, type_label="Someone else's task")
    console = Console(app)
    r = await console.http.post("/sandbox/sign-in",
                                data={"api_key": tenant.raw_key, "practice_group_id": str(other.id)})
    assert r.status_code == 400  # a key may not open another group's console
    await console.sign_in(tenant)
    assert "Someone else's task" not in (await console.get("/sandbox/tasks")).text
    async with clean.session() as s:
        await key_service.revoke_key(s, tenant.key.id)
        await s.commit()
    r = await console.get("/sandbox/tasks")
    assert r.status_code == 303 and r.headers["location"] == "/sandbox"


async def test_the_console_does_not_exist_outside_sandbox_mode(settings, clean):
    app = create_app(settings.model_copy(update={"sandbox": False}), db=clean)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        assert (await c.get("/sandbox")).status_code == 404
        assert (await c.post("/sandbox/sign-in", data={})).status_code == 404
