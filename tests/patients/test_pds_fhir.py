"""register_pds through the PDS FHIR adapter with application-restricted access, against the fake
PDS on loopback (real HTTP, real FHIR JSON, the production rules on tokens, headers and searches)."""

import uuid
from datetime import date

import httpx
import pytest
from sqlalchemy import func, select

from openhero.patients.models import Patient
from openhero.patients.pds import (
    FhirPdsAdapter,
    PdsBadResponse,
    PdsDeceased,
    PdsIdentityCheckRequired,
    PdsNotFound,
    PdsUnavailable,
    get_pds_adapter,
)
from openhero.patients.pds.mapping import patient_from_fhir
from tests.core.test_auth import assert_error
from tests.patients import pds_records

JANE = {"nhs_number": "9000000009", "dob": "2010-10-22"}


@pytest.fixture
async def fhir_api(fhir_app, tenant):
    transport = httpx.ASGITransport(app=fhir_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=tenant.headers) as c:
        yield c


async def count_patients(db) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(Patient))).scalar_one()


async def register(api, **body):
    return await api.post("/v1/patients/register_pds", json=body)


async def test_register_by_nhs_number_maps_the_record_and_sends_every_required_header(fhir_api, pds, tenant):
    r = await fhir_api.post("/v1/patients/register_pds", json=JANE, headers={"X-Correlation-ID": "trace-me-42"})
    assert r.status_code == 200, r.text
    seen = pds.requests[-1]
    assert seen.path == "/Patient/9000000009"
    assert seen.headers["authorization"].startswith("Bearer ")
    assert uuid.UUID(seen.headers["x-request-id"]).version == 4
    assert seen.headers["nhsd-end-user-organisation-ods"] == tenant.group.ods_code
    assert seen.headers["x-correlation-id"] == "trace-me-42"
    body = (await fhir_api.get(f"/v2/patients/{r.json()['patient_id']}")).json()
    assert (body["first_name"], body["last_name"], body["sex"]) == ("Jane", "Smith", "Female")
    assert (body["line_1"], body["line_2"], body["town"], body["county"]) == (
        "1 Trevelyan Square",
        "Boar Lane",
        "Leeds",
        "West Yorkshire",
    )
    assert body["mobile"] == "07700900001" and body["ods_code"] == "B86001"
    assert {"source": "nhs", "name": "nhs_number", "role": "main", "label": "NHS", "value": "9000000009"} in body[
        "identifiers"
    ]
    # Without a correlation id from the caller none is invented; each call has its own request id.
    assert (await register(fhir_api, **JANE)).status_code == 200
    assert "x-correlation-id" not in pds.requests[-1].headers
    assert pds.requests[-1].headers["x-request-id"] != seen.headers["x-request-id"]


async def test_demographic_search_asks_for_one_result(fhir_api, pds):
    r = await register(fhir_api, forename="Margaret", surname="Holroyd", dob="1948-05-17", postcode="LS6 3PX")
    assert r.status_code == 200, r.text
    seen = pds.requests[-1]
    assert seen.path == "/Patient"
    assert seen.params == {
        "family": "Holroyd",
        "given": "Margaret",
        "birthdate": "eq1948-05-17",
        "address-postalcode": "LS6 3PX",
        "_max-results": "1",
    }
    r = await register(fhir_api, forename="Margaret", surname="Holroyd", dob="1948-05-18", postcode="LS6 3PX")
    assert_error(r, 404, "patient_not_found")


async def test_too_many_matches_is_an_ambiguous_trace(fhir_api, pds, clean):
    r = await register(fhir_api, forename="Sam", surname="Ambler", dob="2001-06-01", postcode="LS6 1AA")
    body = assert_error(r, 404, "patient_not_found")
    assert "More than one person matches" in body["message"][0]["message"]
    assert body["message"][0]["path"] == ["surname"]
    assert await count_patients(clean) == 0
    # Each of them is found by NHS number.
    assert (await register(fhir_api, nhs_number=pds_records.TWIN_B, dob="2001-06-01")).status_code == 200


