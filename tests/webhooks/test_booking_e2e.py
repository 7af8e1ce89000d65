"""End to end through booking: reserve and book an appointment over the API; the partner's receiver
gets a signed appointment.confirmed, verified here by an independent implementation of the scheme."""

from __future__ import annotations

import hashlib
import hmac

from tests.booking.builders import make_world
from tests.webhooks.conftest import create_hook

KEY = "partner-signing-key-for-bookings"


async def test_booking_confirmation_reaches_the_partner_signed(api, tenant, receiver, worker, clean, clock):
    world = await make_world(clean, clock.now(), tenant=tenant)
    await create_hook(api, receiver.url + "/confirmed", signing_key=KEY)
    await create_hook(api, receiver.url + "/cancelled", event_type="appointment.cancelled")
    reserved = await api.post("/v1/appointments", json=world.reserve_body())
    assert reserved.status_code == 200, reserved.text
    appt_id = reserved.json()["id"]
    await worker.drain()
    assert receiver.requests == [], "a reservation is not a confirmation"

    assert (await api.patch(f"/v1/appointments/{appt_id}/book")).status_code == 200
    await worker.drain()
    (got,) = receiver.requests
    assert got.path == "/confirmed"
    assert got.json == {
        "object": "Appointment",
        "id": appt_id,
        "practice_group_id": str(tenant.id),
        "event": "appointment.confirmed",
    }
    signed = got.headers["x-herohealth-timestamp"].encode() + b"." + got.body
    assert got.headers["x-herohealth-signature"] == hmac.new(KEY.encode(), signed, hashlib.sha256).hexdigest()
    tampered = signed.replace(appt_id.encode(), b"9" + appt_id.encode())
    assert got.headers["x-herohealth-signature"] != hmac.new(KEY.encode(), tampered, hashlib.sha256).hexdigest()

    assert (await api.patch(f"/v1/appointments/{appt_id}/cancel", json={})).status_code == 200
    await worker.drain()
    assert [r.path for r in receiver.requests] == ["/confirmed", "/cancelled"]
    assert receiver.requests[1].json["event"] == "appointment.cancelled"
