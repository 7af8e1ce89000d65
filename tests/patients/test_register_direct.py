"""POST /v1/patients/register: create-or-update from partner demographics, no PDS."""

from tests.core.test_auth import assert_error

BODY = {
    "nhs_number": "999 000 0018",
    "dob": "1948-05-17",
    "first_name": "Margaret",
    "last_name": "Holroyd",
    "mobile": "07700 900101",
    "title": "Mrs",
    "sex": "Female",
    "postcode": "LS6 3PX",
}


async def test_register_creates_then_updates_on_nhs_number_and_dob(api):
    r = await api.post("/v1/patients/register", json=BODY)
    assert r.status_code == 200, r.text
    pid = r.json()["patient_id"]
    r = await api.post(
        "/v1/patients/register",
        json={**BODY, "nhs_number": "9990000018", "dob": "1948-05-17T00:00:00Z", "email": "m.h@example.com"},
    )
    assert r.json()["patient_id"] == pid
    body = (await api.get(f"/v1/patients/{pid}")).json()
    assert body["email"] == "m.h@example.com" and body["mobile"] == "07700900101"
    assert body["postcode"] == "LS6 3PX" and body["data_source"] == "hero" and body["title"] == "Mrs"
    r = await api.post("/v1/patients/register", json={**BODY, "dob": "1948-05-18"})
    assert_error(r, 409, "nhs_number_dob_mismatch")


async def test_register_without_nhs_number_is_idempotent_on_a_retry(api):
    body = {k: v for k, v in BODY.items() if k != "nhs_number"}
    first = (await api.post("/v1/patients/register", json=body)).json()["patient_id"]
    assert (await api.post("/v1/patients/register", json=body)).json()["patient_id"] == first
    other = await api.post("/v1/patients/register", json={**body, "mobile": "07700900999"})
    assert other.json()["patient_id"] != first


async def test_register_validation(api):
    r = await api.post("/v1/patients/register", json={"dob": "1948-05-17"})
    paths = sorted(i["path"][0] for i in assert_error(r, 400, "invalid_type")["message"])
    assert paths == ["first_name", "last_name", "mobile"]
    r = await api.post("/v1/patients/register", json={**BODY, "title": "Wizard"})
    assert assert_error(r, 400, "invalid_enum_value")["message"][0]["path"] == ["title"]
    r = await api.post("/v1/patients/register", json={**BODY, "nhs_number": "1234567890"})
    assert assert_error(r, 400, "custom")["message"][0]["path"] == ["nhs_number"]
    r = await api.post("/v1/patients/register", json={**BODY, "mobile": "call me"})
    assert assert_error(r, 400, "custom")["message"][0]["path"] == ["mobile"]
    r = await api.post("/v1/patients/register", json={**BODY, "first_name": ""})
    assert_error(r, 400, "too_small")


async def test_restricted_patient_keeps_no_contacts_even_from_register(api):
    r = await api.post("/v1/patients/register_pds", json={"nhs_number": "9000000025", "dob": "1972-07-01"})
    pid = r.json()["patient_id"]
    r = await api.post(
        "/v1/patients/register",
        json={
            "nhs_number": "9000000025",
            "dob": "1972-07-01",
            "first_name": "Rachel",
            "last_name": "Thornton",
            "mobile": "07700900003",
            "postcode": "LS6 2AB",
        },
    )
    assert r.json()["patient_id"] == pid
    body = (await api.get(f"/v1/patients/{pid}")).json()
    assert body["mobile"] is None and body["postcode"] is None and body["restricted"] is True
