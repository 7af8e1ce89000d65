"""Application-restricted PDS access (NHS signed JWT) against the fake token endpoint and PDS:
the client assertion, one token per process reused until it expires, one refresh on 401 shared by
concurrent requests, retries on 429, and token-endpoint failures that never leak the assertion."""

import asyncio
import json
import logging
import time
import uuid
from datetime import date

import httpx
import jwt
import pytest
from typer.testing import CliRunner

from openhero.cli import app as openhero_cli
from openhero.patients.pds import PdsUnavailable, get_pds_adapter, pds_token_source
from openhero.settings import get_settings
from tests.core.test_auth import assert_error
from tests.patients.conftest import API_KEY, KEY_ID

JANE = {"nhs_number": "9000000009", "dob": "2010-10-22"}


@pytest.fixture
async def fhir_api(fhir_app, tenant):
    transport = httpx.ASGITransport(app=fhir_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=tenant.headers) as c:
        yield c


def test_client_assertion_is_what_nhs_asks_for(pds_settings, pds_private_key):
    source = pds_token_source(pds_settings)
    first, second = source.client_assertion(), source.client_assertion()
    header = jwt.get_unverified_header(first)
    assert (header["alg"], header["typ"], header["kid"]) == ("RS512", "JWT", KEY_ID)
    claims = jwt.decode(
        first, pds_private_key.public_key(), algorithms=["RS512"], audience=pds_settings.pds_token_url
    )
    assert claims["iss"] == claims["sub"] == API_KEY
    assert uuid.UUID(claims["jti"]) and 0 < claims["exp"] - time.time() <= 300
    assert jwt.decode(second, options={"verify_signature": False})["jti"] != claims["jti"]


async def test_token_is_fetched_once_and_reused_by_every_request(fhir_api, pds, tenant):
    assert (await fhir_api.post("/v1/patients/register_pds", json=JANE)).status_code == 200
    assert (await fhir_api.post("/v1/patients/register_pds", json=JANE)).status_code == 200
    results = await asyncio.gather(
        *(fhir_api.post("/v1/patients/register_pds", json={"nhs_number": n, "dob": d}) for n, d in (
            ("9000000025", "1972-07-01"), ("9990000220", "1968-09-30"), ("9000000106", "1961-04-12"),
        ) * 3)
    )
    assert [r.status_code for r in results] == [200] * 9
    assert pds.token_requests == 1 and pds.token_errors == []
    tokens = {seen.headers["authorization"] for seen in pds.requests}
    assert len(tokens) == 1 and len(pds.requests) == 11
    ods = {seen.headers["nhsd-end-user-organisation-ods"] for seen in pds.requests}
    request_ids = [uuid.UUID(seen.headers["x-request-id"]) for seen in pds.requests]
    assert ods == {tenant.group.ods_code} and {i.version for i in request_ids} == {4}
    assert len(set(request_ids)) == 11


async def test_concurrent_first_requests_share_one_token_fetch(fhir_api, pds):
    results = await asyncio.gather(*(fhir_api.post("/v1/patients/register_pds", json=JANE) for _ in range(8)))
    assert {r.status_code for r in results} == {200}
    assert pds.token_requests == 1


async def test_a_token_about_to_expire_is_replaced(pds_settings, pds):
    pds.token_expires_in = 1  # refreshed a tenth of its life early: after 0.9 s
    adapter = get_pds_adapter(pds_settings)
    await adapter.trace_by_nhs_number("9000000009", date(2010, 10, 22), ods_code="A12345")
    await adapter.trace_by_nhs_number("9000000009", date(2010, 10, 22), ods_code="A12345")
    assert pds.token_requests == 1
    await asyncio.sleep(1.0)
    await adapter.trace_by_nhs_number("9000000009", date(2010, 10, 22), ods_code="A12345")
    assert pds.token_requests == 2


async def test_401_refreshes_the_token_once_shared_by_concurrent_requests(fhir_api, pds):
    assert (await fhir_api.post("/v1/patients/register_pds", json=JANE)).status_code == 200
    pds.revoke_tokens()
    results = await asyncio.gather(*(fhir_api.post("/v1/patients/register_pds", json=JANE) for _ in range(5)))
    assert {r.status_code for r in results} == {200}
    assert pds.token_requests == 2
    refused = [s for s in pds.requests if s.headers["authorization"] != pds.requests[-1].headers["authorization"]]
    assert 1 <= len(refused) <= 6


async def test_a_token_pds_keeps_refusing_is_502_after_one_refresh(fhir_api, pds, monkeypatch):
    monkeypatch.setattr(pds, "_tokens", _Refusing())
    r = await fhir_api.post("/v1/patients/register_pds", json=JANE)
    body = assert_error(r, 502, "upstream_error")
    assert "401" in body["message"][0]["message"]
    assert pds.token_requests == 2 and len(pds.requests) == 2


