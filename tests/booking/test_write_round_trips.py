"""Reserve and book in few round trips, with every refusal unchanged.

Reserve reads everything it checks (practice group, appointment type and whether it is offered at the
location, location, practitioner, patient, the practitioner's slots around the time) in one SELECT; book
reads the appointment, its group and the task's facts in one. The bounds below fail if a per-lookup query
comes back; the outcome table pins which refusal wins when several apply (status, code, message, path).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import event, inspect, select, update

from openhero.booking import appointments
from openhero.booking.models import Appointment, AppointmentType, Slot
from openhero.core.auth import Principal
from openhero.core.clock import FrozenClock
from openhero.core.db import Database
from openhero.practice.models import Practitioner
from tests.booking.builders import BookingWorld, iso, make_appointment_type, make_world
from tests.builders import make_location, make_patient, make_practitioner


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """Every statement the engine sends while the block runs (BEGIN left out: PostgreSQL's does not pass
    through the cursor)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


def _outcome(r: httpx.Response) -> tuple[int, list[tuple[str, str, list[Any]]]]:
    if r.status_code == 200:
        return 200, []
    return r.status_code, [(m["code"], m["message"], m["path"]) for m in r.json()["message"]]


async def _set(db: Database, model: type, row_id: int, **values: Any) -> None:
    async with db.session() as s:
        await s.execute(update(model).where(model.id == row_id).values(**values))  # type: ignore[attr-defined]
        await s.commit()


async def test_reserve_and_book_round_trips(booking_api: httpx.AsyncClient, world: BookingWorld, clean: Database,
                                            backend: str) -> None:
    patient = await make_patient(clean, world.tenant.id)
    first = await booking_api.post("/v1/appointments", json=world.reserve_body(patient_id=str(patient.id)))
    assert first.status_code == 200  # warm: caches, prepared statements

    with statements(clean) as reserve:
        r = await booking_api.post("/v1/appointments", json=world.reserve_body(
            world.start + timedelta(minutes=10), patient_id=str(patient.id)))
    assert r.status_code == 200, r.text
    with statements(clean) as book:
        assert (await booking_api.patch(f"/v1/appointments/{r.json()['id']}/book")).status_code == 200
    with statements(clean) as get:
        assert (await booking_api.get(f"/v1/appointments/{r.json()['id']}")).status_code == 200

    # reserve: one SELECT of everything it checks, INSERT the appointment and UPDATE (claim) its slots (one
    # statement on PostgreSQL)
    assert len(reserve) <= (2 if backend == "postgres" else 3), reserve
    # book: SELECT the appointment with its group and facts; confirm (PostgreSQL: one statement, SQLite: UPDATE
    # the slots, UPDATE the appointment); INSERT the event (on PostgreSQL with the workers' NOTIFY in the same
    # statement, core/outbox.emit); INSERT the task
    assert len(book) <= (4 if backend == "postgres" else 5), book
    if backend == "postgres":
        assert not any(s.lstrip().upper().startswith("SELECT PG_NOTIFY") for s in book), book
    assert len(get) <= 1, get


async def test_reserve_outside_slots_round_trips(booking_api: httpx.AsyncClient, world: BookingWorld,
                                                 clean: Database, backend: str) -> None:
    lock = 1 if backend == "postgres" else 0  # the practitioner's row lock
    assert (await booking_api.post("/v1/appointments", json=world.reserve_body())).status_code == 200  # warm
    off_grid = world.start + timedelta(hours=3)
    with statements(clean) as reserve:
        r = await booking_api.post("/v1/appointments", json=world.reserve_body(
            off_grid, suppress_availability_check=True))
    assert r.status_code == 200, r.text
    # SQLite: facts with slots, INSERT the private slot, INSERT the appointment, UPDATE (claim); PostgreSQL:
    # facts, lock, slots, INSERT the private slot, INSERT the appointment and claim in one
    assert len(reserve) <= 4 + lock, reserve


