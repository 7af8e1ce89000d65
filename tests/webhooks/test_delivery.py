"""Deliveries to a real loopback receiver: payload, signature, retries, give-up, deletion, tenancy."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from sqlalchemy import func, select

from openhero.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from tests.builders import make_tenant
from tests.webhooks.conftest import create_hook, emit_events

KEY = "whsec_partner_secret_1234567890"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """A receiver's check, written from the documented scheme only."""
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


async def test_booking_confirmation_is_delivered_signed(api, tenant, receiver, worker, clean, clock):
    await create_hook(api, f"{receiver.url}/hero", signing_key=KEY, headers={"Authorization": "Bearer partner"})
    await create_hook(api, f"{receiver.url}/cancelled", event_type="appointment.cancelled")
    # What booking writes when an appointment is confirmed.
    await emit_events(
        clean, tenant.id, event_type="appointment.confirmed", object_type="Appointment", first_id=4321, now=clock.now()
    )
    await worker.drain()

    assert len(receiver.requests) == 1 and receiver.requests[0].path == "/hero"
    got = receiver.requests[0]
    assert (
        got.body == b'{"object":"Appointment","id":"4321","practice_group_id":"%d",'
        b'"event":"appointment.confirmed"}' % tenant.id
    )
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-herohealth-timestamp"] == str(int(clock.now().timestamp()))
    assert got.headers["authorization"] == "Bearer partner"
    assert verify(KEY, got.headers["x-herohealth-timestamp"], got.body, got.headers["x-herohealth-signature"])
    assert not verify(
        KEY,
        got.headers["x-herohealth-timestamp"],
        got.body.replace(b"4321", b"4322"),
        got.headers["x-herohealth-signature"],
    ), "a tampered body must fail verification"
    assert not verify(
        KEY, str(int(got.headers["x-herohealth-timestamp"]) + 1), got.body, got.headers["x-herohealth-signature"]
    )
    assert not verify(
        "wrong-key", got.headers["x-herohealth-timestamp"], got.body, got.headers["x-herohealth-signature"]
    )

    hook_id = (await api.get("/v1/webhooks", params={"event_type": "appointment.confirmed"})).json()["data"][0]["id"]
    log = (await api.get(f"/v1/webhooks/{hook_id}/deliveries")).json()
    assert log["count"] == 1
    entry = log["data"][0]
    assert entry["id"] == got.delivery_id and entry["status"] == "delivered"
    assert entry["payload"] == got.json and entry["attempt_count"] == 1
    # The receiver is on loopback (allowed in sandbox mode), so its answer is not copied into the log.
    assert entry["attempts"][0]["status_code"] == 200 and entry["attempts"][0]["response_snippet"] is None
    assert await worker.drain() == 0  # nothing sent twice


async def test_unsigned_subscription_sends_no_signature(api, tenant, receiver, worker, clean, clock):
    await create_hook(api, receiver.url + "/plain")
    await emit_events(clean, tenant.id, now=clock.now())
    await worker.drain()
    (got,) = receiver.requests
    assert "x-herohealth-signature" not in got.headers and got.headers["x-herohealth-timestamp"]


async def test_failing_receiver_is_retried_until_it_succeeds(api, tenant, receiver, worker, clean, clock):
    hook = await create_hook(api, receiver.url + "/flaky", signing_key=KEY)
    receiver.statuses.extend([500, 503])
    await emit_events(clean, tenant.id, now=clock.now())
    await worker.drain()
    assert len(receiver.requests) == 1
    await worker.drain()
    assert len(receiver.requests) == 1, "the retry waits for its backoff"
    for _ in range(2):
        clock.advance(hours=1)
        await worker.drain()
    assert len(receiver.requests) == 3
    assert len({r.delivery_id for r in receiver.requests}) == 1
    assert all(
        verify(KEY, r.headers["x-herohealth-timestamp"], r.body, r.headers["x-herohealth-signature"])
        for r in receiver.requests
    )
    entry = (await api.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["data"][0]
    assert entry["status"] == "delivered" and entry["attempt_count"] == 3
    assert [a["status_code"] for a in entry["attempts"]] == [500, 503, 200]
    assert [a["number"] for a in entry["attempts"]] == [1, 2, 3]
    assert entry["attempts"][0]["error"] == "HTTP 500" and entry["attempts"][2]["error"] is None
    clock.advance(hours=2)
    assert await worker.drain() == 0 and len(receiver.requests) == 3


async def test_gives_up_after_the_retry_window(api, tenant, receiver, worker, clean, clock):
    hook = await create_hook(api, receiver.url + "/down")
    receiver.default_status = 500
    start = clock.now()
    await emit_events(clean, tenant.id, now=start)
    for _ in range(8):
        await worker.drain()
        clock.advance(hours=4)
    failed = (await api.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"status": "failed"})).json()
    assert failed["count"] == 1
    entry = failed["data"][0]
    assert entry["attempt_count"] == len(receiver.requests) >= 7
    last = max(a["started_at"] for a in entry["attempts"])
    assert last == entry["retry_until"], "the last attempt is made when the 24-hour window closes"
    sent = len(receiver.requests)
    clock.advance(days=3)
    await worker.drain()
    assert len(receiver.requests) == sent
    assert (await api.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"status": "bogus"})).status_code == 400


