"""Merge preview -> merge: the EHR-linked record is kept, rows move, the other is archived."""

from datetime import date

from sqlalchemy import select

from openhero.core.audit import AuditEntry
from openhero.tasks.models import Task
from tests.builders import make_patient, make_task, make_tenant
from tests.core.test_auth import assert_error
from tests.patients.builders import make_ehr_record


async def duplicates(db, group_id):
    linked = await make_patient(
        db,
        group_id,
        first_name="Jane",
        last_name="Smith",
        dob=date(2010, 10, 22),
        mobile=None,
        email=None,
        ehr_registered=True,
        ehr_partner_id="EMIS-JS",
        ehr_partner="emis",
    )
    await make_ehr_record(db, group_id, ehr_partner_id="EMIS-JS", linked_patient_id=linked.id)
    loose = await make_patient(
        db,
        group_id,
        first_name="Jane",
        last_name="Smith",
        dob=date(2010, 10, 22),
        nhs_number="9000000009",
        mobile="07700900001",
        email="jane.smith@example.com",
    )
    return linked, loose


async def test_preview_then_merge_keeps_the_ehr_linked_record(api, clean, tenant):
    linked, loose = await duplicates(clean, tenant.id)
    tasks = [await make_task(clean, tenant.id, patient_id=loose.id) for _ in range(2)]
    await make_task(clean, tenant.id, patient_id=linked.id)
    # Preview from the loose record's page: the linked one is still the one kept.
    r = await api.post(f"/v1/patients/{loose.id}/merge/preview", json={"patient_id": str(linked.id)})
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["kept_patient_id"] == str(linked.id) and preview["archived_patient_id"] == str(loose.id)
    assert preview["id"] == str(linked.id) and preview["nhs_number"] == "9000000009"
    assert preview["mobile"] == "07700900001" and preview["moves"]["tasks"] == 2
    r = await api.post(f"/v1/patients/{loose.id}/merge", json={"merge_token": preview["merge_token"]})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "patient_id": str(linked.id),
        "archived_patient_id": str(loose.id),
        "moved": {**{k: 0 for k in preview["moves"]}, "tasks": 2},
    }
    kept = (await api.get(f"/v1/patients/{linked.id}")).json()
    assert kept["nhs_number"] == "9000000009" and kept["email"] == "jane.smith@example.com"
    assert (await api.get(f"/v1/patients/{loose.id}")).json()["status"] == "archived"
    async with clean.session() as s:
        owners = (await s.execute(select(Task.patient_id).where(Task.id.in_([t.id for t in tasks])))).scalars()
        assert set(owners) == {linked.id}
        audit = (await s.execute(select(AuditEntry).where(AuditEntry.action == "patient.merge"))).scalar_one()
        assert audit.key_id == tenant.key.id and audit.details["archived_patient_id"] == loose.id
    # The token cannot be used twice.
    r = await api.post(f"/v1/patients/{loose.id}/merge", json={"merge_token": preview["merge_token"]})
    assert_error(r, 400, "invalid_merge_token")


async def test_stale_forged_and_expired_tokens_are_400(api, clean, tenant, clock):
    linked, loose = await duplicates(clean, tenant.id)
    url = f"/v1/patients/{linked.id}/merge"
    token = (await api.post(f"{url}/preview", json={"patient_id": str(loose.id)})).json()["merge_token"]
    assert_error(await api.post(url, json={"merge_token": token + "x"}), 400, "invalid_merge_token")
    assert_error(await api.post(url, json={"merge_token": "not.a.jwt"}), 400, "invalid_merge_token")
    assert_error(
        await api.post(f"/v1/patients/{loose.id}/merge", json={"merge_token": token}),
        400,
        "invalid_merge_token",
    )  # issued for the other path id
    await api.post(
        "/v1/patients/register",
        json={
            "nhs_number": "9000000009",
            "dob": "2010-10-22",
            "first_name": "Jane",
            "last_name": "Smith",
            "mobile": "07700900002",
        },
    )
    r = await api.post(url, json={"merge_token": token})
    assert "stale" in assert_error(r, 400, "invalid_merge_token")["message"][0]["message"]
    assert (await api.get(f"/v1/patients/{loose.id}")).json()["status"] == "unarchived"
    token = (await api.post(f"{url}/preview", json={"patient_id": str(loose.id)})).json()["merge_token"]
    clock.advance(minutes=11)
    r = await api.post(url, json={"merge_token": token})
    assert "expired" in assert_error(r, 400, "invalid_merge_token")["message"][0]["message"]


async def test_merge_refusals_and_cross_tenant_404(api, clean, tenant):
    linked, loose = await duplicates(clean, tenant.id)
    other = await make_tenant(clean)
    foreign = await make_patient(clean, other.id, first_name="Jane", last_name="Smith", dob=date(2010, 10, 22))
    url = f"/v1/patients/{linked.id}/merge/preview"
    assert_error(await api.post(url, json={"patient_id": str(foreign.id)}), 404, "not_found")
    assert_error(
        await api.post(f"/v1/patients/{foreign.id}/merge/preview", json={"patient_id": str(linked.id)}),
        404,
        "not_found",
    )
    assert_error(await api.post(url, json={"patient_id": str(linked.id)}), 400, "invalid_merge")
    different = await make_patient(clean, tenant.id, nhs_number="9990000018")
    assert_error(
        await api.post(f"/v1/patients/{loose.id}/merge/preview", json={"patient_id": str(different.id)}),
        409,
        "nhs_number_mismatch",
    )
    assert_error(await api.post(url, json={}), 400, "invalid_type")
