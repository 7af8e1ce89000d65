"""Reserve → book → cancel/reschedule, edits, expiry via the clock, policy windows, 409s and tenancy."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select

from openhero.booking.models import Appointment, Slot
from openhero.core.clock import FrozenClock
from openhero.core.db import Database
from openhero.core.outbox import Event
from openhero.tasks.models import Task
from tests.booking.builders import BookingWorld, iso, make_slots, make_world
from tests.builders import make_patient, make_practitioner


async def _events(db: Database) -> list[tuple[str, str]]:
    async with db.session(write=False) as s:
        return [(e.event_type, e.object_id) for e in
                (await s.execute(select(Event).order_by(Event.id))).scalars().all()]


async def _slot_state(db: Database, slot_id: int) -> tuple[int | None, object]:
    async with db.session(write=False) as s:
        slot = await s.get(Slot, slot_id)
        assert slot is not None
        return slot.appointment_id, slot.held_until


async def test_full_flow_reserve_book_cancel(booking_api: httpx.AsyncClient, world: BookingWorld, clean: Database,
                                             clock: FrozenClock) -> None:
    patient = await make_patient(clean, world.tenant.id)
    r = await booking_api.post("/v1/appointments", json=world.reserve_body(patient_id=str(patient.id),
                                                                            reason="Cough"))
    assert r.status_code == 200, r.text
    reservation = r.json()
    assert set(reservation) == {"id", "reserved_until"}
    assert reservation["reserved_until"] == iso(clock.now() + timedelta(minutes=15))
    appt_id = reservation["id"]

    got = (await booking_api.get(f"/v1/appointments/{appt_id}")).json()
    assert got["patient_id"] == str(patient.id) and got["start_time"] == iso(world.start)
    assert got["booking_confirmed_at"] is None and got["in_person"] is True and got["duration"] == 10
    assert got["can_be_cancelled"] is True and got["can_be_rescheduled"] is False
    assert got["cancellation_policy_hours"] == 24

    clock.advance(minutes=5)
    booked = await booking_api.patch(f"/v1/appointments/{appt_id}/book")
    assert booked.status_code == 200, booked.text
    assert booked.json()["booking_confirmed_at"] == iso(clock.now())
    assert booked.json()["can_be_rescheduled"] is True and booked.json()["can_be_cancelled"] is True
    assert await _events(clean) == [("appointment.confirmed", appt_id)]
    async with clean.session(write=False) as s:
        task = (await s.execute(select(Task))).scalar_one()
    assert task.category == "appointment" and task.appointment_id == int(appt_id) and task.patient_id == patient.id
    assert await _slot_state(clean, world.slot_ids[0]) == (int(appt_id), None)
    # Booked for good: the hold's expiry no longer matters.
    clock.advance(minutes=30)
    again = await booking_api.patch(f"/v1/appointments/{appt_id}/book")
    assert again.status_code == 409 and again.json()["message"][0]["code"] == "already_booked"
    assert (await booking_api.get("/v1/slots/count")).json()["count"] == 5

    cancelled = await booking_api.patch(f"/v1/appointments/{appt_id}/cancel", json={"suppress_mail": True})
    assert cancelled.status_code == 200
    assert cancelled.json()["cancelled_at"] == iso(clock.now()) and cancelled.json()["can_be_cancelled"] is False
    assert (await booking_api.get("/v1/slots/count")).json()["count"] == 6
    assert await _events(clean) == [("appointment.confirmed", appt_id), ("appointment.cancelled", appt_id)]
    twice = await booking_api.patch(f"/v1/appointments/{appt_id}/cancel")
    assert twice.status_code == 409 and twice.json()["message"][0]["code"] == "appointment_cancelled"
    # The freed slot can be reserved again.
    assert (await booking_api.post("/v1/appointments", json=world.reserve_body())).status_code == 200


async def test_held_slot_is_409_until_the_hold_expires(booking_api: httpx.AsyncClient, world: BookingWorld,
                                                        clock: FrozenClock) -> None:
    first = (await booking_api.post("/v1/appointments", json=world.reserve_body())).json()
    second = await booking_api.post("/v1/appointments", json=world.reserve_body())
    assert second.status_code == 409 and second.json()["message"][0]["code"] == "slot_unavailable"
    clock.advance(minutes=15, seconds=1)
    third = await booking_api.post("/v1/appointments", json=world.reserve_body())
    assert third.status_code == 200
    late = await booking_api.patch(f"/v1/appointments/{first['id']}/book")
    assert late.status_code == 409 and late.json()["message"][0]["code"] == "reservation_expired"
    assert (await booking_api.patch(f"/v1/appointments/{third.json()['id']}/book")).status_code == 200
    fourth = await booking_api.post("/v1/appointments", json=world.reserve_body())
    assert fourth.status_code == 409


async def test_expired_reservation_cannot_be_booked_edited_or_cancelled(
        booking_api: httpx.AsyncClient, world: BookingWorld, clean: Database, clock: FrozenClock) -> None:
    appt_id = (await booking_api.post("/v1/appointments", json=world.reserve_body())).json()["id"]
    clock.advance(minutes=16)
    got = (await booking_api.get(f"/v1/appointments/{appt_id}")).json()
    assert got["can_be_cancelled"] is False and got["booking_confirmed_at"] is None
    edit = {"start_time": iso(world.start + timedelta(minutes=10)), "duration": 10,
            "practitioner_id": str(world.practitioner.id)}
    for method, path, body in (("PATCH", "book", None), ("PUT", "", edit), ("PATCH", "cancel", None)):
        r = await booking_api.request(method, f"/v1/appointments/{appt_id}/{path}".rstrip("/"), json=body)
        assert r.status_code == 409 and r.json()["message"][0]["code"] == "reservation_expired", (path, r.text)
    assert await _events(clean) == []


async def test_reserve_refusals_and_validation(booking_api: httpx.AsyncClient, world: BookingWorld,
                                               clock: FrozenClock) -> None:
    off_grid = await booking_api.post("/v1/appointments", json=world.reserve_body(world.start + timedelta(minutes=5)))
    assert off_grid.status_code == 409 and off_grid.json()["message"][0]["code"] == "slot_not_found"
    too_long = await booking_api.post("/v1/appointments",
                                      json=world.reserve_body(world.start + timedelta(minutes=50), duration=20))
    assert too_long.status_code == 409  # only one slot left after 09:50
    past = await booking_api.post("/v1/appointments", json=world.reserve_body(clock.now() - timedelta(hours=1)))
    assert past.status_code == 400 and past.json()["message"][0]["path"] == ["start_time"]
    bad = await booking_api.post("/v1/appointments", json={"duration": 0, "location_id": "x",
                                                           "start_time": "not a date"})
    assert bad.status_code == 400
    paths = {tuple(m["path"]) for m in bad.json()["message"]}
    assert {("duration",), ("location_id",), ("start_time",), ("appointment_type_id",)} <= paths
    unknown = await booking_api.post("/v1/appointments", json=world.reserve_body(practitioner_id="999999"))
    assert unknown.status_code == 404
    no_patient = await booking_api.post("/v1/appointments", json=world.reserve_body(patient_id="999999"))
    assert no_patient.status_code == 404
    assert (await booking_api.post("/v1/appointments", content=b"{oops",
                                   headers={"content-type": "application/json"})).status_code == 400


async def test_multi_slot_duration_claims_back_to_back_slots(booking_api: httpx.AsyncClient, world: BookingWorld,
                                                             clean: Database) -> None:
    r = await booking_api.post("/v1/appointments", json=world.reserve_body(duration=20))
    assert r.status_code == 200
    assert (await _slot_state(clean, world.slot_ids[1]))[0] == int(r.json()["id"])
    second = await booking_api.post("/v1/appointments", json=world.reserve_body(world.start + timedelta(minutes=10)))
    assert second.status_code == 409
    assert (await booking_api.patch(f"/v1/appointments/{r.json()['id']}/book")).status_code == 200
    assert (await booking_api.get("/v1/slots/count")).json()["count"] == 4


async def test_suppress_availability_check_never_overlaps_a_live_booking(
        booking_api: httpx.AsyncClient, world: BookingWorld, clean: Database) -> None:
    booked = (await booking_api.post("/v1/appointments", json=world.reserve_body())).json()["id"]
    await booking_api.patch(f"/v1/appointments/{booked}/book")
    # Overlapping the booked 09:00 slot, even partially: refused.
    for start, duration in ((world.start, 10), (world.start - timedelta(minutes=5), 10),
                            (world.start + timedelta(minutes=5), 10)):
        r = await booking_api.post("/v1/appointments", json=world.reserve_body(
            start, duration=duration, suppress_availability_check=True))
        assert r.status_code == 409, (start, r.text)
    # Outside published slots: allowed, and never listed as a slot.
    evening = world.start + timedelta(hours=9)
    ok = await booking_api.post("/v1/appointments", json=world.reserve_body(
        evening, duration=30, suppress_availability_check=True))
    assert ok.status_code == 200
    assert (await booking_api.get("/v1/slots/count")).json()["count"] == 5
    clash = await booking_api.post("/v1/appointments", json=world.reserve_body(
        evening + timedelta(minutes=20), suppress_availability_check=True))
    assert clash.status_code == 409
    # Straddling two free published slots claims both, so neither can be reserved any more.
    straddle = await booking_api.post("/v1/appointments", json=world.reserve_body(
        world.start + timedelta(minutes=15), suppress_availability_check=True))
    assert straddle.status_code == 200
    for minutes in (10, 20):
        later = world.start + timedelta(minutes=minutes)
        r = await booking_api.post("/v1/appointments", json=world.reserve_body(later))
        assert r.status_code == 409
    assert (await booking_api.patch(f"/v1/appointments/{straddle.json()['id']}/cancel")).status_code == 200
    assert (await booking_api.post("/v1/appointments", json=world.reserve_body(
        world.start + timedelta(minutes=10)))).status_code == 200


async def test_edit_moves_an_unconfirmed_reservation(booking_api: httpx.AsyncClient, world: BookingWorld,
                                                     clean: Database, clock: FrozenClock) -> None:
    appt = (await booking_api.post("/v1/appointments", json=world.reserve_body())).json()
    other = (await booking_api.post("/v1/appointments", json=world.reserve_body(
        world.start + timedelta(minutes=20)))).json()
    clock.advance(minutes=5)
    body = {"start_time": iso(world.start + timedelta(minutes=10)), "duration": 10,
            "practitioner_id": str(world.practitioner.id)}
    r = await booking_api.put(f"/v1/appointments/{appt['id']}", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["start_time"] == body["start_time"]
    assert r.json()["reserved_until"] == appt["reserved_until"]  # editing never extends the hold
    assert (await _slot_state(clean, world.slot_ids[0]))[0] is None
    assert (await _slot_state(clean, world.slot_ids[1]))[0] == int(appt["id"])
    # Onto a held slot: refused, and the current hold is kept.
    taken = await booking_api.put(f"/v1/appointments/{appt['id']}", json={**body, "start_time": iso(
        world.start + timedelta(minutes=20))})
    assert taken.status_code == 409
    assert (await _slot_state(clean, world.slot_ids[1]))[0] == int(appt["id"])
    assert (await booking_api.get(f"/v1/appointments/{appt['id']}")).json()["start_time"] == body["start_time"]
    # Another practitioner without a slot there: refused unless availability checks are suppressed.
    doc = await make_practitioner(clean, world.tenant.id)
    moved = {**body, "practitioner_id": str(doc.id)}
    assert (await booking_api.put(f"/v1/appointments/{appt['id']}", json=moved)).status_code == 409
    ok = await booking_api.put(f"/v1/appointments/{appt['id']}", json={**moved, "suppress_availability_check": True})
    assert ok.status_code == 200 and ok.json()["practitioner_id"] == str(doc.id)
    assert (await _slot_state(clean, world.slot_ids[1]))[0] is None
    assert (await booking_api.put(f"/v1/appointments/{appt['id']}", json={"duration": 10})).status_code == 400
    await booking_api.patch(f"/v1/appointments/{other['id']}/book")
    booked = await booking_api.put(f"/v1/appointments/{other['id']}", json=body)
    assert booked.status_code == 409 and booked.json()["message"][0]["code"] == "already_booked"


async def test_cancellation_policy_window(booking_api: httpx.AsyncClient, world: BookingWorld, clean: Database,
                                          clock: FrozenClock) -> None:
    soon = (clock.now() + timedelta(hours=3)).replace(second=0)
    await make_slots(clean, world.tenant.id, practitioner_id=world.practitioner.id, location_id=world.location.id,
                     appointment_type_id=world.appt_type.id, start=soon, count=2)
    appt_id = (await booking_api.post("/v1/appointments", json=world.reserve_body(soon))).json()["id"]
    assert (await booking_api.patch(f"/v1/appointments/{appt_id}/book")).status_code == 200
    got = (await booking_api.get(f"/v1/appointments/{appt_id}")).json()
    assert got["can_be_cancelled"] is False and got["can_be_rescheduled"] is False
    refused = await booking_api.patch(f"/v1/appointments/{appt_id}/cancel", json={})
    assert refused.status_code == 409 and refused.json()["message"][0]["code"] == "cancellation_policy"
    moved = await booking_api.patch(f"/v1/appointments/{appt_id}/reschedule",
                                    json={"start_time": iso(world.start)})
    assert moved.status_code == 409 and moved.json()["message"][0]["code"] == "cancellation_policy"
    ok = await booking_api.patch(f"/v1/appointments/{appt_id}/cancel", json={"suppress_cancellation_policy": True})
    assert ok.status_code == 200
    # A booking two days out is outside the window until the clock gets within 24 hours of it.
    far = (await booking_api.post("/v1/appointments", json=world.reserve_body())).json()["id"]
    await booking_api.patch(f"/v1/appointments/{far}/book")
    clock.set(world.start - timedelta(hours=23))
    assert (await booking_api.get(f"/v1/appointments/{far}")).json()["can_be_cancelled"] is False
    assert (await booking_api.patch(f"/v1/appointments/{far}/cancel")).status_code == 409
    clock.set(world.start + timedelta(minutes=1))
    started = await booking_api.patch(f"/v1/appointments/{far}/cancel", json={"suppress_cancellation_policy": True})
    assert started.status_code == 409 and started.json()["message"][0]["code"] == "appointment_started"


async def test_reschedule_moves_atomically(booking_api: httpx.AsyncClient, world: BookingWorld, clean: Database
                                           ) -> None:
    appt_id = (await booking_api.post("/v1/appointments", json=world.reserve_body())).json()["id"]
    not_yet = await booking_api.patch(f"/v1/appointments/{appt_id}/reschedule",
                                      json={"start_time": iso(world.start + timedelta(minutes=10))})
    assert not_yet.status_code == 409 and not_yet.json()["message"][0]["code"] == "not_booked"
    await booking_api.patch(f"/v1/appointments/{appt_id}/book")
    blocker = (await booking_api.post("/v1/appointments", json=world.reserve_body(
        world.start + timedelta(minutes=30)))).json()["id"]

    refused = await booking_api.patch(f"/v1/appointments/{appt_id}/reschedule",
                                      json={"start_time": iso(world.start + timedelta(minutes=30))})
    assert refused.status_code == 409
    assert await _slot_state(clean, world.slot_ids[0]) == (int(appt_id), None)  # still where it was
    assert (await _slot_state(clean, world.slot_ids[3]))[0] == int(blocker)

    moved = await booking_api.patch(f"/v1/appointments/{appt_id}/reschedule",
                                    json={"slot_id": str(world.slot_ids[4])})
    assert moved.status_code == 200, moved.text
    assert moved.json()["start_time"] == iso(world.start + timedelta(minutes=40))
    assert moved.json()["booking_confirmed_at"] is not None and moved.json()["rescheduled_at"] is not None
    assert (await _slot_state(clean, world.slot_ids[0]))[0] is None
    assert await _slot_state(clean, world.slot_ids[4]) == (int(appt_id), None)
    assert await _events(clean) == [("appointment.confirmed", appt_id), ("appointment.rescheduled", appt_id)]
    missing = await booking_api.patch(f"/v1/appointments/{appt_id}/reschedule", json={})
    assert missing.status_code == 400


async def test_other_tenants_appointments_are_404(booking_api: httpx.AsyncClient, world: BookingWorld,
                                                  clean: Database, clock: FrozenClock) -> None:
    other = await make_world(clean, clock.now())
    foreign = await booking_api.post("/v1/appointments", json=other.reserve_body())
    assert foreign.status_code == 404  # their type/location/practitioner do not exist for us
    async with clean.session() as s:
        appt = Appointment(practice_group_id=other.tenant.id, practitioner_id=other.practitioner.id,
                           location_id=other.location.id, appointment_type_id=other.appt_type.id,
                           start_time=other.start, duration=10, reserved_until=clock.now() + timedelta(minutes=15))
        s.add(appt)
        await s.commit()
    for method, suffix in (("GET", ""), ("PATCH", "/book"), ("PATCH", "/cancel"), ("PATCH", "/reschedule")):
        body = {"start_time": iso(world.start)} if suffix == "/reschedule" else None
        r = await booking_api.request(method, f"/v1/appointments/{appt.id}{suffix}", json=body)
        assert r.status_code == 404, (suffix, r.text)
    put = await booking_api.put(f"/v1/appointments/{appt.id}", json={
        "start_time": iso(world.start), "duration": 10, "practitioner_id": str(world.practitioner.id)})
    assert put.status_code == 404
    assert (await booking_api.get("/v1/appointments/nope")).status_code == 404
    mine = (await booking_api.post("/v1/appointments", json=world.reserve_body())).json()["id"]
    await booking_api.patch(f"/v1/appointments/{mine}/book")
    stolen = await booking_api.patch(f"/v1/appointments/{mine}/reschedule", json={"slot_id": str(other.slot_ids[1])})
    assert stolen.status_code == 404 and stolen.json()["message"][0]["code"] == "not_found"
    async with clean.session(write=False) as s:
        assert (await s.execute(select(func.count()).select_from(Appointment))).scalar_one() == 2
        their_slot = await s.get(Slot, other.slot_ids[1])
        assert their_slot is not None and their_slot.appointment_id is None


async def test_booking_task_goes_to_the_appointment_types_assignee(
        booking_api: httpx.AsyncClient, world: BookingWorld, clean: Database) -> None:
    from openhero.booking.models import AppointmentType
    from tests.builders import make_admin_team

    team = await make_admin_team(clean, world.tenant.id)
    async with clean.session() as s:
        appt_type = await s.get(AppointmentType, world.appt_type.id)
        assert appt_type is not None
        appt_type.assignee_type, appt_type.assignee_id, appt_type.sector = "AdminTeam", team.id, "paid"
        await s.commit()
    appt_id = (await booking_api.post("/v1/appointments", json=world.reserve_body())).json()["id"]
    assert (await booking_api.patch(f"/v1/appointments/{appt_id}/book")).status_code == 200
    async with clean.session(write=False) as s:
        task = (await s.execute(select(Task))).scalar_one()
    assert (task.assignee_type, task.assignee_id) == ("admin_team", team.id)
    assert world.practitioner.last_name in (task.details or "")


async def test_malformed_requests_are_4xx_never_500(booking_api: httpx.AsyncClient, world: BookingWorld) -> None:
    appt_id = (await booking_api.post("/v1/appointments", json=world.reserve_body())).json()["id"]
    cases = [
        ("POST", "/v1/appointments", [], 400),
        ("POST", "/v1/appointments", world.reserve_body(practitioner_id="9" * 20), 400),
        ("POST", "/v1/appointments", world.reserve_body(duration=10.5), 400),
        ("POST", "/v1/appointments", world.reserve_body(start_time=None), 400),
        ("POST", "/v1/appointments", world.reserve_body(suppress_availability_check="yes"), 400),
        ("PATCH", f"/v1/appointments/{appt_id}/cancel", {"suppress_cancellation_policy": "maybe"}, 400),
        ("PUT", "/v1/appointments/99999999999999999999", {"start_time": iso(world.start), "duration": 10,
                                                          "practitioner_id": str(world.practitioner.id)}, 404),
        ("PATCH", "/v1/appointments/-1/book", None, 404),
        ("GET", "/v1/slots?page_index=-1", None, 400),
    ]
    for method, path, body, status in cases:
        r = await booking_api.request(method, path, json=body)
        assert r.status_code == status, (method, path, r.text)
        assert r.json()["error"] is True and r.json()["statusCode"] == status
    bad_json = await booking_api.patch(f"/v1/appointments/{appt_id}/cancel", content=b"{nope",
                                       headers={"content-type": "application/json"})
    assert bad_json.status_code == 400
    # Nothing above changed the reservation.
    got = (await booking_api.get(f"/v1/appointments/{appt_id}")).json()
    assert got["cancelled_at"] is None and got["start_time"] == iso(world.start)
