"""Slot search, count and lookup; appointment types' availability; scopes and tenancy."""

from __future__ import annotations

from datetime import timedelta

import httpx

from openhero.core.clock import FrozenClock
from openhero.core.db import Database
from tests.booking.builders import BookingWorld, iso, make_appointment_type, make_slots, make_world
from tests.builders import make_key, make_location, make_practitioner, make_tenant


async def test_lists_only_free_future_slots_with_filters_and_paging(
        booking_api: httpx.AsyncClient, world: BookingWorld, clean: Database, clock: FrozenClock) -> None:
    other_loc = await make_location(clean, world.tenant.id)
    other_doc = await make_practitioner(clean, world.tenant.id)
    await make_slots(clean, world.tenant.id, practitioner_id=other_doc.id, location_id=other_loc.id,
                     appointment_type_id=world.appt_type.id, start=world.start, count=3)
    # A slot already in the past is never offered.
    await make_slots(clean, world.tenant.id, practitioner_id=world.practitioner.id, location_id=world.location.id,
                     appointment_type_id=world.appt_type.id, start=clock.now() - timedelta(hours=1))

    r = await booking_api.get("/v1/slots", params={"page_size": 4})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 9 and len(body["data"]) == 4
    first = body["data"][0]
    assert set(first) == {"id", "practitioner_id", "appointment_type_id", "location_id", "start_time",
                          "finish_time"}
    assert first["start_time"] == iso(world.start) and first["finish_time"] == iso(world.start + timedelta(minutes=10))
    starts = [s["start_time"] for s in body["data"]]
    assert starts == sorted(starts)
    last = (await booking_api.get("/v1/slots", params={"page_size": 4, "page_index": 2})).json()
    assert last["count"] == 9 and len(last["data"]) == 1
    beyond = (await booking_api.get("/v1/slots", params={"page_size": 4, "page_index": 9})).json()
    assert beyond == {"data": [], "count": 9}

    mine = (await booking_api.get("/v1/slots", params={"practitioner_id": world.practitioner.id,
                                                        "location_id": world.location.id,
                                                        "appointment_type_id": world.appt_type.id})).json()
    assert mine["count"] == 6 and {s["practitioner_id"] for s in mine["data"]} == {str(world.practitioner.id)}
    both = await booking_api.get(f"/v1/slots?location_id={world.location.id}&location_id={other_loc.id}")
    assert both.json()["count"] == 9
    window = await booking_api.get("/v1/slots", params={
        "start_date": iso(world.start + timedelta(minutes=20)), "end_date": iso(world.start + timedelta(minutes=40)),
        "practitioner_id": world.practitioner.id})
    assert [s["start_time"] for s in window.json()["data"]] == [
        iso(world.start + timedelta(minutes=20)), iso(world.start + timedelta(minutes=30))]
    day = world.start.date().isoformat()
    assert (await booking_api.get("/v1/slots", params={"start_date": day, "end_date": day})).json()["count"] == 9
    next_day = (world.start + timedelta(days=1)).date().isoformat()
    assert (await booking_api.get("/v1/slots", params={"start_date": next_day})).json()["count"] == 0

    count = await booking_api.get("/v1/slots/count", params={"location_id": other_loc.id})
    assert count.status_code == 200 and count.json() == {"count": 3}


async def test_held_slot_leaves_the_list_and_comes_back_when_the_hold_lapses(
        booking_api: httpx.AsyncClient, world: BookingWorld, clock: FrozenClock) -> None:
    r = await booking_api.post("/v1/appointments", json=world.reserve_body())
    assert r.status_code == 200
    listed = (await booking_api.get("/v1/slots")).json()
    assert listed["count"] == 5 and iso(world.start) not in [s["start_time"] for s in listed["data"]]
    assert (await booking_api.get("/v1/slots/count")).json() == {"count": 5}
    clock.advance(minutes=16)
    assert (await booking_api.get("/v1/slots/count")).json() == {"count": 6}


async def test_bad_filters_are_400_in_the_contract_shape(booking_api: httpx.AsyncClient) -> None:
    for params in ({"location_id": "abc"}, {"start_date": "tomorrow"}, {"end_date": "2026-13-01"},
                   {"start_date": "2030-01-02", "end_date": "2030-01-01"}, {"page_size": "500"}):
        r = await booking_api.get("/v1/slots", params=params)
        assert r.status_code == 400, params
        body = r.json()
        assert body["error"] is True and body["statusCode"] == 400 and body["message"][0]["path"]
    assert (await booking_api.get("/v1/slots/count", params={"practitioner_id": "x1"})).status_code == 400