class _Refusing(set):
    """A token store that forgets every token it is given (PDS refusing whatever we send)."""

    def add(self, item):  # type: ignore[no-untyped-def]
        pass


async def test_429_is_retried_with_the_same_request_id_then_503(fhir_api, pds):
    pds.fail_next = [429, 429]
    r = await fhir_api.post("/v1/patients/register_pds", json=JANE)
    assert r.status_code == 200, r.text
    assert len(pds.requests) == 3
    assert len({s.headers["x-request-id"] for s in pds.requests}) == 1
    pds.requests.clear()
    pds.fail_next = [429] * 10
    started = time.monotonic()
    r = await fhir_api.post("/v1/patients/register_pds", json=JANE)
    body = assert_error(r, 503, "service_unavailable")
    assert "rate limiting" in body["message"][0]["message"]
    assert len(pds.requests) == 4 and time.monotonic() - started < 5.0  # bounded, inside the budget


async def test_token_endpoint_failures_are_clean_and_never_leak_the_assertion(
    fhir_api, fhir_app, pds, pds_settings, caplog
):
    caplog.set_level(logging.INFO, logger="openhero.patients.pds")
    pds.token_mode = "error"
    r = await fhir_api.post("/v1/patients/register_pds", json=JANE)
    assert "token endpoint is unavailable" in assert_error(r, 503, "service_unavailable")["message"][0]["message"]
    assert pds.requests == []  # PDS itself was never called without a token
    pds.token_mode = "ok"
    fhir_app.state.settings = pds_settings.model_copy(update={"pds_api_key": "not-our-key"})
    r = await fhir_api.post("/v1/patients/register_pds", json=JANE)
    body = assert_error(r, 502, "upstream_error")
    assert "refused our credentials" in body["message"][0]["message"]
    assert "Invalid 'iss'/'sub' claims" in caplog.text  # the reason is in the log
    for text in (r.text, caplog.text):
        assert "eyJ" not in text and "PRIVATE KEY" not in text and "client_assertion=" not in text
    fhir_app.state.settings = pds_settings.model_copy(update={"pds_private_key_file": "/nonexistent/key.pem"})
    r = await fhir_api.post("/v1/patients/register_pds", json=JANE)
    assert "misconfigured" in assert_error(r, 503, "service_unavailable")["message"][0]["message"]


async def test_incomplete_token_settings_are_a_503_naming_them(fhir_api, fhir_app, pds, pds_settings):
    fhir_app.state.settings = pds_settings.model_copy(update={"pds_key_id": None, "pds_api_key": ""})
    r = await fhir_api.post("/v1/patients/register_pds", json=JANE)
    message = assert_error(r, 503, "service_unavailable")["message"][0]["message"]
    assert "OPENHERO_PDS_API_KEY, OPENHERO_PDS_KEY_ID not set" in message
    assert pds.token_requests == 0 and pds.requests == []
    with pytest.raises(PdsUnavailable, match="OPENHERO_PDS_KEY_ID"):
        await get_pds_adapter(pds_settings.model_copy(update={"pds_key_id": ""})).trace_by_nhs_number(
            "9000000009", date(2010, 10, 22)
        )


def test_cli_trace_and_jwks_use_the_same_settings(pds, pds_settings, pds_private_key, monkeypatch):
    for name in ("pds_adapter", "pds_base_url", "pds_token_url", "pds_api_key", "pds_private_key_file", "pds_key_id"):
        monkeypatch.setenv(f"OPENHERO_{name.upper()}", str(getattr(pds_settings, name)))
    monkeypatch.setenv("OPENHERO_SANDBOX", "1")
    # A secret of its own: with the published one, sandbox mode reads the per-database secret instead.
    monkeypatch.setenv("OPENHERO_SECRET_KEY", "cli-test-secret-" + "y" * 40)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        ok = runner.invoke(openhero_cli, ["patients", "trace", "9000000009", "2010-10-22", "--ods", "A12345"])
        assert ok.exit_code == 0, ok.output
        assert json.loads(ok.output)["last_name"] == "Smith"
        assert pds.token_requests == 1 and pds.requests[-1].headers["nhsd-end-user-organisation-ods"] == "A12345"
        missing = runner.invoke(openhero_cli, ["patients", "trace", "9000000009", "2010-10-22"])
        assert missing.exit_code == 1 and "MISSING_VALUE" in missing.output  # no ODS code: PDS refuses
        keys = runner.invoke(openhero_cli, ["patients", "pds-jwks"])
        assert keys.exit_code == 0, keys.output
        (jwk,) = json.loads(keys.output)["keys"]
        assert (jwk["kid"], jwk["alg"], jwk["use"], jwk["kty"]) == (KEY_ID, "RS512", "sig", "RSA")
        public = jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
        assert public.public_numbers() == pds_private_key.public_key().public_numbers()
        assert "d" not in jwk  # the private exponent never leaves the key file
    finally:
        get_settings.cache_clear()
