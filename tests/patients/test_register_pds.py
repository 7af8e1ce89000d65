"""POST /v1/patients/register_pds against the sandbox PDS: every documented outcome."""

from sqlalchemy import func, select

from openhero.core.audit import AuditEntry
from openhero.patients.models import Patient
from tests.builders import make_tenant
from tests.core.test_auth import assert_error

JANE = {"nhs_number": "900 000 0009", "dob": "2010-10-22"}


async def count_patients(db) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(Patient))).scalar_one()


async def test_traced_patient_is_registered_once_and_returned_on_repeat(api, clean):
    first = await api.post("/v1/patients/register_pds", json=JANE)
    assert first.status_code == 200, first.text
    pid = first.json()["patient_id"]
    assert pid.isdigit()
    again = await api.post(
        "/v1/patients/register_pds", json={"nhs_number": "9000000009", "dob": "2010-10-22T00:00:00.000Z"}
    )
    assert again.json() == {"patient_id": pid}
    assert await count_patients(clean) == 1
    r = await api.get(f"/v1/patients/{pid}")
    body = r.json()
    assert (body["first_name"], body["last_name"], body["title"], body["sex"]) == (
        "Jane",
        "Smith",
        "Mrs",
        "Female",
    )
    assert body["nhs_number"] == "9000000009" and body["postcode"] == "LS1 6AE" and body["town"] == "Leeds"
    assert body["mobile"] == "07700900001" and body["email"] == "jane.smith@example.com"
    assert body["dob"] == "2010-10-22T00:00:00.000Z" and body["data_source"] == "pds"
    assert body["restricted"] is False and body["status"] == "unarchived" and body["last_sync_at"].endswith("Z")
    async with clean.session() as s:
        actions = (await s.execute(select(AuditEntry.action, AuditEntry.object_id))).all()
    assert actions == [("patient.register_pds", pid)] * 2


async def test_demographics_route_traces_the_same_person(api):
    by_number = (await api.post("/v1/patients/register_pds", json=JANE)).json()["patient_id"]
    r = await api.post(
        "/v1/patients/register_pds",
        json={"forename": "jane", "surname": "SMITH", "dob": "2010-10-22", "postcode": "ls16ae"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["patient_id"] == by_number


async def test_identity_check_answers_login_url_and_stores_nothing(api, clean):
    r = await api.post("/v1/patients/register_pds", json={"nhs_number": "9000000017", "dob": "1985-03-14"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message"] == "Patient must verify their identity before proceeding"
    assert body["login_url"].startswith("http://testserver/verify/") and "9000000017" not in body["login_url"]
    assert await count_patients(clean) == 0


async def test_restricted_record_is_registered_without_address_or_contacts(api):
    r = await api.post("/v1/patients/register_pds", json={"nhs_number": "9000000025", "dob": "1972-07-01"})
    assert r.status_code == 200, r.text
    body = (await api.get(f"/v1/patients/{r.json()['patient_id']}")).json()
    assert body["restricted"] is True and body["last_name"] == "Thornton"
    for name in ("mobile", "email", "address_line_1", "town", "county", "postcode"):
        assert body[name] is None, name


async def test_deceased_is_409_and_unavailable_is_503_storing_nothing(api, clean):
    r = await api.post("/v1/patients/register_pds", json={"nhs_number": "9000000033", "dob": "1940-01-05"})
    assert_error(r, 409, "patient_deceased")
    r = await api.post("/v1/patients/register_pds", json={"nhs_number": "9000000068", "dob": "1999-09-09"})
    assert_error(r, 503, "service_unavailable")
    assert await count_patients(clean) == 0


async def test_not_traced_is_404(api, clean):
    assert_error(
        await api.post("/v1/patients/register_pds", json={"nhs_number": "9990000271", "dob": "2000-01-01"}),
        404,
        "patient_not_found",
    )
    assert_error(
        await api.post("/v1/patients/register_pds", json={**JANE, "dob": "2010-10-23"}),
        404,
        "patient_not_found",
    )
    r = await api.post(
        "/v1/patients/register_pds",
        json={"forename": "Jane", "surname": "Smith", "dob": "2010-10-22", "postcode": "LS2 1AA"},
    )
    assert_error(r, 404, "patient_not_found")
    assert await count_patients(clean) == 0


async def test_bad_input_is_400_with_field_paths(api):
    r = await api.post("/v1/patients/register_pds", json={"nhs_number": "900 000 0001", "dob": "2010-10-22"})
    assert assert_error(r, 400, "custom")["message"][0]["path"] == ["nhs_number"]
    r = await api.post("/v1/patients/register_pds", json={"nhs_number": "9000000009"})
    assert assert_error(r, 400, "custom")["message"][0]["path"] == ["dob"]
    r = await api.post("/v1/patients/register_pds", json={"nhs_number": "9000000009", "dob": "22/10/2010"})
    assert r.status_code == 400
    r = await api.post("/v1/patients/register_pds", json={"forename": "Jane", "dob": "2010-10-22"})
    body = assert_error(r, 400, "invalid_type")
    assert [i["path"] for i in body["message"]] == [["surname"], ["postcode"]]
    r = await api.post("/v1/patients/register_pds", content=b"{nope", headers={"content-type": "application/json"})
    assert_error(r, 400, "invalid_json")


async def test_superseded_number_registers_under_the_current_number(api):
    r = await api.post("/v1/patients/register_pds", json={"nhs_number": "9990000220", "dob": "1968-09-30"})
    assert r.status_code == 200, r.text
    pid = r.json()["patient_id"]
    body = (await api.get(f"/v1/patients/{pid}")).json()
    assert body["nhs_number"] == "9990000239" and body["last_name"] == "Newman"
    again = await api.post("/v1/patients/register_pds", json={"nhs_number": "9990000239", "dob": "1968-09-30"})
    assert again.json()["patient_id"] == pid


async def test_any_scope_may_register_and_ids_do_not_cross_tenants(api, client, clean):
    pid = (await api.post("/v1/patients/register_pds", json=JANE)).json()["patient_id"]
    other = await make_tenant(clean, scopes=("messaging",))
    r = await client.post("/v1/patients/register_pds", json=JANE, headers=other.headers)
    assert r.status_code == 200 and r.json()["patient_id"] != pid
    assert_error(await client.get(f"/v1/patients/{pid}", headers=other.headers), 404, "not_found")
    assert_error(await client.get(f"/v2/patients/{pid}", headers=other.headers), 404, "not_found")
    assert_error(await client.get("/v1/patients/abc", headers=other.headers), 404, "not_found")


async def test_login_url_page_exists_and_control_characters_are_refused(api, client):
    r = await api.post("/v1/patients/register_pds", json={"nhs_number": "9000000017", "dob": "1985-03-14"})
    page = await client.get(r.json()["login_url"].removeprefix("http://testserver"))
    assert page.status_code == 200 and "NHS login" in page.text
    r = await api.post(
        "/v1/patients/register_pds", json={"nhs_number": "9000000009", "dob": "2010-10-22", "ehr_partner_id": "E\x001"}
    )
    assert assert_error(r, 400, "custom")["message"][0]["path"] == ["ehr_partner_id"]
    assert_error(await api.get("/v3/patients?last_name=Sm%00ith"), 400, "invalid_string")
    assert_error(await api.get("/v1/patients?field=last_name&search=%00"), 400, "invalid_string")
