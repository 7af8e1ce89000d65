"""The fake PDS refuses what production PDS and the NHS token endpoint refuse, so the adapter tests
passing against it mean something."""

import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.patients import pds_records
from tests.patients.conftest import API_KEY, KEY_ID
from tests.patients.fake_pds import ASSERTION_TYPE


def _assertion(key, token_url: str, **overrides) -> str:  # type: ignore[no-untyped-def]
    headers = {"kid": overrides.pop("kid", KEY_ID), "typ": "JWT"}
    algorithm = overrides.pop("alg", "RS512")
    claims = {"iss": API_KEY, "sub": API_KEY, "aud": token_url, "jti": str(uuid.uuid4()),
              "exp": int(time.time()) + 120}
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm=algorithm, headers=headers)


async def _token(pds, assertion: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion}
    async with httpx.AsyncClient() as http:
        return await http.post(pds.token_url, data=form)


async def test_token_endpoint_checks_the_assertion_like_nhs(pds, pds_private_key):
    good = _assertion(pds_private_key, pds.token_url)
    r = await _token(pds, good)
    assert r.status_code == 200 and r.json()["token_type"] == "Bearer" and r.json()["expires_in"] == "599"
    replayed = await _token(pds, good)
    assert replayed.status_code == 400 and "jti" in replayed.json()["error_description"]
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused = {
        "signature": _assertion(other_key, pds.token_url),
        "kid": _assertion(pds_private_key, pds.token_url, kid="someone-else"),
        "alg": _assertion(pds_private_key, pds.token_url, alg="RS256"),
        "aud": _assertion(pds_private_key, pds.token_url + "/other"),
        "iss": _assertion(pds_private_key, pds.token_url, iss="not-our-key"),
        "sub": _assertion(pds_private_key, pds.token_url, sub="not-our-key"),
        "exp far": _assertion(pds_private_key, pds.token_url, exp=int(time.time()) + 600),
        "exp past": _assertion(pds_private_key, pds.token_url, exp=int(time.time()) - 60),
        "no jti": _assertion(pds_private_key, pds.token_url, jti=None),
    }
    for reason, assertion in refused.items():
        r = await _token(pds, assertion)
        assert r.status_code in (400, 401), reason
        assert r.json()["error"] and "access_token" not in r.json(), reason
    assert pds.tokens_issued == 1


async def test_pds_requires_token_request_id_ods_and_one_result(pds, pds_private_key):
    token = (await _token(pds, _assertion(pds_private_key, pds.token_url))).json()["access_token"]
    good = {"Authorization": f"Bearer {token}", "X-Request-ID": str(uuid.uuid4()),
            "NHSD-End-User-Organisation-ODS": "A12345", "X-Correlation-ID": "c-1"}
    url = f"{pds.url}/Patient/9000000009"

    def without(name: str) -> dict[str, str]:
        return {k: v for k, v in good.items() if k != name}

    async with httpx.AsyncClient() as http:
        ok = await http.get(url, headers=good)
        assert ok.status_code == 200 and ok.headers["X-Correlation-ID"] == "c-1"
        assert ok.headers["X-Request-ID"] == good["X-Request-ID"]
        assert (await http.get(url, headers=without("Authorization"))).status_code == 401
        assert (await http.get(url, headers={**good, "Authorization": "Bearer forged"})).status_code == 401
        missing = await http.get(url, headers=without("X-Request-ID"))
        assert missing.status_code == 400 and "MISSING_VALUE" in missing.text
        invalid = await http.get(url, headers={**good, "X-Request-ID": "not-a-uuid"})
        assert invalid.status_code == 400 and "INVALID_VALUE" in invalid.text
        no_ods = await http.get(url, headers=without("NHSD-End-User-Organisation-ODS"))
        assert no_ods.status_code == 400 and "MISSING_VALUE" in no_ods.text
        search = {"family": "Smith", "given": "Jane", "birthdate": "eq2010-10-22", "address-postalcode": "LS1 6AE"}
        two = await http.get(f"{pds.url}/Patient", params={**search, "_max-results": "2"}, headers=good)
        assert two.status_code == 403 and "INVALID_VALUE" in two.text
        one = await http.get(f"{pds.url}/Patient", params=search, headers=good)
        assert one.status_code == 200 and one.json()["total"] == 1


@pytest.mark.parametrize("record", ["ended", "restricted", "minimal"])
def test_records_are_shaped_like_nhs_sandbox_examples(record):
    resource = {"ended": pds_records.ended_record, "restricted": pds_records.restricted_record,
                "minimal": pds_records.minimal_record}[record]()
    if record == "ended":
        periods = [item["period"] for key in ("name", "telecom", "address") for item in resource[key]]
        assert periods and all("end" in p for p in periods)
    if record == "restricted":
        assert resource["meta"]["security"][0]["code"] == "R"
        assert "address" not in resource and "telecom" not in resource
    if record == "minimal":
        assert set(resource) == {"resourceType", "id", "identifier", "meta"}
