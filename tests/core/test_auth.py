"""Each authentication and tenancy outcome (NOTES.md "Requests, tenancy, keys")."""

from datetime import timedelta

import httpx
import pytest

from openhero.app import create_app
from openhero.practice import keys as key_service
from tests.builders import make_key, make_network, make_practice_group, make_tenant


def assert_error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] is True and body["statusCode"] == status
    assert body["message"][0]["code"] == code
    assert set(body["message"][0]) >= {"code", "expected", "path"}
    return body


async def test_missing_key_is_401(client, tenant):
    r = await client.get("/v1/me", headers={"x-practice-group-id": str(tenant.id)})
    assert_error(r, 401, "unauthorised")


async def test_unknown_key_is_401(client, tenant):
    forged = tenant.raw_key[:-4] + ("AAAA" if not tenant.raw_key.endswith("AAAA") else "BBBB")
    r = await client.get("/v1/me", headers={"x-api-key": forged, "x-practice-group-id": str(tenant.id)})
    assert_error(r, 401, "unauthorised")


@pytest.mark.parametrize("group", [None, "", "abc", "12x", "-1"])
async def test_missing_or_malformed_group_header_is_401(client, tenant, group):
    headers = {"x-api-key": tenant.raw_key}
    if group is not None:
        headers["x-practice-group-id"] = group
    body = assert_error(await client.get("/v1/me", headers=headers), 401, "unauthorised")
    assert body["message"][0]["path"] == ["x-practice-group-id"]


async def test_group_outside_network_is_403(client, clean, tenant):
    other = await make_practice_group(clean)
    r = await client.get("/v1/me", headers={"x-api-key": tenant.raw_key, "x-practice-group-id": str(other.id)})
    assert_error(r, 403, "forbidden")


async def test_unknown_group_is_403_not_a_leak(client, tenant):
    r = await client.get("/v1/me", headers={"x-api-key": tenant.raw_key, "x-practice-group-id": "999999"})
    assert_error(r, 403, "forbidden")


async def test_cross_org_inside_network_acts_on_named_group(client, clean):
    network = await make_network(clean)
    hub = await make_tenant(clean, network_id=network.id)
    member = await make_practice_group(clean, network_id=network.id, name="Member Practice")
    outsider_network = await make_network(clean)
    outsider = await make_practice_group(clean, network_id=outsider_network.id)
    r = await client.get("/v1/me", headers={"x-api-key": hub.raw_key, "x-practice-group-id": str(member.id)})
    assert r.status_code == 200
    assert r.json()["id"] == str(member.id) and r.json()["name"] == "Member Practice"
    r = await client.get("/v1/me", headers={"x-api-key": hub.raw_key, "x-practice-group-id": str(outsider.id)})
    assert_error(r, 403, "forbidden")


async def test_missing_scope_is_403_and_scope_grants(client, clean):
    messaging_only = await make_tenant(clean, scopes=["messaging"])
    r = await client.get("/v1/locations", headers=messaging_only.headers)
    body = assert_error(r, 403, "forbidden")
    assert "booking" in body["message"][0]["expected"]
    booking = await make_tenant(clean, scopes=["booking"])
    assert (await client.get("/v1/locations", headers=booking.headers)).status_code == 200
    # Practice group, tasks and admins take any valid key, even one with no scopes.
    bare = await make_tenant(clean, scopes=[])
    for path in ("/v1/me", "/v2/tasks", "/v1/admins"):
        assert (await client.get(path, headers=bare.headers)).status_code == 200, path


async def test_revoked_key_fails_on_next_request(client, clean, tenant):
    assert (await client.get("/v1/me", headers=tenant.headers)).status_code == 200
    async with clean.session() as s:
        await key_service.revoke_key(s, tenant.key.id)
        await s.commit()
    assert_error(await client.get("/v1/me", headers=tenant.headers), 401, "unauthorised")


async def test_rotated_key_old_dies_new_works(client, clean, tenant):
    async with clean.session() as s:
        new, raw = await key_service.rotate_key(s, tenant.key.id)
        await s.commit()
    assert_error(await client.get("/v1/me", headers=tenant.headers), 401, "unauthorised")
    r = await client.get("/v1/me", headers={"x-api-key": raw, "x-practice-group-id": str(tenant.id)})
    assert r.status_code == 200
    assert sorted(new.scopes) == sorted(tenant.key.scopes)


