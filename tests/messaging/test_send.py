"""POST /v1/messages/send and GET /v1/messages/{id} through the sandbox provider."""

from __future__ import annotations

from datetime import timedelta

import pytest

from openhero.links.models import BookingLink
from openhero.messaging.models import Message, SandboxOutboxEntry
from tests.builders import make_admin, make_patient, make_row, make_task, make_tenant
from tests.messaging.builders import count

pytestmark = pytest.mark.asyncio


async def send(api, patient_id, **fields):  # type: ignore[no-untyped-def]
    body = {"patient_id": str(patient_id), "message_type": "sms", "message_string": "Your flu jab is due.", **fields}
    return await api.post("/v1/messages/send", json=body)


CHANNEL_CONTACT = {"sms": "mobile", "email": "email", "nhs_app": "nhs_number", "hero": "mobile"}


async def test_each_type_uses_the_record_contact_and_is_delivered(api, tenant, clean, run_worker):
    patient = await make_patient(
        clean, tenant.id, nhs_number="9990000018", mobile="07700 900123", email="jo@example.com"
    )
    sent = {}
    for message_type in CHANNEL_CONTACT:
        r = await send(api, patient.id, message_type=message_type)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["content"] == "Your flu jab is due." and body["write_to_record"] is False
        assert body["status"] == "queued" and body["message_id"].isdigit()
        queued = (await api.get(f"/v1/messages/{body['message_id']}")).json()
        assert queued["status"] == "queued" and queued["sent_at"] is None
        sent[message_type] = body["message_id"]

    await run_worker()
    for message_type, message_id in sent.items():
        got = (await api.get(f"/v1/messages/{message_id}")).json()
        assert got["status"] == "delivered" and got["sent_at"].endswith("Z")
        assert got["message_type"] == message_type
        assert got["recipient_contact_detail"] == getattr(patient, CHANNEL_CONTACT[message_type])
        assert got["patient"] == {
            "id": str(patient.id),
            "title": None,
            "first_name": "Pat",
            "last_name": patient.last_name,
        }
        outbox = (await api.get("/openhero/v1/messaging/outbox", params={"message_id": message_id})).json()
        assert outbox["count"] == 1 and outbox["data"][0]["channel"] == message_type


async def test_supplied_contact_wins_and_magic_recipients_fail(api, tenant, clean, run_worker):
    patient = await make_patient(clean, tenant.id)
    sms = (await send(api, patient.id, recipient_contact_detail="07700 900999")).json()
    email = (await send(api, patient.id, message_type="email", recipient_contact_detail="x@bounce.example")).json()
    ok = (await send(api, patient.id, recipient_contact_detail="+44 7700 900456")).json()
    await run_worker()
    sms_got = (await api.get(f"/v1/messages/{sms['message_id']}")).json()
    assert sms_got["status"] == "failed" and sms_got["failure_reason"].startswith("undeliverable")
    email_got = (await api.get(f"/v1/messages/{email['message_id']}")).json()
    assert email_got["status"] == "failed" and email_got["failure_reason"].startswith("bounced")
    ok_got = (await api.get(f"/v1/messages/{ok['message_id']}")).json()
    assert ok_got["status"] == "delivered" and ok_got["recipient_contact_detail"] == "+44 7700 900456"


async def test_bad_input_is_400_in_the_contract_shape(api, tenant, clean):
    patient = await make_patient(clean, tenant.id)
    cases = [
        ({"message_type": "fax"}, ["message_type"], "invalid_enum_value"),
        ({"message_string": ""}, ["message_string"], "too_small"),
        ({"send_at": "next tuesday"}, ["send_at"], "invalid_date"),
        ({"send_at": "2030-01-01T09:00:00"}, ["send_at"], "invalid_date"),
        ({"task_id": "999999"}, ["task_id"], "invalid_task"),
        ({"task_id": "9" * 30}, ["task_id"], "invalid_string"),
        ({"assignee_type": "Admin", "assignee_id": 1e30}, ["assignee_id"], "invalid_type"),
        ({"attachment_uuid": "nope"}, ["attachment_uuid"], "invalid_attachment"),
        ({"assignee_type": "Robot", "assignee_id": 1}, ["assignee_type"], "invalid_enum_value"),
        ({"fallback_message_type": "pigeon"}, ["fallback_message_type"], "invalid_enum_value"),
    ]
    for fields, path, code in cases:
        r = await send(api, patient.id, **fields)
        assert r.status_code == 400, (fields, r.text)
        body = r.json()
        assert body["error"] is True and body["statusCode"] == 400
        assert body["message"][0]["path"] == path and body["message"][0]["code"] == code, (fields, body)
    r = await api.post("/v1/messages/send", json={"message_type": "sms", "message_string": "x"})
    assert r.status_code == 400 and r.json()["message"][0]["path"] == ["patient_id"]
    bare = await make_patient(clean, tenant.id, mobile=None, email=None, nhs_number=None)
    for message_type in ("sms", "email", "nhs_app", "hero"):
        r = await send(api, bare.id, message_type=message_type)
        assert r.status_code == 400, r.text
        assert r.json()["message"][0]["code"] == "missing_contact_detail"
    r = await send(api, bare.id, message_type="email", recipient_contact_detail="not-an-email")
    assert r.status_code == 400 and r.json()["message"][0]["path"] == ["recipient_contact_detail"]
    assert await count(clean, Message) == 0