async def test_record_with_only_ended_periods_uses_the_most_recent_entries(fhir_api, clean):
    r = await register(fhir_api, nhs_number=pds_records.ENDED, dob="1961-04-12")
    assert r.status_code == 200, r.text
    body = (await fhir_api.get(f"/v1/patients/{r.json()['patient_id']}")).json()
    assert (body["title"], body["first_name"], body["last_name"]) == ("Mrs", "Ellen Rose", "Marsh")
    assert (body["mobile"], body["email"]) == ("07700900111", "ellen.marsh@example.com")
    async with clean.session() as s:
        landline = (await s.execute(select(Patient.landline))).scalar_one()
    assert landline == "01632960587"
    assert (body["address_line_1"], body["address_line_2"], body["address_line_3"]) == (
        "2 Park Square East",
        "Park Square",
        "City Centre",
    )
    assert (body["town"], body["county"], body["postcode"]) == ("Leeds", "West Yorkshire", "LS1 2NE")


def test_a_current_entry_wins_over_a_more_recently_ended_one():
    record = pds_records.ended_record()
    record["address"].append(
        {"id": "a-now", "use": "temp", "period": {"start": "2021-06-01"}, "line": ["7 Kirkgate"], "city": "Otley",
         "postalCode": "LS21 3HN"}
    )
    record["telecom"].append({"id": "t-future", "period": {"start": "2099-01-01"}, "system": "phone",
                              "value": "07700900999", "use": "mobile"})
    traced, _ = patient_from_fhir(record, today=date(2026, 1, 1))
    assert (traced.address_line_1, traced.town, traced.postcode) == ("7 Kirkgate", "Otley", "LS21 3HN")
    assert traced.mobile == "07700900111"  # a number that starts in the future is not the current one
    # While the 2020-2021 name was current, it is the one used.
    traced, _ = patient_from_fhir(record, today=date(2021, 3, 1))
    assert traced.last_name == "Marsh" and traced.postcode == "LS1 2NE"


async def test_restricted_record_keeps_the_rule_and_clears_contacts_held_before(fhir_api, pds):
    earlier = await fhir_api.post(
        "/v1/patients/register",
        json={"nhs_number": pds_records.RESTRICTED, "dob": "1979-02-03", "first_name": "Robin",
              "last_name": "Hale", "mobile": "07700900123", "postcode": "LS6 2AB"},
    )
    assert earlier.status_code == 200, earlier.text
    r = await register(fhir_api, nhs_number=pds_records.RESTRICTED, dob="1979-02-03")
    assert r.status_code == 200, r.text
    assert r.json()["patient_id"] == earlier.json()["patient_id"]
    body = (await fhir_api.get(f"/v1/patients/{r.json()['patient_id']}")).json()
    assert body["restricted"] is True and (body["first_name"], body["last_name"]) == ("Robin", "Hale")
    for name in ("mobile", "email", "address_line_1", "town", "postcode"):
        assert body[name] is None, name


async def test_minimal_record_without_birth_date_cannot_be_verified(fhir_api, clean):
    r = await register(fhir_api, nhs_number=pds_records.MINIMAL, dob="1990-01-01")
    body = assert_error(r, 404, "patient_not_found")
    assert "cannot be verified" in body["message"][0]["message"]
    assert body["message"][0]["path"] == ["nhs_number"]
    assert await count_patients(clean) == 0


async def test_unknown_number_and_wrong_dob_are_404_storing_nothing(fhir_api, clean):
    assert_error(await register(fhir_api, nhs_number="9990000271", dob="2000-01-01"), 404, "patient_not_found")
    assert_error(await register(fhir_api, nhs_number="9000000009", dob="2010-10-23"), 404, "patient_not_found")
    assert await count_patients(clean) == 0


