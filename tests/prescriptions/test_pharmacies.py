"""Pharmacies: create (validation, idempotence by email, prescriber checks) and a prescriber's list."""

import asyncio

import pytest

from tests.builders import make_admin, make_tenant
from tests.core.test_auth import assert_error


@pytest.fixture
async def prescriber(clean, tenant):
    return await make_admin(clean, tenant.id, external_prescriber_id="PRESC-001", first_name="Sara",
                            last_name="Ahmed")


def body(prescriber, **overrides):
    values = {"name": "Boots Leeds Briggate", "email": "Briggate@Boots.example", "mobile": "07700 900 123",
              "prescriber_id": str(prescriber.id)}
    values.update(overrides)
    return values


async def test_create_and_list(api, prescriber):
    r = await api.post("/v1/pharmacies", json=body(prescriber, ods_code="fa123", postcode="ls16ae"))
    assert r.status_code == 200, r.text
    created = r.json()
    assert created["id"].isdigit() and created["prescriber_id"] == str(prescriber.id)
    assert created["email"] == "briggate@boots.example" and created["mobile"] == "07700900123"
    assert created["ods_code"] == "FA123" and created["postcode"] == "LS1 6AE"
    r = await api.post("/v1/pharmacies", json=body(prescriber, name="Asda Pharmacy", email="asda@example.com",
                                                   mobile="+44 113 496 0000", prescriber_id=prescriber.id))
    assert r.status_code == 200, r.text
    listed = await api.get(f"/v1/prescriber/{prescriber.id}/pharmacies")
    assert listed.status_code == 200
    assert [p["name"] for p in listed.json()["data"]] == ["Asda Pharmacy", "Boots Leeds Briggate"]
    assert listed.json()["count"] == 2
    paged = (await api.get(f"/v1/prescriber/{prescriber.id}/pharmacies?page_size=1&page_index=1")).json()
    assert [p["name"] for p in paged["data"]] == ["Boots Leeds Briggate"] and paged["count"] == 2


async def test_same_email_is_one_pharmacy_linked_to_each_prescriber(api, clean, tenant, prescriber):
    second = await make_admin(clean, tenant.id, external_prescriber_id="PRESC-002")
    results = await asyncio.gather(*(api.post("/v1/pharmacies", json=body(p, name=f"Boots {i}"))
                                     for i, p in enumerate([prescriber, second, prescriber])))
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    assert len({r.json()["id"] for r in results}) == 1
    for p in (prescriber, second):
        listed = (await api.get(f"/v1/prescriber/{p.id}/pharmacies")).json()
        assert listed["count"] == 1 and listed["data"][0]["prescriber_id"] == str(p.id)


@pytest.mark.parametrize("overrides,code", [
    ({"name": ""}, "too_small"), ({"email": "not-an-email"}, "custom"), ({"mobile": "12345"}, "custom"),
    ({"prescriber_id": "abc"}, "invalid_string"), ({"ods_code": "ABC"}, "custom"), ({"postcode": "NOPE"}, "custom"),
    ({"name": "Bad\x00name"}, "custom"), ({"email": "a\x00b@example.com"}, "custom"), ({"email": None}, "invalid_type"),
])
async def test_validation(api, prescriber, overrides, code):
    assert_error(await api.post("/v1/pharmacies", json=body(prescriber, **overrides)), 400, code)
    assert (await api.get(f"/v1/prescriber/{prescriber.id}/pharmacies")).json()["count"] == 0


async def test_prescriber_must_be_a_prescriber_of_this_group(api, clean, tenant, prescriber):
    not_prescriber = await make_admin(clean, tenant.id)
    other = await make_tenant(clean)
    foreign = await make_admin(clean, other.id, external_prescriber_id="PRESC-X")
    for admin in (not_prescriber, foreign):
        assert_error(await api.post("/v1/pharmacies", json=body(admin)), 400, "invalid_prescriber")
        assert_error(await api.get(f"/v1/prescriber/{admin.id}/pharmacies"), 404, "not_found")
    assert_error(await api.get("/v1/prescriber/abc/pharmacies"), 404, "not_found")


async def test_needs_a_key(client, prescriber):
    assert_error(await client.get(f"/v1/prescriber/{prescriber.id}/pharmacies"), 401, "unauthorised")


async def test_demo_seed(clean, tenant, api, clock):
    from openhero.prescriptions.demo import seed_demo_pharmacies

    for _ in range(2):
        async with clean.session() as session:
            await seed_demo_pharmacies(session, tenant.id, clock.now())
            await session.commit()
    async with clean.session() as session:
        from sqlalchemy import select

        from openhero.practice.models import Admin
        prescriber = (await session.execute(select(Admin).where(Admin.practice_group_id == tenant.id))).scalar_one()
    body = (await api.get(f"/v1/prescriber/{prescriber.id}/pharmacies")).json()
    assert body["count"] == 4 and body["data"][0]["ods_code"].startswith("FX")