async def test_reserve_refusals_keep_their_order(booking_api: httpx.AsyncClient, world: BookingWorld,
                                                 clean: Database, clock: FrozenClock) -> None:
    """Which refusal a reserve gets when several apply, exactly as the one-lookup-at-a-time code gave it."""
    gid = world.tenant.id
    other = await make_world(clean, clock.now())
    patient = await make_patient(clean, gid)
    foreign_patient = await make_patient(clean, other.tenant.id)
    elsewhere = await make_location(clean, gid)  # ours, but the type is not offered there
    idle = await make_practitioner(clean, gid, active=False)
    retired = await make_appointment_type(clean, gid, active=False, location_ids=[world.location.id])
    anywhere = await make_appointment_type(clean, gid)  # no locations: offered everywhere
    past = iso(clock.now() - timedelta(hours=1))
    body = world.reserve_body
    cases: dict[str, dict[str, Any]] = {
        "past and unknown type": body(start_time=past, appointment_type_id=str(other.appt_type.id)),
        "foreign type": body(appointment_type_id=str(other.appt_type.id)),
        "foreign type, location, practitioner": other.reserve_body(),
        "foreign location": body(location_id=str(other.location.id)),
        "foreign location, idle practitioner": body(location_id=str(other.location.id),
                                                    practitioner_id=str(idle.id)),
        "foreign practitioner": body(practitioner_id=str(other.practitioner.id)),
        "missing practitioner": body(practitioner_id="999999"),
        "retired type, idle practitioner, elsewhere": body(appointment_type_id=str(retired.id),
                                                           practitioner_id=str(idle.id),
                                                           location_id=str(elsewhere.id)),
        "idle practitioner, elsewhere": body(practitioner_id=str(idle.id), location_id=str(elsewhere.id)),
        "elsewhere": body(location_id=str(elsewhere.id)),
        "elsewhere, foreign patient": body(location_id=str(elsewhere.id), patient_id=str(foreign_patient.id)),
        "foreign patient": body(patient_id=str(foreign_patient.id)),
        "missing patient, no slot": body(world.start + timedelta(minutes=5), patient_id="999999"),
        "type offered anywhere, no slot of it": body(appointment_type_id=str(anywhere.id),
                                                     location_id=str(elsewhere.id)),
        "no slot": body(world.start + timedelta(minutes=5)),
        "too long": body(world.start + timedelta(minutes=50), duration=20),
        "ok, with patient": body(patient_id=str(patient.id)),
        "taken": body(),
        "straddles the taken slot": body(world.start - timedelta(minutes=5), suppress_availability_check=True),
        "outside slots, after them": body(world.start + timedelta(hours=2), suppress_availability_check=True),
        "outside slots, same time again": body(world.start + timedelta(hours=2), suppress_availability_check=True),
    }
    got = {name: _outcome(await booking_api.post("/v1/appointments", json=b)) for name, b in cases.items()}
    not_found = {what: (404, [("not_found", f"{what} not found", [])]) for what in (
        "Appointment type", "Location", "Practitioner", "Patient")}
    unavailable = (409, [("slot_unavailable", "That slot is already reserved or booked", ["start_time"])])
    no_slot = (409, [("slot_not_found", "No published slot for that practitioner, location, appointment type "
                                        "and time", ["start_time"])])
    assert got == {
        "past and unknown type": (400, [("invalid_date", "start_time must be in the future", ["start_time"])]),
        "foreign type": not_found["Appointment type"],
        "foreign type, location, practitioner": not_found["Appointment type"],
        "foreign location": not_found["Location"],
        "foreign location, idle practitioner": not_found["Location"],
        "foreign practitioner": not_found["Practitioner"],
        "missing practitioner": not_found["Practitioner"],
        "retired type, idle practitioner, elsewhere": (409, [(
            "appointment_type_inactive", "The appointment type is no longer offered", ["appointment_type_id"])]),
        "idle practitioner, elsewhere": (409, [(
            "practitioner_inactive", "The practitioner is not taking appointments", ["practitioner_id"])]),
        "elsewhere": (409, [("location_not_offered", "The appointment type is not offered at that location",
                             ["location_id"])]),
        "elsewhere, foreign patient": (409, [("location_not_offered", "The appointment type is not offered at "
                                              "that location", ["location_id"])]),
        "foreign patient": not_found["Patient"],
        "missing patient, no slot": not_found["Patient"],
        "type offered anywhere, no slot of it": no_slot,
        "no slot": no_slot,
        "too long": no_slot,
        "ok, with patient": (200, []),
        "taken": unavailable,
        "straddles the taken slot": unavailable,
        "outside slots, after them": (200, []),
        "outside slots, same time again": unavailable,
    }


