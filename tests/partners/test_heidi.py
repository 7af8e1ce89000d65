"""GET /v1/partners/heidi/token: a short-lived token bound to the key and practice group."""

from datetime import timedelta

import pytest

from openhero.core.tokens import TokenError, verify
from openhero.partners.service import verify_heidi_token
from tests.builders import make_network, make_practice_group, make_tenant
from tests.conftest import TEST_SECRET
from tests.core.test_auth import assert_error


async def test_token_is_bound_to_key_and_group_and_expires(api, tenant, clock):
    r = await api.get("/v1/partners/heidi/token")
    assert r.status_code == 200, r.text
    body = r.json()
    now = clock.now()
    claims = verify_heidi_token(TEST_SECRET, body["token"], now)
    assert claims["sub"] == str(tenant.key.id) and claims["practice_group_id"] == str(tenant.id)
    expected = (now + timedelta(minutes=15)).replace(microsecond=0)
    assert body["expiration_time"] == expected.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with pytest.raises(TokenError):  # not an Elements access token
        verify(TEST_SECRET, body["token"], purpose="elements", now=now)
    with pytest.raises(TokenError):
        verify_heidi_token(TEST_SECRET, body["token"], now + timedelta(minutes=16))


async def test_hub_key_gets_a_token_for_the_group_it_acts_for(client, clean, clock):
    network = await make_network(clean)
    hub = await make_tenant(clean, network_id=network.id)
    member = await make_practice_group(clean, network_id=network.id)
    r = await client.get("/v1/partners/heidi/token",
                         headers={**hub.headers, "x-practice-group-id": str(member.id)})
    assert r.status_code == 200
    claims = verify_heidi_token(TEST_SECRET, r.json()["token"], clock.now())
    assert claims["practice_group_id"] == str(member.id)


async def test_needs_a_valid_key(client, tenant):
    assert_error(await client.get("/v1/partners/heidi/token"), 401, "unauthorised")
    assert_error(await client.get("/v1/partners/heidi/token", headers={**tenant.headers, "x-api-key": "ohk_nope"}),
                 401, "unauthorised")
