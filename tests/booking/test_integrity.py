"""Never double booked: 200 concurrent reserves over real HTTP, the database's own guard, and events
that exist only when the booking's transaction commits."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from openhero.booking import appointments
from openhero.booking.models import Appointment, Slot
from openhero.core.auth import Principal
from openhero.core.clock import FrozenClock
from openhero.core.db import Database
from openhero.core.outbox import Event
from openhero.tasks.models import Task
from tests.booking.builders import BookingWorld


async def test_200_concurrent_reserves_of_one_slot_give_one_winner(
        live_server: str, world: BookingWorld, clean: Database) -> None:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=live_server, headers=world.tenant.headers, limits=limits,
                                 timeout=60) as client:
        body = world.reserve_body()
        started = time.perf_counter()
        results = await asyncio.gather(*(client.post("/v1/appointments", json=body) for _ in range(200)))
        elapsed = time.perf_counter() - started
    codes = sorted(r.status_code for r in results)
    assert codes.count(200) == 1 and codes.count(409) == 199, codes
    assert all(r.json()["message"][0]["code"] == "slot_unavailable" for r in results if r.status_code == 409)
    winner = next(r.json()["id"] for r in results if r.status_code == 200)
    async with clean.session(write=False) as s:
        assert (await s.execute(select(func.count()).select_from(Appointment))).scalar_one() == 1
        slot = await s.get(Slot, world.slot_ids[0])
        assert slot is not None and slot.appointment_id == int(winner)
    print(f"200-way contention: {elapsed:.2f}s")


def _principal(world: BookingWorld) -> Principal:
    return Principal(key_id=world.tenant.key.id, practice_group_id=world.tenant.id,
                     home_practice_group_id=world.tenant.id, scopes=frozenset({"booking"}))


async def _count(db: Database, model: type) -> int:
    async with db.session(write=False) as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def test_a_rolled_back_booking_writes_no_event_and_no_task(world: BookingWorld, clean: Database,
                                                                  clock: FrozenClock) -> None:
    principal, now = _principal(world), clock.now()
    placement = appointments.Placement(practitioner_id=world.practitioner.id, location_id=world.location.id,
                                       appointment_type_id=world.appt_type.id, start_time=world.start, duration=10)
    async with clean.session() as s:
        appt = await appointments.reserve(s, principal, appointments.ReserveCommand(placement=placement), now)
        await s.commit()
    async with clean.session() as s:
        await appointments.book(s, principal, str(appt.id), now)
        # Inside the transaction the event and the task exist...
        assert (await s.execute(select(func.count()).select_from(Event))).scalar_one() == 1
        assert (await s.execute(select(func.count()).select_from(Task))).scalar_one() == 1
        await s.rollback()
    # ...and a rollback takes them away with the booking itself.
    assert await _count(clean, Event) == 0 and await _count(clean, Task) == 0
    async with clean.session(write=False) as s:
        stored = await s.get(Appointment, appt.id)
        assert stored is not None and stored.booking_confirmed_at is None
    async with clean.session() as s:
        await appointments.book(s, principal, str(appt.id), now)
        await s.commit()
    assert await _count(clean, Event) == 1 and await _count(clean, Task) == 1


async def test_the_database_refuses_a_second_live_booking_of_a_slot(world: BookingWorld, clean: Database,
                                                                     clock: FrozenClock) -> None:
    """Even code that skipped the claim could not store two confirmed, uncancelled bookings of one slot."""
    now = clock.now()

    def booking(**extra: object) -> Appointment:
        return Appointment(practice_group_id=world.tenant.id, practitioner_id=world.practitioner.id,
                           location_id=world.location.id, appointment_type_id=world.appt_type.id,
                           slot_id=world.slot_ids[0], start_time=world.start, duration=10,
                           booking_confirmed_at=now, **extra)

    async with clean.session() as s:
        s.add(booking(cancelled_at=now))
        s.add(booking())
        await s.commit()
    with pytest.raises(IntegrityError):
        async with clean.session() as s:
            s.add(booking())
            await s.commit()


async def test_lapsed_holds_are_tidied_by_the_worker_but_never_needed_it(
        api: httpx.AsyncClient, world: BookingWorld, clean: Database, clock: FrozenClock, settings) -> None:  # type: ignore[no-untyped-def]
    from openhero.core.worker import Worker

    appt_id = (await api.post("/v1/appointments", json=world.reserve_body())).json()["id"]
    clock.advance(minutes=16)
    # Free again before any tidy-up ran...
    assert (await api.post("/v1/appointments", json=world.reserve_body(
        world.start + timedelta(minutes=10)))).status_code == 200
    assert (await api.get("/v1/slots/count")).json()["count"] == 5
    await Worker(clean, settings, clock).drain()
    async with clean.session(write=False) as s:
        slot = await s.get(Slot, world.slot_ids[0])
        assert slot is not None and slot.appointment_id is None and slot.held_until is None
        held = await s.get(Slot, world.slot_ids[1])
        assert held is not None and held.held_until is not None  # the live hold is untouched
    assert (await api.patch(f"/v1/appointments/{appt_id}/book")).status_code == 409
