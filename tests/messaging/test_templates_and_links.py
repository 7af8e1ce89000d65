"""Templates, automated messages (from the demo seed), attachment links and the outbox CLI."""

from __future__ import annotations

import asyncio
import base64

import pytest
from typer.testing import CliRunner

from openhero.messaging.demo import seed_demo_messaging
from tests.builders import make_patient, make_tenant

pytestmark = pytest.mark.asyncio


async def test_templates_and_automated_messages(api, client, tenant, clean, clock):
    async with clean.session() as session:
        await seed_demo_messaging(session, tenant.id, clock.now())
        await session.commit()
    listed = (await api.get("/v1/templates")).json()
    assert listed["count"] == 7 and "Flu clinic invitation" in {t["name"] for t in listed["data"]}
    follow = (await api.get("/v1/templates", params={"has_follow_up": "true"})).json()
    assert {t["name"] for t in follow["data"]} == {"Flu clinic invitation", "Annual asthma review"}
    assert all(t["has_follow_up"] and t["follow_up_template_id"] for t in follow["data"])
    assert (await api.get("/v1/templates", params={"has_follow_up": "false"})).json()["count"] == 5
    assert (await api.get("/v1/templates", params={"has_follow_up": "maybe"})).status_code == 400

    other = await make_tenant(clean)
    assert (await client.get("/v1/templates", headers=other.headers)).json()["count"] == 0
    from openhero.messaging.models import AutomatedMessage
    from tests.messaging.builders import rows

    automated = (await rows(clean, AutomatedMessage))[0]
    got = (await api.get(f"/v2/automated_messages/{automated.id}")).json()
    assert got["name"] == automated.name and got["template"]["name"] == "Appointment reminder"
    assert got["offset_minutes"] == -1440 and got["active"] is True
    assert (await client.get(f"/v2/automated_messages/{automated.id}", headers=other.headers)).status_code == 404
    assert (await api.get("/v2/automated_messages/999999")).status_code == 404


async def test_attachment_links_serve_the_file_within_their_limits(api, client, tenant, clean, clock):
    patient = await make_patient(clean, tenant.id)
    pdf = b"%PDF-1.4 discharge letter"
    r = await api.post(
        "/v1/attachment_links",
        json={
            "file_data": base64.b64encode(pdf).decode(),
            "file_name": "discharge-letter.pdf",
            "patient_id": str(patient.id),
            "maximum_use_count": 1,
            "expiry_date": clock.now().date().isoformat(),
        },
    )
    assert r.status_code == 200, r.text
    link = r.json()
    assert link["attachment_link"].endswith(f"/attachments/{link['attachment_uuid']}")
    path = f"/attachments/{link['attachment_uuid']}"
    first = await client.get(path)
    assert first.status_code == 200 and first.content == pdf
    assert first.headers["content-type"] == "application/pdf"
    assert (await client.get(path)).status_code == 404  # used up

    data_url = "data:text/plain;base64," + base64.b64encode(b"hello").decode()
    expiring = (await api.post("/v1/attachment_links", json={"file_data": data_url})).json()
    assert (await client.get(f"/attachments/{expiring['attachment_uuid']}")).content == b"hello"

    bad = [
        ({"file_data": "***not base64***"}, ["file_data"]),
        ({}, ["file_data"]),
        ({"file_data": "aGk=", "ehr_file_id": "1"}, ["file_data"]),
        ({"ehr_file_id": "424242"}, ["ehr_file_id"]),
        ({"file_data": "aGk=", "expiry_date": "2001-01-01"}, ["expiry_date"]),
        ({"file_data": "aGk=", "maximum_use_count": 0}, ["maximum_use_count"]),
    ]
    for body, field in bad:
        r = await api.post("/v1/attachment_links", json=body)
        assert r.status_code == 400 and r.json()["message"][0]["path"] == field, (body, r.text)
    other = await make_tenant(clean)
    theirs = await make_patient(clean, other.id)
    r = await api.post("/v1/attachment_links", json={"file_data": "aGk=", "patient_id": str(theirs.id)})
    assert r.status_code == 404


async def test_outbox_cli_lists_sandbox_messages(api, tenant, clean, run_worker, database_url, monkeypatch):
    patient = await make_patient(clean, tenant.id)
    await api.post(
        "/v1/messages/send",
        json={
            "patient_id": str(patient.id),
            "message_type": "email",
            "message_string": "Your prescription is ready to collect.",
        },
    )
    await run_worker()
    from openhero.cli import app
    from openhero.settings import get_settings

    monkeypatch.setenv("OPENHERO_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        # The command runs its own event loop (asyncio.run), so it runs in a thread here.
        result = await asyncio.to_thread(CliRunner().invoke, app, ["messaging", "outbox", "-g", str(tenant.id)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "prescription is ready" in result.output and patient.email in result.output
