"""Practice Group and Admin operations."""

from sqlalchemy import select

from openhero.booking.models import AppointmentType
from openhero.practice.models import PracticeGroup
from tests.builders import make_admin, make_location, make_practitioner, make_row, make_tenant
from tests.core.test_auth import assert_error


async def test_get_and_patch_me(api, clean, tenant):
    r = await api.patch("/v1/me", json={"name": "Oakwood Surgery", "prescription_partner_enabled": True,
                                        "prescription_partner": "signature_rx",
                                        "prescription_partner_credentials": {"email": "rx@x.test", "password": "s3"},
                                        "address": {"postcode": "LS8 2PF"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "Oakwood Surgery" and body["prescription_partner_enabled"] is True
    assert body["address"]["postcode"] == "LS8 2PF" and body["address"]["town"] == "Leeds"
    assert "s3" not in r.text
    assert (await api.get("/v1/me")).json() == body
    async with clean.session(write=False) as s:
        group = (await s.execute(select(PracticeGroup).where(PracticeGroup.id == tenant.id))).scalar_one()
    assert group.prescription_partner_credentials["password"] == "s3"


async def test_patch_me_rejects_bad_values_and_keeps_data(api):
    before = (await api.get("/v1/me")).json()
    assert_error(await api.patch("/v1/me", json={"name": ""}), 400, "too_small")
    assert_error(await api.patch("/v1/me", json={"prescription_partner": "other_rx"}), 400, "invalid_string")
    assert (await api.get("/v1/me")).json() == before


async def test_capabilities_follow_scopes(client, clean):
    booking_only = await make_tenant(clean, scopes=["booking"])
    body = (await client.get("/v1/me/capabilities", headers=booking_only.headers)).json()
    assert body["booking"] is True and body["messaging"] is False and body["sms"] is False
    assert body["scopes"] == ["booking"]


async def test_configuration(api, clean, tenant):
    body = (await api.get("/v1/me/configuration")).json()
    assert body["reservation_hold_minutes"] == 15 and body["cancellation_policy_hours"] == 24
    assert body["write_to_record_snomed_defaults"]["sms"] == "279991000000102"


async def test_locations_and_practitioners(api, clean, tenant):
    main = await make_location(clean, tenant.id, name="Main Site")
    branch = await make_location(clean, tenant.id, name="Branch")
    await make_location(clean, tenant.id, name="Closed Site", online_booking_enabled=False)
    gp = await make_practitioner(clean, tenant.id, locations=[], practitioner_type="GP")
    async with clean.session() as s:
        from openhero.practice.models import Location, Practitioner

        gp = await s.get(Practitioner, gp.id)
        gp.locations = [await s.get(Location, main.id)]
        nurse = Practitioner(practice_group_id=tenant.id, first_name="Helen", last_name="Brooks",
                             practitioner_type="Nurse", locations=[await s.get(Location, branch.id)])
        s.add(nurse)
        await s.commit()
    other = await make_tenant(clean)
    foreign = await make_practitioner(clean, other.id)
    r = await api.get("/v1/locations")
    assert [x["name"] for x in r.json()["data"]] == ["Main Site", "Branch"] and r.json()["count"] == 2
    r = await api.get("/v1/practitioners")
    assert {p["id"] for p in r.json()["data"]} == {str(gp.id), str(nurse.id)}
    r = await api.get(f"/v1/practitioners?location_ids={branch.id}")
    assert [p["id"] for p in r.json()["data"]] == [str(nurse.id)]
    r = await api.get(f"/v1/practitioners?location_ids[]={main.id}&location_ids[]={branch.id}")
    assert r.json()["count"] == 2
    nurse_type = await make_row(clean, AppointmentType, practice_group_id=tenant.id, name="Bloods",
                                practitioner_type="Nurse")
    r = await api.get(f"/v1/practitioners?appointment_type_ids={nurse_type.id}")
    assert [p["id"] for p in r.json()["data"]] == [str(nurse.id)]
    r = await api.get(f"/v1/practitioners/{gp.id}")
    assert r.json()["full_name"] == f"Dr Sam {gp.last_name}" and r.json()["location_ids"] == [str(main.id)]
    assert_error(await api.get(f"/v1/practitioners/{foreign.id}"), 404, "not_found")


async def test_admins_paging_and_order(api, clean, tenant):
    for name in ("Charlie", "alice", "Bob"):
        await make_admin(clean, tenant.id, first_name=name)
    other = await make_tenant(clean)
    await make_admin(clean, other.id, first_name="Aaron")
    r = await api.get("/v1/admins", params={"order_by": "first_name"})
    assert [a["first_name"] for a in r.json()["data"]] == ["alice", "Bob", "Charlie"] and r.json()["count"] == 3
    r = await api.get("/v1/admins", params={"order_by": "first_name", "order_descending": "true",
                                            "page_size": "2", "page_index": "0"})
    assert [a["first_name"] for a in r.json()["data"]] == ["Charlie", "Bob"] and r.json()["count"] == 3
    assert_error(await api.get("/v1/admins?order_by=last_name"), 400, "invalid_string")
    assert_error(await api.get("/v1/admins?order_descending=perhaps"), 400, "invalid_type")


async def test_update_admin_prescriber_fields(api, clean, tenant):
    admin = await make_admin(clean, tenant.id)
    r = await api.patch(f"/v1/admins/{admin.id}", json={
        "external_prescriber_id": "RX-123",
        "prescriber_details": {"name": "Dr A", "email": "dr.a@example.com", "registration_code": "GMC1"}})
    assert r.status_code == 200 and r.json() == {"admin_id": str(admin.id)}
    listed = (await api.get("/v1/admins")).json()["data"][0]
    assert listed["external_prescriber_id"] == "RX-123" and listed["prescriber_details"]["registration_code"] == "GMC1"
    assert_error(await api.patch(f"/v1/admins/{admin.id}", json={"external_prescriber_id": ""}), 400, "too_small")
    assert_error(await api.patch(f"/v1/admins/{admin.id}", json={"prescriber_details": {"email": "nope"}}),
                 400, "custom")


async def test_has_availability_follows_the_clock(client, clean, clock):
    """has_availability keeps what has a free slot after *now* (the injected clock): two weeks of demo
    schedule are available today and none a month later."""
    from openhero.practice.demo import seed_demo
    from tests.builders import make_key

    async with clean.session() as s:
        ids = await seed_demo(s, clock.now())
        await s.commit()
    _, raw = await make_key(clean, ids.practice_group_id)
    headers = {"x-api-key": raw, "x-practice-group-id": str(ids.practice_group_id)}
    available = await client.get("/v1/practitioners?has_availability=true", headers=headers)
    assert available.json()["count"] == 4
    types = await client.get("/v1/appointment_types?has_availability=true", headers=headers)
    assert types.json()["count"] == 5
    from datetime import timedelta

    clock.advance(timedelta(days=30))
    assert (await client.get("/v1/practitioners?has_availability=true", headers=headers)).json()["count"] == 0
    assert (await client.get("/v1/appointment_types?has_availability=true", headers=headers)).json()["count"] == 0
    assert (await client.get("/v1/practitioners", headers=headers)).json()["count"] == 4
