"""The per-practice-group test clock: its routes, and the time-driven rules that follow it."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from openhero.app import create_app
from tests.booking.builders import iso
from tests.builders import make_patient, make_tenant

CLOCK = "/openhero/v1/sandbox/clock"


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


async def test_advance_and_reset_move_only_the_acting_groups_clock(api, client, clean, clock):
    other = await make_tenant(clean)
    r = await api.get(CLOCK)
    assert r.status_code == 200 and r.json()["offset_seconds"] == 0
    assert parse(r.json()["now"]) == clock.now()
    r = await api.post(f"{CLOCK}/advance", json={"seconds": 3600})
    assert r.status_code == 200, r.text
    assert r.json()["offset_seconds"] == 3600 and parse(r.json()["now"]) == clock.now() + timedelta(hours=1)
    r = await api.post(f"{CLOCK}/advance", json={"seconds": 60})
    assert r.json()["offset_seconds"] == 3660
    theirs = (await client.get(CLOCK, headers=other.headers)).json()
    assert theirs["offset_seconds"] == 0 and parse(theirs["now"]) == clock.now()
    for bad in ({"seconds": 0}, {"seconds": -5}, {"seconds": "soon"}, {}):
        r = await api.post(f"{CLOCK}/advance", json=bad)
        assert r.status_code == 400 and r.json()["message"][0]["path"] == ["seconds"], (bad, r.text)
    r = await api.delete(CLOCK)
    assert r.status_code == 200 and r.json()["offset_seconds"] == 0 and parse(r.json()["now"]) == clock.now()


async def test_routes_do_not_exist_outside_sandbox_mode(settings, clean, tenant):
    app = create_app(settings.model_copy(update={"sandbox": False}), db=clean)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=tenant.headers) as c:
        for method, path in (("GET", CLOCK), ("POST", f"{CLOCK}/advance"), ("GET", "/openhero/v1/sandbox/faults"),
                             ("PUT", "/openhero/v1/sandbox/faults/pds")):
            r = await c.request(method, path, json={"seconds": 5, "mode": "error"})
            assert r.status_code == 404 and r.json()["statusCode"] == 404, (method, path, r.text)
        assert not any(p.startswith("/openhero/v1/sandbox") for p in app.openapi()["paths"])


async def test_reservation_holds_lapse_by_the_groups_clock(api, world, clean):
    first = (await api.post("/v1/appointments", json=world.reserve_body())).json()
    assert (await api.post("/v1/appointments", json=world.reserve_body())).status_code == 409
    await api.post(f"{CLOCK}/advance", json={"seconds": 16 * 60})
    late = await api.patch(f"/v1/appointments/{first['id']}/book")
    assert late.status_code == 409 and late.json()["message"][0]["code"] == "reservation_expired"
    again = await api.post("/v1/appointments", json=world.reserve_body())
    assert again.status_code == 200, again.text


async def test_scheduled_sends_fall_due_by_the_groups_clock(api, client, clean, clock, tenant, drain):
    other = await make_tenant(clean)
    when = iso(clock.now() + timedelta(hours=2))
    mine = await make_patient(clean, tenant.id)
    theirs = await make_patient(clean, other.id)
    body = {"message_type": "sms", "message_string": "Reminder", "send_at": when}
    my_id = (await api.post("/v1/messages/send", json={**body, "patient_id": str(mine.id)})).json()["message_id"]
    their_id = (await client.post("/v1/messages/send", json={**body, "patient_id": str(theirs.id)},
                                  headers=other.headers)).json()["message_id"]
    await drain()
    assert (await api.get(f"/v1/messages/{my_id}")).json()["status"] == "queued"
    await api.post(f"{CLOCK}/advance", json={"seconds": 2 * 3600})
    await drain()
    assert (await api.get(f"/v1/messages/{my_id}")).json()["status"] == "delivered"
    # The other practice group's clock did not move: its message still waits.
    assert (await client.get(f"/v1/messages/{their_id}", headers=other.headers)).json()["status"] == "queued"


async def test_access_tokens_expire_by_the_groups_clock(api, app, tenant):
    token = (await api.post("/v1/access_token")).json()["access_token"]
    bearer = {"authorization": f"Bearer {token}", "x-practice-group-id": str(tenant.id)}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser:
        assert (await browser.get("/v1/me", headers=bearer)).status_code == 200
        await api.post(f"{CLOCK}/advance", json={"seconds": 29 * 60})
        assert (await browser.get("/v1/me", headers=bearer)).status_code == 200
        await api.post(f"{CLOCK}/advance", json={"seconds": 2 * 60})
        r = await browser.get("/v1/me", headers=bearer)
    assert r.status_code == 401 and r.json()["statusCode"] == 401


async def test_a_second_process_sees_the_advance_within_a_refresh(api, settings, clean, clock, tenant):
    await api.post(f"{CLOCK}/advance", json={"seconds": 600})
    other_process = create_app(settings, clock=clock, db=clean)  # its own cache, as another process has
    transport = httpx.ASGITransport(app=other_process)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=tenant.headers) as c:
        got = (await c.get(CLOCK)).json()
    assert got["offset_seconds"] == 600 and parse(got["now"]) == clock.now() + timedelta(minutes=10)


async def test_patient_pages_follow_the_links_practice_group_clock(app, api, world):
    from urllib.parse import urlparse

    from tests.links.browser import Browser

    today = world.start.date() - timedelta(days=2)
    body = {"appointment_type_id": str(world.appt_type.id), "location_id": str(world.location.id),
            "expiry_date": (today + timedelta(days=1)).isoformat()}
    link = (await api.post("/v1/booking_links", json=body)).json()
    path = urlparse(link["short_link"]).path
    async with Browser(app) as patient:
        assert (await patient.get(path)).status_code == 200
        await api.post(f"{CLOCK}/advance", json={"seconds": 3 * 86400})  # the group's clock only
        expired = await patient.get(path)
    assert expired.status_code == 410 and "expired" in expired.text


async def test_webhook_retries_fall_due_by_the_groups_clock(api, client, clean, drain, receiver):
    other = await make_tenant(clean)
    receiver.default_status = 500
    mine = (await api.post("/v1/webhooks", json={"url": f"{receiver.url}/mine",
                                                 "event_type": "appointment.confirmed"})).json()
    theirs = (await client.post("/v1/webhooks", json={"url": f"{receiver.url}/theirs",
                                                      "event_type": "appointment.confirmed"},
                                headers=other.headers)).json()
    await api.post(f"/v1/webhooks/{mine['id']}/test")
    await client.post(f"/v1/webhooks/{theirs['id']}/test", headers=other.headers)
    await drain()
    assert len(receiver.at("/mine")) == 1 and len(receiver.at("/theirs")) == 1
    await drain()  # the retry waits (15 s or more): nothing more is sent yet
    assert len(receiver.at("/mine")) == 1
    receiver.default_status = 200
    await api.post(f"{CLOCK}/advance", json={"seconds": 3600})
    await drain()
    assert len(receiver.at("/mine")) == 2  # retried at once by this group's time
    assert len(receiver.at("/theirs")) == 1  # the other group's retry still waits in real time
    # The signature's timestamp stays real time, so a receiver's tolerance check still passes.
    sent_at = int(receiver.at("/mine")[-1].headers["x-herohealth-timestamp"])
    assert abs(sent_at - int(datetime.now().timestamp())) < 120
    log = (await api.get(f"/v1/webhooks/{mine['id']}/deliveries")).json()
    assert log["data"][0]["status"] == "delivered"


async def test_cancellation_window_and_availability_follow_the_groups_clock(api, world, clock):
    far = (await api.post("/v1/appointments", json=world.reserve_body())).json()["id"]
    assert (await api.patch(f"/v1/appointments/{far}/book")).status_code == 200
    assert (await api.get(f"/v1/appointments/{far}")).json()["can_be_cancelled"] is True
    types = (await api.get("/v1/appointment_types", params={"has_availability": "true"})).json()
    assert [t["id"] for t in types["data"]] == [str(world.appt_type.id)]
    # Within 24 hours of the appointment by the group's clock: the policy refuses.
    ahead = int((world.start - clock.now() - timedelta(hours=23)).total_seconds())
    await api.post(f"{CLOCK}/advance", json={"seconds": ahead})
    assert (await api.get(f"/v1/appointments/{far}")).json()["can_be_cancelled"] is False
    refused = await api.patch(f"/v1/appointments/{far}/cancel", json={})
    assert refused.status_code == 409 and refused.json()["message"][0]["code"] == "cancellation_policy"
    # Past every slot by the group's clock: nothing is available any more.
    await api.post(f"{CLOCK}/advance", json={"seconds": 2 * 86400})
    types = (await api.get("/v1/appointment_types", params={"has_availability": "true"})).json()
    assert types["data"] == []
