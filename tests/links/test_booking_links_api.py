"""Booking links API: create/read/update with the contract's shape, validation, scope and tenancy."""

from __future__ import annotations

from datetime import date, timedelta

from tests.builders import make_key, make_location, make_patient, make_tenant


def _body(world, **overrides):  # type: ignore[no-untyped-def]
    body = {"appointment_type_id": str(world.appt_type.id), "location_id": str(world.location.id)}
    body.update(overrides)
    return body


async def test_create_and_get_patient_specific_link(api, world, patient, clock):
    to_date = (clock.now() + timedelta(days=14)).date().isoformat()
    created = await api.post("/v1/booking_links", json=_body(
        world, patient_id=str(patient.id), practitioner_id=str(world.practitioner.id), to_date=to_date,
        maximum_use_count=1, expiry_date=to_date))
    assert created.status_code == 200, created.text
    link = created.json()
    assert link["id"].isdigit() and link["practice_group_id"] == str(world.tenant.id)
    assert link["short_link"].startswith("http://testserver/l/") and len(link["short_link"].rsplit("/", 1)[1]) >= 12
    assert link["active"] is True and link["unlimited_use"] is False
    assert (link["maximum_uses"], link["number_of_uses"], link["open_count"]) == (1, 0, 0)
    assert link["expiry_date"] == f"{to_date}T00:00:00.000Z"
    assert link["meta"] == {"appointment_type_id": [str(world.appt_type.id)], "location_id": [str(world.location.id)],
                            "practitioner_id": [str(world.practitioner.id)], "patient_id": str(patient.id),
                            "from_date": None, "to_date": to_date}
    fetched = await api.get(f"/v1/booking_links/{link['id']}")
    assert fetched.status_code == 200 and fetched.json() == link

    generic = (await api.post("/v1/booking_links", json=_body(
        world, appointment_type_id=[str(world.appt_type.id), world.appt_type.id]))).json()
    assert generic["meta"]["appointment_type_id"] == [str(world.appt_type.id)]  # a list is accepted, deduplicated
    assert generic["unlimited_use"] is True and generic["maximum_uses"] is None
    assert generic["meta"]["patient_id"] is None and generic["short_link"] != link["short_link"]


async def test_create_validation(api, world, clean, clock):
    other = await make_tenant(clean)
    foreign_location = await make_location(clean, other.id)
    no_dob = await make_patient(clean, world.tenant.id, dob=None)
    yesterday = (clock.now() - timedelta(days=1)).date().isoformat()
    cases = [
        ({"location_id": str(world.location.id)}, 400, ["appointment_type_id"]),
        (_body(world, appointment_type_id="abc"), 400, ["appointment_type_id"]),
        (_body(world, maximum_use_count=0), 400, ["maximum_use_count"]),
        (_body(world, maximum_use_count=1.5), 400, ["maximum_use_count"]),
        (_body(world, from_date="2030-02-01", to_date="2030-01-01"), 400, ["from_date"]),
        (_body(world, expiry_date=yesterday), 400, ["expiry_date"]),
        (_body(world, to_date="not a date"), 400, ["to_date"]),
        (_body(world, patient_id=str(no_dob.id)), 400, ["patient_id"]),
        (_body(world, location_id=str(foreign_location.id)), 404, ["location_id"]),
        (_body(world, patient_id="999999"), 404, ["patient_id"]),
        (_body(world, practitioner_id="999999"), 404, ["practitioner_id"]),
    ]
    for body, status, path in cases:
        response = await api.post("/v1/booking_links", json=body)
        assert response.status_code == status, (body, response.text)
        error = response.json()
        assert error["error"] is True and error["statusCode"] == status
        assert error["message"][0]["path"] == path, (body, error)
    # a second location where the type is not offered
    elsewhere = await make_location(clean, world.tenant.id)
    response = await api.post("/v1/booking_links", json=_body(world, location_id=str(elsewhere.id)))
    assert response.status_code == 400 and response.json()["message"][0]["code"] == "location_not_offered"


async def test_scope_and_tenancy(client, api, world, clean):
    link = (await api.post("/v1/booking_links", json=_body(world))).json()
    _, raw = await make_key(clean, world.tenant.group, scopes=["booking", "messaging"])
    no_scope = {"x-api-key": raw, "x-practice-group-id": str(world.tenant.id)}
    for method, url, body in (("POST", "/v1/booking_links", _body(world)), ("GET", f"/v1/booking_links/{link['id']}",
                              None), ("PATCH", f"/v1/booking_links/{link['id']}", {"active": False})):
        response = await client.request(method, url, json=body, headers=no_scope)
        assert response.status_code == 403 and response.json()["message"][0]["code"] == "forbidden"

    other = await make_tenant(clean)
    assert (await client.get(f"/v1/booking_links/{link['id']}", headers=other.headers)).status_code == 404
    assert (await client.patch(f"/v1/booking_links/{link['id']}", json={"active": False},
                               headers=other.headers)).status_code == 404
    assert (await api.get("/v1/booking_links/nope")).status_code == 404


async def test_update_changes_only_what_is_sent(api, world, clock):
    link = (await api.post("/v1/booking_links", json=_body(
        world, practitioner_id=str(world.practitioner.id), maximum_use_count=3))).json()
    url = f"/v1/booking_links/{link['id']}"
    to_date = (clock.now() + timedelta(days=5)).date().isoformat()
    updated = await api.patch(url, json={"practitioner_id": None, "to_date": to_date, "maximum_use_count": None})
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["meta"]["practitioner_id"] == [] and body["meta"]["to_date"] == to_date
    assert body["unlimited_use"] is True and body["short_link"] == link["short_link"]
    assert body["meta"]["appointment_type_id"] == link["meta"]["appointment_type_id"]

    assert (await api.patch(url, json={"active": False})).json()["active"] is False
    assert (await api.get(url)).json()["active"] is False
    assert (await api.patch(url, json={"active": True})).json()["active"] is True

    bad = await api.patch(url, json={"location_id": None})
    assert bad.status_code == 400 and bad.json()["message"][0]["path"] == ["location_id"]
    bad = await api.patch(url, json={"from_date": (date.fromisoformat(to_date) + timedelta(days=1)).isoformat()})
    assert bad.status_code == 400 and bad.json()["message"][0]["path"] == ["from_date"]
    assert (await api.patch(url, json={"appointment_type_id": "424242"})).status_code == 404
    # nothing of the refused changes was stored
    assert (await api.get(url)).json()["meta"]["to_date"] == to_date