async def test_keys_are_stored_hashed(clean, tenant):
    from sqlalchemy import text

    async with clean.session(write=False) as s:
        row = (await s.execute(text("SELECT prefix, key_hash FROM api_keys WHERE id = :id"),
                               {"id": tenant.key.id})).one()
        dump = " ".join(str(v) for v in (await s.execute(text("SELECT * FROM api_keys"))).all())
    assert tenant.raw_key not in dump
    assert tenant.raw_key.startswith(row.prefix) and len(row.key_hash) == 64


async def test_rate_limit_answers_429_with_retry_after(settings, clean, clock, tenant):
    limited = create_app(settings.model_copy(update={"rate_limit": "3/minute"}), clock=clock, db=clean)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=limited), base_url="http://t") as c:
        for _ in range(3):
            assert (await c.get("/v1/me", headers=tenant.headers)).status_code == 200
        r = await c.get("/v1/me", headers=tenant.headers)
        assert_error(r, 429, "rate_limited")
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        # The budget is per key: another key of the same group is unaffected.
        _, other_raw = await make_key(clean, tenant.group)
        r = await c.get("/v1/me", headers={"x-api-key": other_raw, "x-practice-group-id": str(tenant.id)})
        assert r.status_code == 200


async def test_elements_token_authenticates_until_expiry(client, tenant, clock):
    r = await client.post("/v1/access_token", headers=tenant.headers)
    assert r.status_code == 200
    token = r.json()["access_token"]
    import jwt

    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == str(tenant.key.id) and claims["practice_group_id"] == str(tenant.id)
    assert claims["exp"] - claims["iat"] == 1800 and sorted(claims["scopes"]) == sorted(tenant.key.scopes)
    bearer = {"authorization": f"Bearer {token}"}
    r = await client.get("/v1/me", headers=bearer)
    assert r.status_code == 200 and r.json()["id"] == str(tenant.id)
    clock.advance(timedelta(minutes=29))
    assert (await client.get("/v1/me", headers=bearer)).status_code == 200
    clock.advance(timedelta(minutes=1, seconds=1))
    assert_error(await client.get("/v1/me", headers=bearer), 401, "unauthorised")


async def test_tampered_token_is_401(client, tenant):
    token = (await client.post("/v1/access_token", headers=tenant.headers)).json()["access_token"]
    header, payload, sig = token.split(".")
    tampered = f"{header}.{payload}.{sig[:-2]}{'AA' if not sig.endswith('AA') else 'BB'}"
    assert_error(await client.get("/v1/me", headers={"authorization": f"Bearer {tampered}"}), 401, "unauthorised")


async def test_token_of_revoked_key_is_401(client, clean, tenant):
    token = (await client.post("/v1/access_token", headers=tenant.headers)).json()["access_token"]
    async with clean.session() as s:
        await key_service.revoke_key(s, tenant.key.id)
        await s.commit()
    assert_error(await client.get("/v1/me", headers={"authorization": f"Bearer {token}"}), 401, "unauthorised")


async def test_token_cannot_mint_token(client, tenant):
    token = (await client.post("/v1/access_token", headers=tenant.headers)).json()["access_token"]
    r = await client.post("/v1/access_token", headers={"authorization": f"Bearer {token}"})
    assert_error(r, 403, "forbidden")


def test_default_secret_refused_outside_sandbox():
    from openhero.settings import Settings

    with pytest.raises(RuntimeError, match="OPENHERO_SECRET_KEY"):
        create_app(Settings(sandbox=False, _env_file=None))


async def test_rate_limit_is_shared_through_redis(settings, clean, clock, tenant):
    """Two API processes (two apps here) with OPENHERO_REDIS_URL share one budget per key."""
    import uuid

    shared = settings.model_copy(update={"rate_limit": "4/minute", "redis_url": "redis://127.0.0.1:6379/0",
                                         "rate_limit_namespace": f"test-{uuid.uuid4().hex}"})
    apps = [create_app(shared, clock=clock, db=clean) for _ in range(2)]
    codes = []
    for i in range(5):
        app = apps[i % 2]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            codes.append((await c.get("/v1/me", headers=tenant.headers)).status_code)
    assert codes == [200, 200, 200, 200, 429]


async def test_patient_pages_are_rate_limited_per_client(settings, clean, clock):
    """Unauthenticated pages (date-of-birth checks, slot holds) have a budget per client address."""
    limited = create_app(settings.model_copy(update={"page_rate_limit": "2/minute"}), clock=clock, db=clean)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=limited, client=("203.0.113.9", 5000)),
                                 base_url="http://t") as c:
        codes = [(await c.get("/l/no-such-link")).status_code for _ in range(3)]
    assert codes == [404, 404, 429]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=limited, client=("203.0.113.10", 5000)),
                                 base_url="http://t") as c:
        assert (await c.get("/l/no-such-link")).status_code == 404