async def test_other_tenants_ids_are_404_and_scope_is_required(api, client, tenant, clean, run_worker):
    other = await make_tenant(clean)
    theirs = await make_patient(clean, other.id)
    assert (await send(api, theirs.id)).status_code == 404
    assert (await send(api, 987654321)).status_code == 404
    mine = await make_patient(clean, tenant.id)
    sent = (await send(api, mine.id)).json()
    r = await client.get(f"/v1/messages/{sent['message_id']}", headers=other.headers)
    assert r.status_code == 404 and r.json()["message"][0]["code"] == "not_found"
    assert (await api.get("/v1/messages/abc")).status_code == 404

    # A key without the messaging scope is refused everywhere in this domain.
    no_scope = await make_tenant(clean, scopes=("booking",))
    for method, path in [
        ("post", "/v1/messages/send"),
        ("get", "/v1/messages/1"),
        ("get", "/v1/batch_message"),
        ("post", "/v1/batch_message"),
        ("get", "/v1/templates"),
        ("get", "/v2/automated_messages/1"),
        ("post", "/v1/attachment_links"),
        ("patch", "/v1/batch_message/1/send"),
        ("get", "/openhero/v1/messaging/outbox"),
    ]:
        kwargs = {"json": {"patient_id": str(mine.id)}} if method == "post" else {}
        r = await getattr(client, method)(path, headers=no_scope.headers, **kwargs)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["message"][0]["code"] == "forbidden"


async def test_send_at_schedules_until_the_clock_reaches_it(api, tenant, clean, clock, run_worker):
    patient = await make_patient(clean, tenant.id)
    when = (clock.now() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    body = (await send(api, patient.id, send_at=when)).json()
    assert body["send_at"] == when
    await run_worker()
    got = (await api.get(f"/v1/messages/{body['message_id']}")).json()
    assert got["status"] == "queued" and got["scheduled_at"] == when
    assert await count(clean, SandboxOutboxEntry) == 0
    clock.advance(hours=2)
    await run_worker()
    got = (await api.get(f"/v1/messages/{body['message_id']}")).json()
    assert got["status"] == "delivered"
    # A send_at in the past means now.
    past = (await send(api, patient.id, send_at="2020-01-01T00:00:00Z")).json()
    assert past["send_at"] is None


async def test_task_assignee_and_attachment_are_kept(api, tenant, clean, run_worker):
    patient = await make_patient(clean, tenant.id)
    task = await make_task(clean, tenant.id)
    admin = await make_admin(clean, tenant.id)
    link = (
        await api.post(
            "/v1/attachment_links",
            json={"file_data": "SGVsbG8gcmVzdWx0cw==", "file_name": "results.txt", "patient_id": str(patient.id)},
        )
    ).json()
    r = await send(
        api,
        patient.id,
        task_id=str(task.id),
        assignee_type="Admin",
        assignee_id=admin.id,
        attachment_uuid=link["attachment_uuid"],
    )
    assert r.status_code == 200, r.text
    assert link["attachment_link"] in r.json()["content"]
    got = (await api.get(f"/v1/messages/{r.json()['message_id']}")).json()
    assert got["task_id"] == str(task.id) and got["attachment_uuid"] == link["attachment_uuid"]
    booking_link = await make_row(
        clean,
        BookingLink,
        practice_group_id=tenant.id,
        code="flu2026abc",
        appointment_type_ids=[],
        location_ids=[],
        practitioner_ids=[],
    )
    linked = await send(api, patient.id, short_link_id=str(booking_link.id))
    assert linked.status_code == 200, linked.text
    assert linked.json()["content"].endswith("http://testserver/l/flu2026abc")
    got = (await api.get(f"/v1/messages/{linked.json()['message_id']}")).json()
    assert got["short_link"] == {"id": str(booking_link.id), "type": "booking_link", "name": None, "status": "usable"}
    missing = await send(api, patient.id, short_link_id="999999")
    assert missing.status_code == 400 and missing.json()["message"][0]["code"] == "invalid_short_link"

    other = await make_tenant(clean)
    their_task = await make_task(clean, other.id)
    assert (await send(api, patient.id, task_id=str(their_task.id))).status_code == 400
    assert (await send(api, patient.id, assignee_type="AdminTeam", assignee_id=admin.id)).status_code == 400