async def test_edit_reschedule_and_book_refusals(booking_api: httpx.AsyncClient, world: BookingWorld,
                                                 clean: Database, clock: FrozenClock) -> None:
    gid = world.tenant.id
    other = await make_world(clean, clock.now())
    idle = await make_practitioner(clean, gid, active=False)
    held = (await booking_api.post("/v1/appointments", json=world.reserve_body())).json()["id"]

    def move(**overrides: Any) -> dict[str, Any]:
        return {"start_time": iso(world.start + timedelta(minutes=10)), "duration": 10,
                "practitioner_id": str(world.practitioner.id), **overrides}

    edits = {
        "foreign practitioner": move(practitioner_id=str(other.practitioner.id)),
        "idle practitioner": move(practitioner_id=str(idle.id)),
        "past": move(start_time=iso(clock.now() - timedelta(minutes=1))),
        "no slot": move(start_time=iso(world.start + timedelta(minutes=15))),
        "ok": move(),
    }
    got = {name: _outcome(await booking_api.put(f"/v1/appointments/{held}", json=b)) for name, b in edits.items()}
    got["book"] = _outcome(await booking_api.patch(f"/v1/appointments/{held}/book"))
    got["book again"] = _outcome(await booking_api.patch(f"/v1/appointments/{held}/book"))
    got["book missing"] = _outcome(await booking_api.patch("/v1/appointments/999999/book"))
    got["book foreign"] = _outcome(await booking_api.patch(f"/v1/appointments/{other.slot_ids[0]}/book"))
    moves = {
        "to a foreign location": {"start_time": iso(world.start + timedelta(minutes=20)),
                                  "location_id": str(other.location.id)},
        "to an idle practitioner": {"start_time": iso(world.start + timedelta(minutes=20)),
                                    "practitioner_id": str(idle.id)},
        "to a foreign slot": {"slot_id": str(other.slot_ids[1])},
        "to a slot": {"slot_id": str(world.slot_ids[3])},
    }
    for name, b in moves.items():
        got[name] = _outcome(await booking_api.patch(f"/v1/appointments/{held}/reschedule", json=b))
    assert got == {
        "foreign practitioner": (404, [("not_found", "Practitioner not found", [])]),
        "idle practitioner": (409, [("practitioner_inactive", "The practitioner is not taking appointments",
                                     ["practitioner_id"])]),
        "past": (400, [("invalid_date", "start_time must be in the future", ["start_time"])]),
        "no slot": (409, [("slot_not_found", "No published slot for that practitioner, location, appointment "
                                             "type and time", ["start_time"])]),
        "ok": (200, []),
        "book": (200, []),
        "book again": (409, [("already_booked", "The appointment is already booked (confirmed)", ["id"])]),
        "book missing": (404, [("not_found", "Appointment not found", [])]),
        "book foreign": (404, [("not_found", "Appointment not found", [])]),
        "to a foreign location": (404, [("not_found", "Location not found", [])]),
        "to an idle practitioner": (409, [("practitioner_inactive", "The practitioner is not taking appointments",
                                           ["practitioner_id"])]),
        "to a foreign slot": (404, [("not_found", "Slot not found", [])]),
        "to a slot": (200, []),
    }


async def test_book_expired_hold_and_retired_type_task(booking_api: httpx.AsyncClient, world: BookingWorld,
                                                       clean: Database, clock: FrozenClock) -> None:
    """Booking reads the task's facts with the appointment: a type retired after the reserve still books."""
    first = (await booking_api.post("/v1/appointments", json=world.reserve_body())).json()["id"]
    second = (await booking_api.post("/v1/appointments", json=world.reserve_body(
        world.start + timedelta(minutes=10)))).json()["id"]
    await _set(clean, AppointmentType, world.appt_type.id, active=False)
    await _set(clean, Practitioner, world.practitioner.id, active=False)
    assert (await booking_api.patch(f"/v1/appointments/{first}/book")).status_code == 200
    # The hold lapsed on the slot though the appointment still says reserved: the confirm finds no hold.
    await _set(clean, Slot, world.slot_ids[1], held_until=clock.now())
    assert _outcome(await booking_api.patch(f"/v1/appointments/{second}/book")) == (409, [(
        "reservation_expired", "The reservation has expired; reserve the slot again", ["id"])])
    clock.advance(minutes=16)
    assert _outcome(await booking_api.patch(f"/v1/appointments/{second}/book")) == (409, [(
        "reservation_expired", "The reservation has expired; reserve the slot again", ["id"])])


async def test_reserved_appointment_is_complete_without_a_reload(world: BookingWorld, clean: Database,
                                                                 clock: FrozenClock) -> None:
    """reserve hands the session the row it inserted: every column set (none left to load, which an async
    session could not do lazily) and equal to what is stored."""
    principal = Principal(key_id=world.tenant.key.id, practice_group_id=world.tenant.id,
                          home_practice_group_id=world.tenant.id)
    placement = appointments.Placement(practitioner_id=world.practitioner.id, location_id=world.location.id,
                                       appointment_type_id=world.appt_type.id, start_time=world.start, duration=20)
    async with clean.session() as s:
        appt = await appointments.reserve(s, principal, appointments.ReserveCommand(placement, reason="Knee"),
                                          clock.now())
        state = inspect(appt)
        assert state.persistent and not state.unloaded and not state.expired_attributes
        assert not s.new and not s.dirty
        await s.commit()
        mine = {c.key: getattr(appt, c.key) for c in Appointment.__table__.c}
    async with clean.session(write=False) as s:
        stored = (await s.execute(select(Appointment))).scalar_one()
        assert {c.key: getattr(stored, c.key) for c in Appointment.__table__.c} == mine
        held = (await s.execute(select(Slot.id).where(Slot.appointment_id == appt.id).order_by(Slot.id))).all()
    assert [r.id for r in held] == world.slot_ids[:2] and appt.slot_id == world.slot_ids[0]