async def test_connection_errors_are_recorded_and_retried(api, tenant, worker, clean, clock):
    from tests.conftest import free_port

    hook = await create_hook(api, f"http://127.0.0.1:{free_port()}/nobody-listens")
    await emit_events(clean, tenant.id, now=clock.now())
    await worker.drain()
    entry = (await api.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["data"][0]
    assert entry["status"] == "pending" and entry["last_status_code"] is None
    assert "Connect" in entry["attempts"][0]["error"]
    assert entry["next_attempt_at"] > clock.now().isoformat()[:19]


async def test_slow_receiver_times_out(api, tenant, receiver, worker, clean, clock, monkeypatch):
    from openhero.webhooks import delivery

    monkeypatch.setattr(delivery, "TIMEOUT", 0.05)
    receiver.delay = 0.5
    hook = await create_hook(api, receiver.url + "/slow")
    await emit_events(clean, tenant.id, now=clock.now())
    await worker.drain()
    entry = (await api.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["data"][0]
    assert entry["status"] == "pending" and entry["attempts"][0]["error"].startswith("timed out")


async def test_no_delivery_after_delete(api, tenant, receiver, worker, clean, clock):
    queued = await create_hook(api, receiver.url + "/queued")
    gone = await create_hook(api, receiver.url + "/gone")
    await api.delete(f"/v1/webhooks/{gone['id']}")
    await emit_events(clean, tenant.id, now=clock.now())
    # Fan out only (no send yet), then delete the subscription holding a queued delivery.
    from openhero.webhooks.jobs import dispatch_webhook_events

    assert await dispatch_webhook_events(worker.ctx) == 1
    await api.delete(f"/v1/webhooks/{queued['id']}")
    await worker.drain()
    clock.advance(days=2)
    await worker.drain()
    assert receiver.requests == []
    async with clean.session() as s:
        rows = (await s.execute(select(WebhookDelivery))).scalars().all()
    assert [(r.webhook_id, r.status) for r in rows] == [(int(queued["id"]), DeliveryStatus.CANCELLED)]
    assert (await api.get(f"/v1/webhooks/{queued['id']}/deliveries")).json()["count"] == 1


async def test_other_practice_groups_events_are_never_delivered(api, client, tenant, receiver, worker, clean, clock):
    await create_hook(api, receiver.url + "/mine")
    other = await make_tenant(clean)
    r = await client.post(
        "/v1/webhooks",
        headers=other.headers,
        json={"event_type": "appointment.confirmed", "url": receiver.url + "/theirs"},
    )
    assert r.status_code == 200
    await emit_events(clean, other.id, 3, first_id=1, now=clock.now())
    await emit_events(clean, tenant.id, 2, first_id=100, now=clock.now())
    await emit_events(clean, tenant.id, 1, event_type="appointment.cancelled", first_id=200, now=clock.now())
    await worker.drain()
    assert sorted(r.json["id"] for r in receiver.at("/mine")) == ["100", "101"]
    assert {r.json["practice_group_id"] for r in receiver.at("/mine")} == {str(tenant.id)}
    assert sorted(r.json["id"] for r in receiver.at("/theirs")) == ["1", "2", "3"]
    assert {r.json["practice_group_id"] for r in receiver.at("/theirs")} == {str(other.id)}


async def test_test_send_is_signed_sample(api, tenant, receiver, worker, clean, clock):
    hook = await create_hook(api, receiver.url + "/t", signing_key=KEY, event_type="patient.medical-record-updated")
    r = await api.post(f"/v1/webhooks/{hook['id']}/test")
    assert r.status_code == 200 and r.json()["status"] == "pending" and r.json()["test"] is True
    await worker.drain()
    (got,) = receiver.requests
    assert got.json == {
        "object": "Patient",
        "id": "0",
        "practice_group_id": str(tenant.id),
        "event": "patient.medical-record-updated",
    }
    assert got.headers["x-openhero-test"] == "true"
    assert verify(KEY, got.headers["x-herohealth-timestamp"], got.body, got.headers["x-herohealth-signature"])


async def test_an_expired_lease_is_sent_again(api, tenant, receiver, worker, clean, clock, settings):
    """A worker that claimed a delivery and died: its lease expires and another worker sends it."""
    from openhero.webhooks import queue
    from openhero.webhooks.jobs import dispatch_webhook_events

    await create_hook(api, receiver.url + "/lease")
    await emit_events(clean, tenant.id, now=clock.now())
    await dispatch_webhook_events(worker.ctx)
    async with clean.session() as s:
        (claimed,) = await queue.claim_deliveries(
            s,
            worker_id="dead-worker",
            now=clock.now(),
            lease=timedelta(seconds=60),
            limit=10,
            postgres=clean.is_postgres,
        )
        await s.commit()
    await worker.drain()
    assert receiver.requests == [], "a live lease is respected"
    clock.advance(seconds=61)
    await worker.drain()
    (got,) = receiver.requests
    assert got.delivery_id == str(claimed.id) and got.headers["x-openhero-delivery-attempt"] == "2"
    async with clean.session() as s:
        delivery = await s.get(WebhookDelivery, claimed.id)
        attempts = (await s.execute(select(func.count()).select_from(WebhookAttempt))).scalar_one()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.locked_by is None and attempts == 1
