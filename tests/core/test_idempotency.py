"""Idempotency keys over the real request stack: replay, reuse, in-use, scoping, 5xx and auth failures."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from openhero.core.idempotency import IdempotencyRecord
from openhero.webhooks.models import Webhook
from tests.builders import make_key, make_tenant


def hook(url: str = "http://127.0.0.1:9/receiver", event_type: str = "appointment.confirmed") -> dict:
    return {"url": url, "event_type": event_type}


async def webhook_count(db) -> int:  # type: ignore[no-untyped-def]
    async with db.session(write=False) as s:
        return int((await s.execute(select(func.count()).select_from(Webhook))).scalar_one())


async def test_repeat_replays_the_stored_answer_and_changes_nothing(api, clean):
    headers = {"Idempotency-Key": "create-hook-1"}
    first = await api.post("/v1/webhooks", json=hook(), headers=headers)
    assert first.status_code in (200, 201), first.text
    assert "idempotent-replayed" not in first.headers
    again = await api.post("/v1/webhooks", json=hook(), headers=headers)
    assert again.status_code == first.status_code
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["content-type"].startswith("application/json")
    assert await webhook_count(clean) == 1
    # Without the header the same body is simply a second request.
    plain = await api.post("/v1/webhooks", json=hook())
    assert plain.status_code == first.status_code and plain.json()["id"] != first.json()["id"]
    assert await webhook_count(clean) == 2


async def test_same_key_different_request_is_409_reused(api, clean):
    headers = {"Idempotency-Key": "k-reused"}
    assert (await api.post("/v1/webhooks", json=hook(), headers=headers)).status_code in (200, 201)
    for method, path, body in (("POST", "/v1/webhooks", hook(event_type="appointment.cancelled")),
                               ("PATCH", "/v1/me", {"name": "Renamed"})):
        r = await api.request(method, path, json=body, headers=headers)
        assert r.status_code == 409, r.text
        err = r.json()
        assert err["error"] is True and err["statusCode"] == 409
        assert err["message"][0]["code"] == "idempotency_key_reused"
        assert err["message"][0]["path"] == ["Idempotency-Key"]
    assert await webhook_count(clean) == 1


async def test_invalid_keys_are_400(api, clean):
    for bad in ("", "x" * 256, "caf\u00e9".encode(), "tab\there"):
        r = await api.post("/v1/webhooks", json=hook(), headers={"Idempotency-Key": bad})
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["message"][0]["path"] == ["Idempotency-Key"]
    assert await webhook_count(clean) == 0
    ok = await api.post("/v1/webhooks", json=hook(), headers={"Idempotency-Key": "x" * 255})
    assert ok.status_code in (200, 201)


async def test_keys_are_scoped_to_the_credential_and_group(client, clean, tenant):
    other = await make_tenant(clean)
    _second_key, second_raw = await make_key(clean, tenant.group)
    key = {"Idempotency-Key": "shared-key"}
    a = await client.post("/v1/webhooks", json=hook(), headers={**tenant.headers, **key})
    b = await client.post("/v1/webhooks", json=hook(), headers={**other.headers, **key})
    c = await client.post("/v1/webhooks", json=hook(),
                          headers={"x-api-key": second_raw, "x-practice-group-id": str(tenant.id), **key})
    for r in (a, b, c):
        assert r.status_code in (200, 201) and "idempotent-replayed" not in r.headers, r.text
    assert len({a.json()["id"], b.json()["id"], c.json()["id"]}) == 3
    # Each owner sees only its own webhook: no cross-tenant replay.
    r = await client.get("/v1/webhooks", headers=other.headers)
    assert [w["id"] for w in r.json()["data"]] == [b.json()["id"]]


async def test_failed_authentication_is_not_stored(client, clean, tenant):
    key = {"Idempotency-Key": "after-401"}
    bad = await client.post("/v1/webhooks", json=hook(),
                            headers={"x-api-key": "ohk_nottherightkeyatall000000000", "x-practice-group-id": "1",
                                     **key})
    assert bad.status_code == 401
    async with clean.session(write=False) as s:
        assert (await s.execute(select(func.count()).select_from(IdempotencyRecord))).scalar_one() == 0
    good = await client.post("/v1/webhooks", json=hook(), headers={**tenant.headers, **key})
    assert good.status_code in (200, 201) and "idempotent-replayed" not in good.headers


async def test_client_errors_are_stored_and_replayed(api, clean):
    key = {"Idempotency-Key": "bad-body"}
    first = await api.post("/v1/webhooks", json={"url": "not a url", "event_type": "appointment.confirmed"},
                           headers=key)
    assert first.status_code == 400
    again = await api.post("/v1/webhooks", json={"url": "not a url", "event_type": "appointment.confirmed"},
                           headers=key)
    assert again.status_code == 400 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()


async def test_keys_expire_after_24_hours(api, clean, clock):
    key = {"Idempotency-Key": "daily"}
    first = await api.post("/v1/webhooks", json=hook(), headers=key)
    clock.advance(hours=23, minutes=59)
    assert (await api.post("/v1/webhooks", json=hook(), headers=key)).headers.get("idempotent-replayed") == "true"
    clock.advance(timedelta(minutes=2))
    later = await api.post("/v1/webhooks", json=hook(), headers=key)
    assert later.status_code == first.status_code and "idempotent-replayed" not in later.headers
    assert later.json()["id"] != first.json()["id"]
    assert await webhook_count(clean) == 2


async def test_replay_refused_once_the_key_is_revoked(api, clean, tenant):
    from openhero.practice import keys as key_service

    key = {"Idempotency-Key": "before-revoke"}
    assert (await api.post("/v1/webhooks", json=hook(), headers=key)).status_code in (200, 201)
    async with clean.session() as s:
        await key_service.revoke_key(s, tenant.key.id)
        await s.commit()
    r = await api.post("/v1/webhooks", json=hook(), headers=key)
    assert r.status_code == 401 and "idempotent-replayed" not in r.headers


async def test_concurrent_requests_with_one_key_create_one_row(live_server, clean, tenant):
    key = {"Idempotency-Key": "race-1", **tenant.headers}
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        answers = await asyncio.gather(*(http.post("/v1/webhooks", json=hook(), headers=key) for _ in range(12)))
    statuses = sorted(r.status_code for r in answers)
    assert await webhook_count(clean) == 1, statuses
    created = [r for r in answers if r.status_code in (200, 201)]
    assert created, statuses
    assert len({r.json()["id"] for r in created}) == 1
    assert sum("idempotent-replayed" not in r.headers for r in created) == 1
    for r in answers:
        if r.status_code == 409:
            assert r.json()["message"][0]["code"] == "idempotency_key_in_use"
        else:
            assert r.status_code in (200, 201), r.text
    # Once the first has finished, every repeat is a replay.
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        r = await http.post("/v1/webhooks", json=hook(), headers=key)
    assert r.headers["idempotent-replayed"] == "true" and r.json()["id"] == created[0].json()["id"]
