"""The demo schedule: GP sessions in UK local time, two weeks ahead, idempotent."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from openhero.booking.demo import seed_demo_schedule
from openhero.booking.models import Slot
from openhero.core.db import Database
from tests.booking.builders import make_appointment_type, place_practitioner
from tests.builders import make_location, make_practitioner, make_tenant

LONDON = ZoneInfo("Europe/London")


async def test_seed_demo_schedule_makes_surgery_sessions(clean: Database) -> None:
    tenant = await make_tenant(clean)
    main, branch = await make_location(clean, tenant.id), await make_location(clean, tenant.id)
    gp = await make_practitioner(clean, tenant.id)
    nurse = await make_practitioner(clean, tenant.id, practitioner_type="Nurse")
    unplaced = await make_practitioner(clean, tenant.id)
    await place_practitioner(clean, gp.id, [main.id, branch.id])
    await place_practitioner(clean, nurse.id, [main.id])
    gp_type = await make_appointment_type(clean, tenant.id, duration=10)
    long_type = await make_appointment_type(clean, tenant.id, name="Long GP", duration=15, location_ids=[main.id])
    nurse_type = await make_appointment_type(clean, tenant.id, name="Bloods", duration=10, practitioner_type="Nurse")
    now = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)  # a Wednesday; UK clocks go forward on the 29th

    async with clean.session() as s:
        made = await seed_demo_schedule(s, tenant.id, now, days=14)
        await s.commit()
    async with clean.session() as s:
        assert await seed_demo_schedule(s, tenant.id, now, days=14) == 0  # tops up, never duplicates
        await s.commit()
        slots = (await s.execute(select(Slot).order_by(Slot.start_time))).scalars().all()
    assert made == len(slots) > 0
    assert {s.practitioner_id for s in slots} == {gp.id, nurse.id} and unplaced.id not in {s.practitioner_id
                                                                                         for s in slots}
    for slot in slots:
        local_start, local_end = slot.start_time.astimezone(LONDON), slot.finish_time.astimezone(LONDON)
        assert slot.start_time > now and local_start.weekday() < 5
        in_morning = (8, 30) <= (local_start.hour, local_start.minute) and local_end.time() <= datetime(
            2000, 1, 1, 12).time()
        in_afternoon = local_start.hour >= 14 and local_end.time() <= datetime(2000, 1, 1, 18).time()
        assert in_morning or in_afternoon, local_start
        minutes = (slot.finish_time - slot.start_time).total_seconds() / 60
        kind = {gp_type.id: 10, long_type.id: 15, nurse_type.id: 10}[slot.appointment_type_id]
        assert minutes == kind
        if slot.appointment_type_id == long_type.id:
            assert slot.location_id == main.id
        if slot.practitioner_id == nurse.id:
            assert slot.appointment_type_id == nurse_type.id
    # Sessions start at 08:30 UK time on both sides of the clock change (08:30 UTC, then 07:30 UTC).
    firsts = {s.start_time.astimezone(LONDON).date(): s.start_time for s in reversed(slots)}
    assert firsts[datetime(2026, 3, 27).date()].hour == 8 and firsts[datetime(2026, 3, 30).date()].hour == 7
    per_doc = [s for s in slots if s.practitioner_id == gp.id]
    assert all(a.finish_time <= b.start_time for a, b in zip(per_doc, per_doc[1:], strict=False))
