"""GOV.UK Notify's edges: message length limits answered at acceptance (400 naming the field) rather than
as a later failure, 'sent' as a final status (international SMS), and Notify's JWT authentication -
against the loopback fake, which enforces the same limits and authentication as Notify."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from openhero.core.jobs import Job
from openhero.messaging.limits import SMS_MAX_CHARACTERS
from openhero.messaging.providers import Outgoing
from openhero.messaging.providers.notify import NotifyProvider
from tests.builders import make_patient
from tests.messaging.conftest import NOTIFY_KEY, SECRET, SERVICE_ID, notify_settings

pytestmark = pytest.mark.asyncio


async def send(api, patient_id, message_type: str, text: str, **fields: Any):  # type: ignore[no-untyped-def]
    return await api.post("/v1/messages/send", json={"patient_id": str(patient_id), "message_type": message_type,
                                                     "message_string": text, **fields})


def assert_too_big(r, path: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] is True and body["statusCode"] == 400
    item = body["message"][0]
    assert item["code"] == "too_big" and item["path"] == path and "918" in item["expected"]


async def test_sms_over_918_characters_is_refused_at_send_and_batch_creation(
    api, tenant, clean, run_worker, notify_fake
):
    patient = await make_patient(clean, tenant.id, mobile="07700900111", email="p@example.com",
                                 nhs_number="9000000009")
    assert_too_big(await send(api, patient.id, "sms", "a" * (SMS_MAX_CHARACTERS + 1)), ["message_string"])
    # An NHS App message whose SMS fallback would be too long is refused too.
    assert_too_big(await send(api, patient.id, "nhs_app", "b" * 1000, fallback_message_type="sms",
                              fallback_contact_detail="07700900111"), ["message_string"])
    r = await api.post("/v1/batch_message", json={"name": "Flu clinic", "channel": "SMS", "content": "c" * 919,
                                                  "recipients": [{"nhs_number": "9000000009", "dob": "1980-01-01"}]})
    assert_too_big(r, ["content"])
    # Email has no such limit below message_string's own cap, and 918 characters (plus surrounding
    # whitespace, which Notify trims) is a valid SMS that Notify accepts.
    assert (await send(api, patient.id, "email", "d" * 5000)).status_code == 200
    r = await send(api, patient.id, "sms", "  " + "é" * SMS_MAX_CHARACTERS + "\n")
    assert r.status_code == 200, r.text
    await run_worker(**notify_settings(notify_fake))
    message = (await api.get(f"/v1/messages/{r.json()['message_id']}")).json()
    assert message["status"] == "sent", message
    assert len(notify_fake.sent) == 2


async def test_the_fake_enforces_notifys_limit_and_the_provider_reports_it(notify_fake, settings):
    """A body that bypassed openhero's check (older rows, another caller) fails with Notify's reason."""
    provider = NotifyProvider(settings.model_copy(update=notify_settings(notify_fake)))
    too_long = Outgoing(message_id=1, practice_group_id=1, channel="sms", recipient="07700900111", subject=None,
                        body="x" * (SMS_MAX_CHARACTERS + 1))
    result = await provider.send(too_long)
    assert result.status == "failed"
    assert "Text messages cannot be longer than 918 characters" in (result.failure_reason or "")
    assert notify_fake.sent == []


async def test_sent_to_an_international_number_is_final(api, tenant, clean, clock, run_worker, notify_fake):
    patient = await make_patient(clean, tenant.id, mobile="+33 6 12 34 56 78")
    message_id = (await send(api, patient.id, "sms", "Your results are ready.")).json()["message_id"]
    overrides = notify_settings(notify_fake)
    await run_worker(**overrides)
    [notification] = notify_fake.sent
    notify_fake.statuses[notification["id"]] = "sent"  # handed to a network that gives no receipt
    clock.advance(minutes=5)
    await run_worker(**overrides)
    assert (await api.get(f"/v1/messages/{message_id}")).json()["status"] == "sent"
    async with clean.session(write=False) as session:
        checks = (await session.execute(select(Job).where(Job.kind == "messaging.check_status"))).scalars().all()
    assert [j.status for j in checks] == ["done"]  # not polled again for 75 hours


async def test_notify_authentication_is_enforced_and_refusals_are_retried(
    api, tenant, clean, clock, run_worker, notify_fake
):
    patient = await make_patient(clean, tenant.id, mobile="07700900222")
    message_id = (await send(api, patient.id, "sms", "Reminder")).json()["message_id"]
    overrides = notify_settings(notify_fake)

    wrong_secret = f"openhero_test-{SERVICE_ID}-{'0' * 8}-{SECRET[9:]}"
    await run_worker(**{**overrides, "notify_api_key": wrong_secret})
    assert notify_fake.unauthorised == 1 and notify_fake.sent == []
    assert (await api.get(f"/v1/messages/{message_id}")).json()["status"] == "queued"

    notify_fake.clock_skew = 120  # our clock two minutes behind Notify's: the token is refused
    clock.advance(minutes=2)
    await run_worker(**overrides)
    assert notify_fake.unauthorised == 2 and notify_fake.sent == []
    assert (await api.get(f"/v1/messages/{message_id}")).json()["status"] == "queued"

    notify_fake.clock_skew = 0
    clock.advance(minutes=5)
    await run_worker(**{**overrides, "notify_api_key": NOTIFY_KEY})
    assert (await api.get(f"/v1/messages/{message_id}")).json()["status"] == "sent"
    assert notify_fake.unauthorised == 2 and len(notify_fake.sent) == 1
