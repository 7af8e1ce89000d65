"""The PDS FHIR R4 adapter against the fake PDS server on loopback (real HTTP, real FHIR JSON)."""

from datetime import date

import httpx
import pytest
from sqlalchemy import func, select

from openhero.patients.models import Patient
from openhero.patients.pds import (
    FhirPdsAdapter,
    PdsDeceased,
    PdsIdentityCheckRequired,
    PdsNotFound,
    PdsUnavailable,
    get_pds_adapter,
)
from tests.core.test_auth import assert_error


@pytest.fixture
async def fhir_api(fhir_app, tenant):
    transport = httpx.ASGITransport(app=fhir_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=tenant.headers) as c:
        yield c


async def count_patients(db) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(Patient))).scalar_one()


async def test_register_through_fhir_maps_names_telecom_address_and_gp(fhir_api, pds):
    r = await fhir_api.post("/v1/patients/register_pds", json={"nhs_number": "9000000009", "dob": "2010-10-22"})
    assert r.status_code == 200, r.text
    assert pds.requests[-1][0] == "/Patient/9000000009"
    body = (await fhir_api.get(f"/v2/patients/{r.json()['patient_id']}")).json()
    assert (body["first_name"], body["last_name"], body["sex"]) == ("Jane", "Smith", "Female")
    assert (body["line_1"], body["line_2"], body["town"], body["county"]) == (
        "1 Trevelyan Square",
        "Boar Lane",
        "Leeds",
        "West Yorkshire",
    )
    assert body["mobile"] == "07700900001" and body["ods_code"] == "B86001"
    assert {
        "source": "nhs",
        "name": "nhs_number",
        "role": "main",
        "label": "NHS",
        "value": "9000000009",
    } in body["identifiers"]


async def test_demographic_search_sends_pds_query_parameters(fhir_api, pds):
    r = await fhir_api.post(
        "/v1/patients/register_pds",
        json={"forename": "Margaret", "surname": "Holroyd", "dob": "1948-05-17", "postcode": "LS6 3PX"},
    )
    assert r.status_code == 200, r.text
    path, params = pds.requests[-1]
    assert path == "/Patient"
    assert params == {
        "family": "Holroyd",
        "given": "Margaret",
        "birthdate": "eq1948-05-17",
        "address-postalcode": "LS6 3PX",
        "_max-results": "2",
    }
    r = await fhir_api.post(
        "/v1/patients/register_pds",
        json={"forename": "Margaret", "surname": "Holroyd", "dob": "1948-05-18", "postcode": "LS6 3PX"},
    )
    assert_error(r, 404, "patient_not_found")


async def test_pds_500_is_502_and_timeout_is_503_storing_nothing(fhir_api, fhir_app, pds, clean, settings):
    pds.mode = "error"
    r = await fhir_api.post("/v1/patients/register_pds", json={"nhs_number": "9000000009", "dob": "2010-10-22"})
    assert_error(r, 502, "upstream_error")
    pds.mode = "slow"
    fhir_app.state.pds_adapter = FhirPdsAdapter(
        base_url=pds.url, timeout=0.3, public_base_url="http://x", secret_key=settings.secret_key
    )
    r = await fhir_api.post("/v1/patients/register_pds", json={"nhs_number": "9000000009", "dob": "2010-10-22"})
    assert_error(r, 503, "service_unavailable")
    assert "in time" in r.json()["message"][0]["message"]
    assert await count_patients(clean) == 0


async def test_adapter_outcomes_direct(pds, settings):
    adapter = get_pds_adapter(
        settings.model_copy(update={"pds_adapter": "pds_fhir", "pds_base_url": pds.url, "pds_timeout_seconds": 5.0})
    )
    assert isinstance(adapter, FhirPdsAdapter)
    restricted = await adapter.trace_by_nhs_number("9000000025", date(1972, 7, 1))
    assert restricted.restricted and restricted.postcode is None and restricted.mobile is None
    moved = await adapter.trace_by_nhs_number("9990000220", date(1968, 9, 30))
    assert (moved.nhs_number, moved.superseded_nhs_number) == ("9990000239", "9990000220")
    with pytest.raises(PdsIdentityCheckRequired) as check:
        await adapter.trace_by_nhs_number("9000000017", date(1985, 3, 14))
    assert check.value.login_url.startswith(settings.public_base_url)
    with pytest.raises(PdsDeceased) as dead:
        await adapter.trace_by_nhs_number("9000000033", date(1940, 1, 5))
    assert dead.value.patient.deceased_at is not None
    with pytest.raises(PdsNotFound):
        await adapter.trace_by_nhs_number("9990000271", date(2000, 1, 1))
    with pytest.raises(PdsUnavailable):
        await adapter.trace_by_nhs_number("9000000068", date(1990, 1, 1))
    unreachable = FhirPdsAdapter(base_url="http://127.0.0.1:9", timeout=0.3, public_base_url="http://x", secret_key="k")
    with pytest.raises(PdsUnavailable):
        await unreachable.trace_by_nhs_number("9000000009", date(2010, 10, 22))
