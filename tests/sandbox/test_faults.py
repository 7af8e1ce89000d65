"""Fault switches: each one misbehaves as documented, for the acting practice group only."""

from __future__ import annotations

import asyncio

from tests.builders import make_patient, make_tenant

FAULTS = "/openhero/v1/sandbox/faults"
JANE = {"nhs_number": "9000000009", "dob": "2010-10-22"}


async def test_switch_list_and_clear(api, clock):
    assert (await api.get(FAULTS)).json() == {"data": [], "count": 0}
    r = await api.put(f"{FAULTS}/pds", json={"mode": "error"})
    assert r.status_code == 200 and r.json() == {"name": "pds", "mode": "error", "expires_at": None}
    r = await api.put(f"{FAULTS}/sms", json={"mode": "fail", "for_seconds": 60})
    assert r.status_code == 200 and r.json()["expires_at"].endswith("Z")
    listed = (await api.get(FAULTS)).json()
    assert listed["count"] == 2 and {f["name"] for f in listed["data"]} == {"pds", "sms"}
    assert (await api.put(f"{FAULTS}/kettle", json={"mode": "fail"})).status_code == 404
    bad = await api.put(f"{FAULTS}/pds", json={"mode": "bounce"})
    assert bad.status_code == 400 and bad.json()["message"][0]["path"] == ["mode"]
    assert (await api.put(f"{FAULTS}/pds", json={"mode": "nonsense"})).status_code == 400
    r = await api.delete(f"{FAULTS}/pds")
    assert r.status_code == 200 and [f["name"] for f in r.json()["data"]] == ["sms"]
    # for_seconds runs out in the group's time.
    await api.post("/openhero/v1/sandbox/clock/advance", json={"seconds": 61})
    assert (await api.get(FAULTS)).json()["count"] == 0


async def test_pds_faults_answer_as_documented_for_that_group_only(api, client, clean):
    other = await make_tenant(clean)
    await api.put(f"{FAULTS}/pds", json={"mode": "unavailable"})
    r = await api.post("/v1/patients/register_pds", json=JANE)
    assert r.status_code == 503 and r.json()["statusCode"] == 503
    theirs = await client.post("/v1/patients/register_pds", json=JANE, headers=other.headers)
    assert theirs.status_code == 200 and theirs.json()["patient_id"].isdigit()
    await api.put(f"{FAULTS}/pds", json={"mode": "error"})
    assert (await api.post("/v1/patients/register_pds", json=JANE)).status_code == 502
    await api.put(f"{FAULTS}/pds", json={"mode": "identity_check"})
    r = await api.post("/v1/patients/register_pds", json=JANE)
    assert r.status_code == 200 and "login_url" in r.json() and "patient_id" not in r.json()
    await api.delete(f"{FAULTS}/pds")
    r = await api.post("/v1/patients/register_pds", json=JANE)
    assert r.status_code == 200 and r.json()["patient_id"].isdigit()


async def test_pds_timeout_is_503_after_a_pause(api):
    await api.put(f"{FAULTS}/pds", json={"mode": "timeout"})
    started = asyncio.get_running_loop().time()
    r = await api.post("/v1/patients/register_pds", json=JANE)
    assert r.status_code == 503
    assert asyncio.get_running_loop().time() - started >= 1.0


async def _send(api, patient_id, message_type="sms"):  # type: ignore[no-untyped-def]
    body = {"patient_id": str(patient_id), "message_type": message_type, "message_string": "Hello"}
    r = await api.post("/v1/messages/send", json=body)
    assert r.status_code == 200, r.text
    return r.json()["message_id"]


async def test_message_faults_fail_bounce_and_delay(api, clean, tenant, drain):
    patient = await make_patient(clean, tenant.id, mobile="07700 900123", email="pat@example.com")
    await api.put(f"{FAULTS}/sms", json={"mode": "fail"})
    failed = await _send(api, patient.id)
    fine_email = await _send(api, patient.id, "email")
    await drain()
    got = (await api.get(f"/v1/messages/{failed}")).json()
    assert got["status"] == "failed" and "sandbox fault" in got["failure_reason"]
    assert (await api.get(f"/v1/messages/{fine_email}")).json()["status"] == "delivered"

    await api.put(f"{FAULTS}/email", json={"mode": "bounce"})
    bounced = await _send(api, patient.id, "email")
    await drain()
    got = (await api.get(f"/v1/messages/{bounced}")).json()
    assert got["status"] in ("sent", "failed")
    await api.post("/openhero/v1/sandbox/clock/advance", json={"seconds": 5})
    await drain()
    got = (await api.get(f"/v1/messages/{bounced}")).json()
    assert got["status"] == "failed" and "bounced" in got["failure_reason"]

    await api.put(f"{FAULTS}/sms", json={"mode": "delay"})
    delayed = await _send(api, patient.id)
    await drain()
    assert (await api.get(f"/v1/messages/{delayed}")).json()["status"] == "queued"
    await api.delete(f"{FAULTS}/sms")
    await api.post("/openhero/v1/sandbox/clock/advance", json={"seconds": 300})
    await drain()
    assert (await api.get(f"/v1/messages/{delayed}")).json()["status"] == "delivered"


async def test_webhook_drop_fails_deliveries_without_sending(api, clean, tenant, drain, receiver):
    hook = (await api.post("/v1/webhooks", json={"url": f"{receiver.url}/h",
                                                 "event_type": "appointment.confirmed"})).json()
    await api.put(f"{FAULTS}/webhooks", json={"mode": "drop"})
    assert (await api.post(f"/v1/webhooks/{hook['id']}/test")).status_code in (200, 201, 202)
    await drain()
    assert receiver.requests == []
    log = (await api.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()
    assert log["count"] == 1
    assert log["data"][0]["status"] == "pending", log  # failed as if the receiver answered 500: retried later
    await api.delete(f"{FAULTS}/webhooks")
    await api.post(f"/v1/webhooks/{hook['id']}/test")
    await drain()
    assert len(receiver.requests) == 1


async def test_ehr_write_reject_fails_the_write_with_a_practice_task(api, clean, tenant, drain):
    from openhero.patients.models import EhrEntry
    from openhero.tasks.models import Task
    from tests.messaging.builders import link_to_ehr, rows
    from tests.messaging.test_write_to_record import send as send_wtr

    patient = await make_patient(clean, tenant.id, nhs_number="9990000018")
    await link_to_ehr(clean, patient)
    await api.put(f"{FAULTS}/ehr_write", json={"mode": "reject"})
    sent = await send_wtr(api, {}, patient.id, auto_write_to_record=True)
    await drain()
    got = (await api.get(f"/v1/messages/{sent['message_id']}")).json()
    assert got["write_to_record"]["status"] == "failed", got["write_to_record"]
    assert await rows(clean, EhrEntry) == []
    tasks = await rows(clean, Task, practice_group_id=tenant.id)
    assert any(t.priority == "high" and "sandbox fault" in (t.details or "") for t in tasks)