async def test_get_slot_and_tenancy(booking_api: httpx.AsyncClient, world: BookingWorld, clean: Database,
                                    clock: FrozenClock) -> None:
    r = await booking_api.get(f"/v1/slots/{world.slot_ids[0]}")
    assert r.status_code == 200
    assert r.json()["id"] == str(world.slot_ids[0]) and r.json()["location_id"] == str(world.location.id)
    other = await make_world(clean, clock.now())
    for path in (f"/v1/slots/{other.slot_ids[0]}", "/v1/slots/999999", "/v1/slots/abc"):
        res = await booking_api.get(path)
        assert res.status_code == 404 and res.json()["message"][0]["code"] == "not_found"
    # The other tenant's slots never show up in our search.
    assert (await booking_api.get("/v1/slots")).json()["count"] == 6


async def test_appointment_types_report_availability_from_slots(
        booking_api: httpx.AsyncClient, world: BookingWorld, clean: Database) -> None:
    empty_type = await make_appointment_type(clean, world.tenant.id, name="Nurse clinic", practitioner_type="Nurse",
                                             location_ids=[world.location.id])
    await booking_api.post("/v1/appointments", json=world.reserve_body())  # one slot now held
    r = await booking_api.get("/v1/appointment_types")
    assert r.status_code == 200
    by_id = {t["id"]: t for t in r.json()["data"]}
    assert by_id[str(world.appt_type.id)]["slot_count"] == 5
    assert by_id[str(world.appt_type.id)]["next_available_at"] == iso(world.start + timedelta(minutes=10))
    assert by_id[str(empty_type.id)]["slot_count"] == 0 and by_id[str(empty_type.id)]["next_available_at"] is None
    available = (await booking_api.get("/v1/appointment_types", params={"has_availability": "true"})).json()
    assert available["count"] == 1 and available["data"][0]["id"] == str(world.appt_type.id)


async def test_scopes(client: httpx.AsyncClient, world: BookingWorld, clean: Database) -> None:
    _, messaging_only = await make_key(clean, world.tenant.group, scopes=["messaging"])
    _, links_only = await make_key(clean, world.tenant.group, scopes=["booking_links"])
    group = {"x-practice-group-id": str(world.tenant.id)}
    for path in ("/v1/slots", "/v1/slots/count", f"/v1/slots/{world.slot_ids[0]}"):
        r = await client.get(path, headers={**group, "x-api-key": links_only})
        assert r.status_code == 403 and r.json()["message"][0]["code"] == "forbidden"
    r = await client.post("/v1/appointments", json=world.reserve_body(), headers={**group, "x-api-key": links_only})
    assert r.status_code == 403
    types = await client.get("/v1/appointment_types", headers={**group, "x-api-key": links_only})
    assert types.status_code == 200
    assert (await client.get("/v1/appointment_types", headers={**group, "x-api-key": messaging_only})
            ).status_code == 403
    assert (await client.get("/v1/slots", headers=group)).status_code == 401


async def test_practitioners_with_free_slots(world: BookingWorld, clean: Database, clock: FrozenClock) -> None:
    from openhero.booking.availability import practitioners_with_free_slots
    from openhero.core.auth import Principal

    idle = await make_practitioner(clean, world.tenant.id)
    other = await make_tenant(clean)
    principal = Principal(key_id=world.tenant.key.id, practice_group_id=world.tenant.id,
                          home_practice_group_id=world.tenant.id)
    async with clean.session(write=False) as s:
        assert await practitioners_with_free_slots(s, principal, now=clock.now()) == {world.practitioner.id}
        later = world.start + timedelta(hours=2)
        assert await practitioners_with_free_slots(s, principal, now=later) == set()
        assert idle.id not in await practitioners_with_free_slots(s, principal, now=clock.now())
        foreign = Principal(key_id=other.key.id, practice_group_id=other.id, home_practice_group_id=other.id)
        assert await practitioners_with_free_slots(s, foreign, now=clock.now()) == set()
