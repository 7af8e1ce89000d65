"""NHS App messages fall back to SMS/email when unopened an hour after sending (by the clock)."""

from __future__ import annotations

import pytest

from tests.builders import make_patient

pytestmark = pytest.mark.asyncio


async def send_nhs_app(api, patient_id, **fields):  # type: ignore[no-untyped-def]
    r = await api.post(
        "/v1/messages/send",
        json={
            "patient_id": str(patient_id),
            "message_type": "nhs_app",
            "message_string": "Your results are ready.",
            "fallback_message_type": "sms",
            **fields,
        },
    )
    assert r.status_code == 200, r.text
    return r.json()["message_id"]


async def test_unopened_after_an_hour_sends_the_fallback(api, tenant, clean, clock, run_worker):
    patient = await make_patient(clean, tenant.id, nhs_number="9990000018", mobile="07700900321")
    message_id = await send_nhs_app(api, patient.id)
    await run_worker()
    got = (await api.get(f"/v1/messages/{message_id}")).json()
    assert got["status"] == "delivered" and got["fallback_message_id"] is None

    clock.advance(minutes=59)
    await run_worker()
    assert (await api.get(f"/v1/messages/{message_id}")).json()["fallback_message_id"] is None

    clock.advance(minutes=1)
    await run_worker()
    got = (await api.get(f"/v1/messages/{message_id}")).json()
    fallback_id = got["fallback_message_id"]
    assert fallback_id
    fallback = (await api.get(f"/v1/messages/{fallback_id}")).json()
    assert fallback["message_type"] == "sms" and fallback["status"] == "delivered"
    assert fallback["recipient_contact_detail"] == "07700900321"
    assert fallback["fallback_of_message_id"] == message_id and fallback["content"] == "Your results are ready."
    clock.advance(hours=3)
    await run_worker()
    assert (await api.get("/openhero/v1/messaging/outbox")).json()["count"] == 2  # one fallback only


async def test_opened_message_gets_no_fallback(api, tenant, clean, clock, run_worker):
    patient = await make_patient(clean, tenant.id, nhs_number="9990000018")
    message_id = await send_nhs_app(
        api, patient.id, fallback_message_type="email", fallback_contact_detail="reader@example.com"
    )
    assert (await api.post(f"/openhero/v1/messages/{message_id}/open")).status_code == 409  # not delivered yet
    await run_worker()
    clock.advance(minutes=30)
    opened = await api.post(f"/openhero/v1/messages/{message_id}/open")
    assert opened.status_code == 200 and opened.json()["opened_at"]
    clock.advance(hours=2)
    await run_worker()
    assert (await api.get(f"/v1/messages/{message_id}")).json()["fallback_message_id"] is None
    assert (await api.get("/openhero/v1/messaging/outbox")).json()["count"] == 1


async def test_fallback_contact_is_checked_up_front(api, tenant, clean):
    patient = await make_patient(clean, tenant.id, nhs_number="9990000018", email=None)
    r = await api.post(
        "/v1/messages/send",
        json={
            "patient_id": str(patient.id),
            "message_type": "nhs_app",
            "message_string": "Hi",
            "fallback_message_type": "email",
        },
    )
    assert r.status_code == 400 and r.json()["message"][0]["path"] == ["fallback_contact_detail"]
