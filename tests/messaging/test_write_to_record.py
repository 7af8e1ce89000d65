"""write_to_record: automatic with the key's permission, approval via the confirm URL without it,
the outcome events, and a task when filing fails."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from openhero.core.outbox import Event
from openhero.patients.models import EhrEntry
from openhero.tasks.models import Task
from tests.builders import make_key, make_patient
from tests.messaging.builders import link_to_ehr, rows

pytestmark = pytest.mark.asyncio


async def send(client, headers, patient_id, **fields):  # type: ignore[no-untyped-def]
    body = {
        "patient_id": str(patient_id),
        "message_type": "sms",
        "message_string": "Blood test results are normal.",
        "write_to_record": True,
        **fields,
    }
    r = await client.post("/v1/messages/send", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_auto_write_with_permission_files_to_the_ehr(api, tenant, clean, run_worker):
    patient = await make_patient(clean, tenant.id, nhs_number="9990000018")
    await link_to_ehr(clean, patient)
    sent = await send(api, {}, patient.id, auto_write_to_record=True)
    assert sent["snomed_code"] == "279991000000102"
    assert sent["auth_token"] is None and sent["confirm_write_to_record_url"] is None
    email = await send(
        api,
        {},
        patient.id,
        message_type="email",
        auto_write_to_record=True,
        snomed_code="185316007",
        snomed_term="Indirect encounter",
    )
    assert email["snomed_code"] == "185316007"
    await run_worker()
    got = (await api.get(f"/v1/messages/{sent['message_id']}")).json()
    assert got["write_to_record"]["status"] == "succeeded" and got["write_to_record"]["write_to_record_at"]
    entries = await rows(clean, EhrEntry)
    assert {e.snomed_code for e in entries} == {"279991000000102", "185316007"}
    assert all("Blood test results are normal." in e.text for e in entries)
    events = await rows(clean, Event, event_type="write-to-record.succeeded")
    assert sorted(e.object_id for e in events) == sorted([sent["message_id"], email["message_id"]])
    assert all(e.object_type == "Message" and e.practice_group_id == tenant.id for e in events)
    # Running the worker again files nothing twice.
    await run_worker()
    assert len(await rows(clean, EhrEntry)) == 2


async def test_without_permission_the_write_waits_for_approval(client, tenant, clean, run_worker):
    _, raw = await make_key(clean, tenant.group, permissions=())
    headers = {"x-api-key": raw, "x-practice-group-id": str(tenant.id)}
    patient = await make_patient(clean, tenant.id, nhs_number="9990000018")
    await link_to_ehr(clean, patient)
    sent = await send(client, headers, patient.id, message_type="nhs_app", auto_write_to_record=True)
    assert sent["snomed_code"] == "401271004" and sent["auth_token"]
    url = urlparse(sent["confirm_write_to_record_url"])
    assert parse_qs(url.query)["auth_token"] == [sent["auth_token"]]
    await run_worker()
    got = (await client.get(f"/v1/messages/{sent['message_id']}", headers=headers)).json()
    assert got["status"] == "delivered" and got["write_to_record"]["status"] == "awaiting_approval"
    assert await rows(clean, EhrEntry) == [] and await rows(clean, Event) == []

    page = await client.get(f"{url.path}?{url.query}")
    assert page.status_code == 200 and "Approve" in page.text
    assert await rows(clean, EhrEntry) == []  # the GET only shows the form
    bad = await client.post(url.path, data={"auth_token": sent["auth_token"][:-3] + "abc"})
    assert bad.status_code == 401
    ok = await client.post(url.path, data={"auth_token": sent["auth_token"]})
    assert ok.status_code == 200 and ok.json()["write_to_record_status"] == "succeeded"
    assert len(await rows(clean, EhrEntry)) == 1
    assert [e.event_type for e in await rows(clean, Event)] == ["write-to-record.succeeded"]
    again = await client.post(url.path, data={"auth_token": sent["auth_token"]})
    assert again.status_code == 200 and len(await rows(clean, EhrEntry)) == 1

    # Approved before it is sent: filed once the worker sends it.
    early = await send(client, headers, patient.id)
    early_url = urlparse(early["confirm_write_to_record_url"])
    approved = await client.post(early_url.path, params={"auth_token": early["auth_token"]})
    assert approved.json()["write_to_record_status"] == "approved"
    wrong = await client.post(url.path, params={"auth_token": early["auth_token"]})  # another message's token
    assert wrong.status_code == 401
    await run_worker()
    got = (await client.get(f"/v1/messages/{early['message_id']}", headers=headers)).json()
    assert got["write_to_record"]["status"] == "succeeded" and len(await rows(clean, EhrEntry)) == 2


async def test_a_failed_write_emits_failed_and_opens_a_task(api, tenant, clean, run_worker):
    unlinked = await make_patient(clean, tenant.id, nhs_number="9990000018")
    linked = await make_patient(clean, tenant.id, nhs_number="9990000026")
    await link_to_ehr(clean, linked)
    not_filed = await send(api, {}, unlinked.id, auto_write_to_record=True)
    undelivered = await send(api, {}, linked.id, auto_write_to_record=True, recipient_contact_detail="07700900999")
    await run_worker()
    for sent, reason in ((not_filed, "not linked"), (undelivered, "not delivered")):
        got = (await api.get(f"/v1/messages/{sent['message_id']}")).json()
        assert got["write_to_record"]["status"] == "failed"
        assert reason in got["write_to_record"]["failure_reason"]
    events = await rows(clean, Event, event_type="write-to-record.failed")
    assert sorted(e.object_id for e in events) == sorted([not_filed["message_id"], undelivered["message_id"]])
    tasks = await rows(clean, Task)
    assert sorted(str(t.message_id) for t in tasks) == sorted([not_filed["message_id"], undelivered["message_id"]])
    assert {t.category for t in tasks} == {"system_alert"} and {t.practice_group_id for t in tasks} == {tenant.id}
    assert await rows(clean, EhrEntry) == []
