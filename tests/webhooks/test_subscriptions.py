"""Subscription CRUD, validation, tenancy and signing keys at rest."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from openhero.webhooks import signing
from openhero.webhooks.models import Webhook
from tests.builders import make_tenant
from tests.conftest import TEST_SECRET
from tests.webhooks.conftest import create_hook

KEY = "whsec_test_0123456789abcdef"


async def test_crud_round_trip(api, clean):
    created = await create_hook(
        api,
        "https://partner.example/hooks?x=1",
        signing_key=KEY,
        description="bookings",
        headers={"Authorization": "Bearer abc"},
    )
    assert created["id"].isdigit()
    assert created["event_type"] == "appointment.confirmed"
    assert created["url"] == "https://partner.example/hooks?x=1"
    assert created["signing_key"] == "****cdef"  # a hint, never the key
    assert created["headers"] == {"Authorization": "Bearer abc"}
    assert created["created_at"].endswith("Z")
    other = await create_hook(api, "http://127.0.0.1:9/x", event_type="appointment.cancelled")
    assert other["signing_key"] is None

    r = await api.get(f"/v1/webhooks/{created['id']}")
    assert r.status_code == 200 and r.json() == created

    r = await api.get("/v1/webhooks")
    assert r.json()["count"] == 2 and [w["id"] for w in r.json()["data"]] == [created["id"], other["id"]]
    r = await api.get("/v1/webhooks", params={"event_type": "appointment.cancelled"})
    assert r.json()["count"] == 1 and r.json()["data"][0]["id"] == other["id"]
    r = await api.get("/v1/webhooks", params={"page_size": 1, "page_index": 1})
    assert r.json()["count"] == 2 and [w["id"] for w in r.json()["data"]] == [other["id"]]

    r = await api.patch(
        f"/v1/webhooks/{created['id']}",
        json={"url": "https://new.example/h", "signing_key": None, "headers": {"X-Partner": "1"}},
    )
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["url"] == "https://new.example/h" and patched["signing_key"] is None
    assert patched["headers"] == {"X-Partner": "1"} and patched["description"] == "bookings"
    assert patched["event_type"] == "appointment.confirmed"

    r = await api.delete(f"/v1/webhooks/{created['id']}")
    assert r.status_code == 200 and r.json()["id"] == created["id"]
    assert (await api.get(f"/v1/webhooks/{created['id']}")).status_code == 404
    assert (await api.delete(f"/v1/webhooks/{created['id']}")).status_code == 404
    assert (await api.get("/v1/webhooks")).json()["count"] == 1


BAD_BODIES = [
    ({"url": "https://x.example/h"}, ["event_type"]),
    ({"event_type": "appointment.booked", "url": "https://x.example/h"}, ["event_type"]),
    ({"event_type": "appointment.confirmed"}, ["url"]),
    ({"event_type": "appointment.confirmed", "url": "ftp://x.example/h"}, ["url"]),
    ({"event_type": "appointment.confirmed", "url": "/relative/path"}, ["url"]),
    ({"event_type": "appointment.confirmed", "url": "https://"}, ["url"]),
    ({"event_type": "appointment.confirmed", "url": "https://x.example:99999/"}, ["url"]),
    (
        {
            "event_type": "appointment.confirmed",
            "url": "https://x.example/h",
            "headers": {"Content-Type": "text/xml"},
        },
        ["headers", "Content-Type"],
    ),
    (
        {
            "event_type": "appointment.confirmed",
            "url": "https://x.example/h",
            "headers": {"X-Herohealth-Signature": "forged"},
        },
        ["headers", "X-Herohealth-Signature"],
    ),
    (
        {
            "event_type": "appointment.confirmed",
            "url": "https://x.example/h",
            "headers": {"X-A": "a\r\nB: b"},
        },
        ["headers", "X-A"],
    ),
    (
        {
            "event_type": "appointment.confirmed",
            "url": "https://x.example/h",
            "headers": {"Bad Name": "v"},
        },
        ["headers", "Bad Name"],
    ),
    (
        {"event_type": "appointment.confirmed", "url": "https://x.example/h", "headers": {"X-A": 5}},
        ["headers", "X-A"],
    ),
    (
        {"event_type": "appointment.confirmed", "url": "https://x.example/h", "headers": {"X-A": "price \u20ac5"}},
        ["headers", "X-A"],
    ),
]


async def test_create_rejects_bad_input(api, clean):
    for body, path in BAD_BODIES:
        r = await api.post("/v1/webhooks", json=body)
        assert r.status_code == 400, (body, r.text)
        err = r.json()
        assert err["error"] is True and err["statusCode"] == 400
        assert err["message"][0]["path"] == path, body
    assert (await api.get("/v1/webhooks")).json()["count"] == 0


async def test_update_and_list_reject_bad_input_without_losing_data(api, clean):
    hook = await create_hook(api, "https://x.example/h", signing_key=KEY)
    for body in (
        {"url": "mailto:a@b.c"},
        {"url": None},
        {"event_type": "nope"},
        {"event_type": None},
        {"headers": {"Host": "evil"}},
    ):
        r = await api.patch(f"/v1/webhooks/{hook['id']}", json=body)
        assert r.status_code == 400, (body, r.text)
    assert (await api.get(f"/v1/webhooks/{hook['id']}")).json() == hook
    r = await api.get("/v1/webhooks", params={"event_type": "appointment.booked"})
    assert r.status_code == 400 and r.json()["message"][0]["path"] == ["event_type"]
    assert (await api.get("/v1/webhooks", params={"page_size": 101})).status_code == 400


async def test_other_practice_groups_subscriptions_are_invisible(api, client, clean):
    mine = await create_hook(api, "https://mine.example/h")
    other = await make_tenant(clean)
    theirs = await client.post(
        "/v1/webhooks",
        headers=other.headers,
        json={"event_type": "appointment.confirmed", "url": "https://theirs.example/h"},
    )
    theirs_id = theirs.json()["id"]
    for method, path in (
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("GET", "/deliveries"),
        ("POST", "/test"),
    ):
        kwargs = {"json": {"url": "https://hijack.example"}} if method == "PATCH" else {}
        r = await api.request(method, f"/v1/webhooks/{theirs_id}{path}", **kwargs)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["message"][0]["code"] == "not_found"
    assert (await api.get("/v1/webhooks/abc")).status_code == 404
    listed = (await api.get("/v1/webhooks")).json()
    assert [w["id"] for w in listed["data"]] == [mine["id"]]
    r = await client.get(f"/v1/webhooks/{theirs_id}", headers=other.headers)
    assert r.json()["url"] == "https://theirs.example/h"


async def test_unauthenticated_requests_are_refused(client, clean):
    r = await client.get("/v1/webhooks")
    assert r.status_code == 401


async def test_signing_key_is_encrypted_at_rest(api, clean):
    hook = await create_hook(api, "https://x.example/h", signing_key=KEY)
    async with clean.session() as s:
        stored = (await s.execute(select(Webhook).where(Webhook.id == int(hook["id"])))).scalar_one()
    assert KEY not in (stored.signing_key_encrypted or "")
    assert signing.decrypt_key(TEST_SECRET, stored.signing_key_encrypted) == KEY.encode()
    with pytest.raises(ValueError):
        signing.decrypt_key("another-secret-" + "y" * 40, stored.signing_key_encrypted)
