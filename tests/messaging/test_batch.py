"""Batch messages: creation, enrichment through the (sandbox) PDS, queueing, sending, statuses."""

from __future__ import annotations

from datetime import date

import pytest

from openhero.patients.models import Patient
from tests.builders import make_patient, make_tenant
from tests.messaging.builders import rows, untraceable_nhs

pytestmark = pytest.mark.asyncio


async def create(api, **fields):  # type: ignore[no-untyped-def]
    body = {
        "name": "Flu clinic 2026",
        "channel": "SMS",
        "content": "Flu clinic on Saturday 9am-1pm, book now.",
        "recipients": [],
        **fields,
    }
    r = await api.post("/v1/batch_message", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def statuses(page):  # type: ignore[no-untyped-def]
    return {item["nhs_number"]: item["status"] for item in page["data"]}


async def test_batch_reaches_completed_with_the_right_recipient_statuses(api, tenant, clean, run_worker):
    local = await make_patient(clean, tenant.id, nhs_number="9990000018", dob=date(1951, 4, 12), mobile="07700900777")
    no_mobile = await make_patient(clean, tenant.id, nhs_number="9990000026", dob=date(1960, 1, 1), mobile=None)
    unknown = untraceable_nhs()
    recipients = [
        {"nhs_number": "900 000 0009", "dob": "2010-10-22T00:00:00.000Z"},  # traced on PDS, registered
        {"nhs_number": "9990000018", "dob": "1951-04-12"},  # the practice's own patient
        {"nhs_number": unknown, "dob": "1970-01-01"},  # valid but not traced
        {"nhs_number": "9000000033", "dob": "1940-01-05"},  # deceased
        {"nhs_number": "9000000017", "dob": "1985-03-14"},  # identity check needed
        {"nhs_number": "9990000026", "dob": "1960-01-01"},  # no mobile on record
        {"nhs_number": "1234567890", "dob": "1970-01-01"},  # bad check digit
        {"nhs_number": "9990000018", "dob": "not a date"},  # bad dob
    ]
    batch = await create(api, recipients=recipients)
    assert batch["status"] == "CREATED" and batch["recipient_count"] == 8 and batch["id"].isdigit()
    first = (await api.get(f"/v1/batch_message/{batch['id']}/recipients")).json()
    assert first["count"] == 8 and {r["status"] for r in first["data"]} == {"CREATED"}
    assert first["data"][0]["nhs_number"] == "900 000 0009"  # verbatim until enrichment

    await run_worker()  # enrichment runs without sending
    enriched = (await api.get(f"/v1/batch_message/{batch['id']}/recipients")).json()["data"]
    by_position = [r["status"] for r in enriched]
    assert by_position == [
        "ENRICHED",
        "ENRICHED",
        "ENRICHMENT_ERROR",
        "ENRICHMENT_ERROR",
        "ENRICHMENT_ERROR",
        "ENRICHMENT_ERROR",
        "INVALID_PAYLOAD",
        "INVALID_PAYLOAD",
    ]
    assert enriched[0]["nhs_number"] == "9000000009" and enriched[0]["dob"] == "2010-10-22"
    assert enriched[2]["error"].startswith("Not traced") and "deceased" in enriched[3]["error"]
    assert enriched[6]["error"].startswith("nhs_number") and enriched[7]["error"].startswith("dob")
    assert "mobile" in enriched[5]["error"] and enriched[5]["patient_id"] == str(no_mobile.id)
    assert (await api.get(f"/v1/batch_message/{batch['id']}")).json()["status"] == "CREATED"

    sent = await api.patch(f"/v1/batch_message/{batch['id']}/send")
    assert sent.status_code == 200 and sent.json()["status"] == "PENDING"
    again = await api.patch(f"/v1/batch_message/{batch['id']}/send")
    assert again.status_code == 409 and again.json()["message"][0]["code"] == "batch_already_sent"

    await run_worker()
    done = (await api.get(f"/v1/batch_message/{batch['id']}")).json()
    assert done["status"] == "COMPLETED" and done["completed_at"]
    final = (await api.get(f"/v1/batch_message/{batch['id']}/recipients", params={"status": "QUEUED"})).json()
    assert final["count"] == 2 and all(r["message_id"] for r in final["data"])
    traced = next(p for p in await rows(clean, Patient, practice_group_id=tenant.id) if p.nhs_number == "9000000009")
    assert {r["patient_id"] for r in final["data"]} == {str(traced.id), str(local.id)}
    sends = (await api.get(f"/v1/batch_message/{batch['id']}/messages")).json()
    assert sends["count"] == 2
    assert {m["recipient_contact_detail"] for m in sends["data"]} == {"07700900001", "07700900777"}
    assert all(
        m["status"] == "delivered" and m["campaign"] == {"id": batch["id"], "name": "Flu clinic 2026"}
        for m in sends["data"]
    )
    one = (await api.get(f"/v1/messages/{sends['data'][0]['id']}")).json()
    assert one["campaign"]["id"] == batch["id"] and one["content"] == batch["content"]
    assert (await api.get(f"/v1/batch_message/{batch['id']}/messages", params={"status": "CREATED"})).json()[
        "count"
    ] == 0
    assert (await api.patch(f"/v1/batch_message/{batch['id']}/send")).status_code == 409


async def test_send_requested_before_enrichment_still_completes(api, tenant, clean, clock, run_worker):
    await make_patient(clean, tenant.id, nhs_number="9990000018", dob=date(1951, 4, 12))
    batch = await create(
        api, channel="EMAIL", subject="Your flu jab", recipients={"nhs_number": "9990000018", "dob": "1951-04-12"}
    )
    assert batch["recipient_count"] == 1
    assert (await api.patch(f"/v1/batch_message/{batch['id']}/send")).status_code == 200
    await run_worker()
    assert (await api.get(f"/v1/batch_message/{batch['id']}")).json()["status"] == "COMPLETED"
    sends = (await api.get(f"/v1/batch_message/{batch['id']}/messages", params={"status": "delivered"})).json()
    assert sends["count"] == 1 and sends["data"][0]["message_type"] == "email"
    outbox = (await api.get("/openhero/v1/messaging/outbox")).json()["data"]
    assert outbox[0]["subject"] == "Your flu jab"


async def test_pds_unavailable_is_retried_then_marked(api, tenant, clean, clock, run_worker):
    batch = await create(
        api,
        channel="NHS_APP",
        recipients=[
            {"nhs_number": "9000000068", "dob": "1990-01-01"},
            {"nhs_number": "9000000009", "dob": "2010-10-22"},
        ],
    )
    await api.patch(f"/v1/batch_message/{batch['id']}/send")
    await run_worker()
    page = (await api.get(f"/v1/batch_message/{batch['id']}/recipients")).json()
    assert [r["status"] for r in page["data"]] == ["CREATED", "QUEUED"]
    assert (await api.get(f"/v1/batch_message/{batch['id']}")).json()["status"] == "SENDING"
    for _ in range(2):
        clock.advance(minutes=1)
        await run_worker()
    page = (await api.get(f"/v1/batch_message/{batch['id']}/recipients")).json()
    assert [r["status"] for r in page["data"]] == ["ENRICHMENT_ERROR", "QUEUED"]
    assert "unavailable" in page["data"][0]["error"]
    assert (await api.get(f"/v1/batch_message/{batch['id']}")).json()["status"] == "COMPLETED"


async def test_validation_listing_and_tenancy(api, client, tenant, clean, run_worker):
    r = await api.post(
        "/v1/batch_message",
        json={
            "name": "x",
            "channel": "EMAIL",
            "content": "hi",
            "recipients": [{"nhs_number": "9000000009", "dob": None}],
        },
    )
    assert r.status_code == 400 and r.json()["message"][0]["path"] == ["subject"]
    r = await api.post("/v1/batch_message", json={"name": "x", "channel": "FAX", "content": "hi", "recipients": []})
    assert r.status_code == 400 and r.json()["message"][0]["code"] == "invalid_enum_value"
    r = await api.post("/v1/batch_message", json={"name": "x", "channel": "SMS", "content": "hi", "recipients": []})
    assert r.status_code == 400 and r.json()["message"][0]["code"] == "too_small"
    r = await api.post(
        "/v1/batch_message",
        json={"name": "x", "channel": "SMS", "content": "hi", "recipients": [{"dob": "1990-01-01"}]},
    )
    assert r.status_code == 400 and r.json()["message"][0]["path"] == ["recipients", 0, "nhs_number"]

    a = await create(api, name="A", recipients=[{"nhs_number": "9000000009", "dob": "2010-10-22"}])
    b = await create(api, name="B", recipients=[{"nhs_number": "123", "dob": "2010-10-22"}])
    await api.patch(f"/v1/batch_message/{b['id']}/send")
    await run_worker()
    listed = (await api.get("/v1/batch_message", params={"page_size": "1"})).json()
    assert listed["count"] == 2 and [x["name"] for x in listed["data"]] == ["B"]
    # Hero's docs show a single BatchMessage: the page's first batch is also at the top level.
    assert listed["id"] == b["id"] and listed["name"] == "B" and listed["channel"] == listed["data"][0]["channel"]
    empty = (await api.get("/v1/batch_message", params={"page_index": "5"})).json()
    assert empty["data"] == [] and empty["count"] == 2 and empty["id"] is None
    assert [x["id"] for x in (await api.get("/v1/batch_message", params={"status": "CREATED"})).json()["data"]] == [
        a["id"]
    ]
    assert [
        x["id"] for x in (await api.get("/v1/batch_message", params={"status": "INVALID_PAYLOAD"})).json()["data"]
    ] == [b["id"]]
    assert (await api.get("/v1/batch_message", params={"status": "NOPE"})).status_code == 400
    assert (await api.get(f"/v1/batch_message/{a['id']}/recipients", params={"status": "NOPE"})).status_code == 400
    assert (await api.get("/v1/batch_message", params={"page_size": "500"})).status_code == 400

    other = await make_tenant(clean)
    for path in (
        f"/v1/batch_message/{a['id']}",
        f"/v1/batch_message/{a['id']}/recipients",
        f"/v1/batch_message/{a['id']}/messages",
    ):
        assert (await client.get(path, headers=other.headers)).status_code == 404
    assert (await client.patch(f"/v1/batch_message/{a['id']}/send", headers=other.headers)).status_code == 404
    assert (await client.get("/v1/batch_message", headers=other.headers)).json()["count"] == 0
