"""The local EHR: candidates, connect, attachments and the data_source=ehr read."""

from datetime import date

from tests.builders import make_patient, make_tenant
from tests.core.test_auth import assert_error
from tests.patients.builders import make_attachment, make_ehr_record


async def test_candidates_match_by_nhs_number_or_name_and_dob(api, clean, tenant):
    patient = await make_patient(
        clean,
        tenant.id,
        first_name="Jane",
        last_name="Smith",
        dob=date(2010, 10, 22),
        nhs_number="9000000009",
    )
    by_demo = await make_ehr_record(clean, tenant.id, first_name="JANE", last_name="smith")
    by_nhs = await make_ehr_record(clean, tenant.id, first_name="Janet", nhs_number="9000000009")
    await make_ehr_record(clean, tenant.id, nhs_number="9990000018")  # same name+dob, different person
    await make_ehr_record(clean, tenant.id, dob=date(2010, 10, 23))
    other = await make_tenant(clean)
    await make_ehr_record(clean, other.id, nhs_number="9000000009")
    r = await api.get(f"/v1/patients/{patient.id}/ehr/candidates")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == 2
    assert [(c["ehr_partner_id"], c["match"]) for c in body["data"]] == [
        (by_nhs.ehr_partner_id, "nhs_number"),
        (by_demo.ehr_partner_id, "demographics"),
    ]
    assert body["data"][0]["dob"] == "2010-10-22T00:00:00.000Z" and body["data"][0]["hero_id"] is None


async def test_connect_links_the_record_and_is_repeatable(api, clean, tenant):
    patient = await make_patient(clean, tenant.id, first_name="Jane", last_name="Smith", dob=date(2010, 10, 22))
    record = await make_ehr_record(clean, tenant.id, nhs_number="9000000009", mobile="07700900001")
    await make_attachment(clean, tenant.id, record.id, file_name="discharge.pdf")
    assert (await api.get(f"/v1/patients/{patient.id}/attachments")).json() == {"data": [], "count": 0}
    for _ in range(2):
        r = await api.post(f"/v1/patients/{patient.id}/ehr/connect", json={"ehr_partner_id": record.ehr_partner_id})
        assert r.status_code == 200, r.text
    body = r.json()
    assert body["ehr_registered"] is True and body["ehr_partner_id"] == record.ehr_partner_id
    assert body["emis_id"] == record.ehr_partner_id and body["nhs_number"] == "9000000009"
    candidates = (await api.get(f"/v1/patients/{patient.id}/ehr/candidates")).json()["data"]
    assert candidates[0]["hero_id"] == str(patient.id)
    files = (await api.get(f"/v1/patients/{patient.id}/attachments")).json()
    assert files["count"] == 1 and files["data"][0]["file_name"] == "discharge.pdf"
    from_ehr = (await api.get(f"/v2/patients/{patient.id}?data_source=ehr")).json()
    assert from_ehr["data_source"] == "emis" and from_ehr["mobile"] == "07700900001"
    assert (await api.get(f"/v3/patients?ehr_partner_id={record.ehr_partner_id}")).json()["count"] == 1


async def test_connect_refusals(api, clean, tenant):
    patient = await make_patient(clean, tenant.id, first_name="Jane", last_name="Smith", dob=date(2010, 10, 22))
    stranger = await make_ehr_record(clean, tenant.id, first_name="Someone", last_name="Else")
    taken = await make_ehr_record(clean, tenant.id)
    twin = await make_patient(clean, tenant.id, first_name="Jane", last_name="Smith", dob=date(2010, 10, 22))
    assert (
        await api.post(f"/v1/patients/{twin.id}/ehr/connect", json={"ehr_partner_id": taken.ehr_partner_id})
    ).status_code == 200
    url = f"/v1/patients/{patient.id}/ehr/connect"
    assert_error(await api.post(url, json={"ehr_partner_id": stranger.ehr_partner_id}), 409, "ehr_record_mismatch")
    assert_error(await api.post(url, json={"ehr_partner_id": taken.ehr_partner_id}), 409, "ehr_record_already_linked")
    assert_error(await api.post(url, json={"ehr_partner_id": "NOPE"}), 400, "ehr_record_not_found")
    assert_error(await api.post(url, json={}), 400, "invalid_type")
    assert_error(await api.get(f"/v2/patients/{patient.id}?data_source=ehr"), 404, "not_linked_to_ehr")
    other = await make_tenant(clean)
    assert_error(
        await api.post(
            f"/v1/patients/{(await make_patient(clean, other.id)).id}/ehr/connect",
            json={"ehr_partner_id": taken.ehr_partner_id},
        ),
        404,
        "not_found",
    )