async def test_re_registering_keeps_what_pds_left_out(fhir_api, pds):
    pid = (await register(fhir_api, **JANE)).json()["patient_id"]
    sparse = dict(pds.records["9000000009"])
    del sparse["telecom"], sparse["address"], sparse["generalPractitioner"]
    sparse["name"] = [{"use": "usual", "given": ["Jane"], "family": "Smith-Jones"}]
    pds.records["9000000009"] = sparse
    again = await register(fhir_api, **JANE)
    assert again.json() == {"patient_id": pid}
    body = (await fhir_api.get(f"/v2/patients/{pid}")).json()
    assert body["last_name"] == "Smith-Jones"  # what PDS sent is refreshed
    assert (body["mobile"], body["email"], body["postcode"], body["ods_code"]) == (
        "07700900001",
        "jane.smith@example.com",
        "LS1 6AE",
        "B86001",
    )


async def test_pds_failing_is_503_after_retries_and_slow_is_503_storing_nothing(fhir_api, fhir_app, pds, clean):
    pds.mode = "error"
    r = await register(fhir_api, **JANE)
    body = assert_error(r, 503, "service_unavailable")
    assert "HTTP 500" in body["message"][0]["message"]
    assert 1 < len(pds.requests) <= 4  # bounded retries
    pds.mode = "slow"
    fhir_app.state.settings = fhir_app.state.settings.model_copy(update={"pds_timeout_seconds": 0.3})
    r = await register(fhir_api, **JANE)
    assert "in time" in assert_error(r, 503, "service_unavailable")["message"][0]["message"]
    assert await count_patients(clean) == 0


async def test_adapter_outcomes_direct(pds_settings):
    adapter = get_pds_adapter(pds_settings)
    assert isinstance(adapter, FhirPdsAdapter) and adapter.application_restricted
    ods = {"ods_code": "A12345"}
    restricted = await adapter.trace_by_nhs_number("9000000025", date(1972, 7, 1), **ods)
    assert restricted.restricted and restricted.postcode is None and restricted.mobile is None
    moved = await adapter.trace_by_nhs_number("9990000220", date(1968, 9, 30), **ods)
    assert (moved.nhs_number, moved.superseded_nhs_number) == ("9990000239", "9990000220")
    with pytest.raises(PdsIdentityCheckRequired) as check:
        await adapter.trace_by_nhs_number("9000000017", date(1985, 3, 14), **ods)
    assert check.value.login_url.startswith(pds_settings.public_base_url)
    with pytest.raises(PdsDeceased) as dead:
        await adapter.trace_by_nhs_number("9000000033", date(1940, 1, 5), **ods)
    assert dead.value.patient.deceased_at is not None
    with pytest.raises(PdsNotFound):
        await adapter.trace_by_nhs_number("9990000271", date(2000, 1, 1), **ods)
    with pytest.raises(PdsUnavailable):
        await adapter.trace_by_nhs_number("9000000068", date(1990, 1, 1), **ods)
    # The fake refuses what production refuses: no ODS code is a 400, which we report as 502.
    with pytest.raises(PdsBadResponse, match="MISSING_VALUE"):
        await adapter.trace_by_nhs_number("9000000009", date(2010, 10, 22))
    unreachable = FhirPdsAdapter(base_url="http://127.0.0.1:9", timeout=0.3, public_base_url="http://x", secret_key="k")
    with pytest.raises(PdsUnavailable):
        await unreachable.trace_by_nhs_number("9000000009", date(2010, 10, 22))


async def test_public_sandbox_without_auth_still_works(settings, pds):
    """The NHS public sandbox takes no token and no ODS code: no token settings, no token asked for."""
    pds.require_auth = False
    adapter = get_pds_adapter(
        settings.model_copy(update={"pds_adapter": "pds_fhir", "pds_base_url": pds.url, "pds_timeout_seconds": 5.0})
    )
    jane = await adapter.trace_by_nhs_number("9000000009", date(2010, 10, 22))
    assert jane.last_name == "Smith" and pds.token_requests == 0
    assert "authorization" not in pds.requests[-1].headers
    # Against production rules the same configuration is refused, and the 401 is reported as 502.
    pds.require_auth = True
    with pytest.raises(PdsBadResponse, match="401"):
        await adapter.trace_by_nhs_number("9000000009", date(2010, 10, 22))
