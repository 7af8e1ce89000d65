"""The SMTP provider against a real SMTP server, and the Notify provider (notifications-python-client)
against a loopback fake of GOV.UK Notify's HTTP API."""

from __future__ import annotations

import pytest

from tests.builders import make_patient
from tests.conftest import free_port
from tests.messaging.conftest import EMAIL_TEMPLATE, SMS_TEMPLATE, notify_settings

pytestmark = pytest.mark.asyncio


async def send(api, patient_id, message_type, **fields):  # type: ignore[no-untyped-def]
    r = await api.post(
        "/v1/messages/send",
        json={
            "patient_id": str(patient_id),
            "message_type": message_type,
            "message_string": "Your annual asthma review is due. Please book online.",
            **fields,
        },
    )
    assert r.status_code == 200, r.text
    return r.json()["message_id"]


async def test_email_is_delivered_to_a_real_smtp_server(api, tenant, clean, clock, run_worker, smtp_server):
    patient = await make_patient(clean, tenant.id, email="asthma.patient@example.com")
    delivered = await send(api, patient.id, "email")
    rejected = await send(api, patient.id, "email", recipient_contact_detail="nobody@rejected.test")
    await run_worker(
        email_provider="smtp", smtp_host="127.0.0.1", smtp_port=smtp_server.port, smtp_from="surgery@openhero.test"
    )
    assert len(smtp_server.messages) == 1
    mail = smtp_server.messages[0]
    assert mail["To"] == "asthma.patient@example.com" and mail["From"] == "surgery@openhero.test"
    assert mail["X-Openhero-Message-Id"] == delivered
    assert "annual asthma review" in mail.get_payload(decode=True).decode()
    assert smtp_server.envelopes == [("surgery@openhero.test", ["asthma.patient@example.com"])]
    got = (await api.get(f"/v1/messages/{delivered}")).json()
    assert got["status"] == "delivered"
    refused = (await api.get(f"/v1/messages/{rejected}")).json()
    assert refused["status"] == "failed" and "550" in refused["failure_reason"]

    # The SMTP server being down leaves the message queued; it goes once the server is back.
    later = await send(api, patient.id, "email")
    await run_worker(email_provider="smtp", smtp_port=free_port())
    assert (await api.get(f"/v1/messages/{later}")).json()["status"] == "queued"
    clock.advance(minutes=5)
    await run_worker(email_provider="smtp", smtp_port=smtp_server.port)
    assert (await api.get(f"/v1/messages/{later}")).json()["status"] == "delivered"
    assert len(smtp_server.messages) == 2


async def test_notify_sms_and_email_progress_sent_then_delivered_or_failed(
    api, tenant, clean, clock, run_worker, notify_fake
):
    patient = await make_patient(clean, tenant.id, mobile="07700900111", email="notify.patient@example.com")
    sms = await send(api, patient.id, "sms")
    email = await send(api, patient.id, "email")
    overrides = notify_settings(notify_fake)
    await run_worker(**overrides)
    assert notify_fake.unauthorised == 0
    by_type = {n["type"]: n for n in notify_fake.sent}
    assert by_type["sms"]["phone_number"] == "07700900111" and by_type["sms"]["template_id"] == SMS_TEMPLATE
    assert by_type["sms"]["personalisation"]["body"].startswith("Your annual asthma review")
    assert by_type["sms"]["reference"] == f"openhero-message-{sms}"
    assert by_type["email"]["email_address"] == "notify.patient@example.com"
    assert by_type["email"]["template_id"] == EMAIL_TEMPLATE and by_type["email"]["personalisation"]["subject"]
    for message_id in (sms, email):
        assert (await api.get(f"/v1/messages/{message_id}")).json()["status"] == "sent"

    clock.advance(minutes=5)
    await run_worker(**overrides)  # Notify still says "sending": checked again later
    assert (await api.get(f"/v1/messages/{sms}")).json()["status"] == "sent"

    notify_fake.statuses[by_type["sms"]["id"]] = "delivered"
    notify_fake.statuses[by_type["email"]["id"]] = "permanent-failure"
    clock.advance(minutes=5)
    await run_worker(**overrides)
    assert (await api.get(f"/v1/messages/{sms}")).json()["status"] == "delivered"
    failed = (await api.get(f"/v1/messages/{email}")).json()
    assert failed["status"] == "failed" and "does not exist" in failed["failure_reason"]

    # Notify refusing the request (400) fails the message with Notify's reason.
    refused = await send(api, patient.id, "sms")
    await run_worker(**{**overrides, "notify_sms_template_id": "wrong-template"})
    got = (await api.get(f"/v1/messages/{refused}")).json()
    assert got["status"] == "failed" and "Template not found" in got["failure_reason"]
