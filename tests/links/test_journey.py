"""A patient books through a booking link's pages: the whole journey, and how it refuses."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlparse

from sqlalchemy import select, update

from openhero.booking.models import Appointment, AppointmentType
from openhero.core.outbox import Event
from openhero.forms.models import FormResponse
from openhero.links.flow import MISMATCH
from openhero.patients.models import Patient
from openhero.tasks.models import Task
from tests.forms.builders import make_demo_forms
from tests.links.browser import CSRF, Browser, dob_fields


def _error_box(page: str) -> str:
    return page[page.index('class="error-summary"'):page.index("</div>", page.index('class="error-summary"'))]


async def _link(api, world, **fields):  # type: ignore[no-untyped-def]
    body = {"appointment_type_id": str(world.appt_type.id), "location_id": str(world.location.id), **fields}
    response = await api.post("/v1/booking_links", json=body)
    assert response.status_code == 200, response.text
    link = response.json()
    return link, urlparse(link["short_link"]).path


async def test_patient_books_with_form(app, api, clean, world, patient, clock):
    travel = (await make_demo_forms(clean, world.tenant.id, clock.now()))[1]
    async with clean.session() as s:
        await s.execute(update(AppointmentType).where(AppointmentType.id == world.appt_type.id)
                        .values(form_id=travel.id))
        await s.commit()
    link, path = await _link(api, world, patient_id=str(patient.id), maximum_use_count=1)

    async with Browser(app) as amira:
        opened = await amira.get(path)
        assert opened.status_code == 200 and "What is your date of birth?" in opened.text
        assert opened.headers["content-security-policy"].startswith("default-src 'none'")
        wrong = await amira.post(f"{path}/verify", dob_fields(16, 6, 1984))
        assert wrong.status_code == 400 and "You have 9 tries left" in wrong.text
        right = await amira.post(f"{path}/verify", dob_fields(15, 6, 1984))
        assert right.status_code == 303 and right.headers["location"] == f"{path}/slots"

        slots = await amira.get(f"{path}/slots")
        assert slots.status_code == 200 and "Choose a time" in slots.text
        assert amira.slot_ids() == world.slot_ids
        picked = await amira.post(f"{path}/slots", {"slot_id": world.slot_ids[1]})
        assert picked.status_code == 303 and picked.headers["location"] == f"{path}/confirm"

        review = await amira.get(f"{path}/confirm")
        assert review.status_code == 200 and "Before your travel vaccination appointment" in review.text
        assert "We are holding this time for you until" in review.text
        questions = {q.name: f"q{q.id}" for q in travel.questions}
        incomplete = await amira.post(f"{path}/confirm", {questions["Type of trip"]: "Holiday"})
        assert incomplete.status_code == 400 and "<title>Error: " in incomplete.text
        assert "Enter an answer to: Which countries are you visiting, and which areas" in incomplete.text
        done = await amira.post(f"{path}/confirm", {
            questions["Which countries are you visiting, and which areas?"]: "Kenya and Tanzania, rural areas",
            questions["Date you leave"]: (clock.now() + timedelta(days=40)).date().isoformat(),
            questions["Type of trip"]: "Holiday",
            questions["Where will you be staying?"]: ["Hotel", "Rural areas"],
            questions["Are you pregnant, or could you be?"]: "No",
            questions["Do you have a weakened immune system, or take medicine that affects it?"]: "No"})
        assert done.status_code == 303 and done.headers["location"] == f"{path}/confirmed"
        confirmed = await amira.get(f"{path}/confirmed")
        assert confirmed.status_code == 200 and "Appointment confirmed" in confirmed.text

        async with clean.session() as s:
            appt = (await s.execute(select(Appointment))).scalar_one()
            response = (await s.execute(select(FormResponse))).scalar_one()
            tasks = {t.category: t for t in (await s.execute(select(Task))).scalars().all()}
            events = sorted((await s.execute(select(Event.event_type))).scalars().all())
        assert appt.booking_confirmed_at == clock.now() and appt.patient_id == patient.id
        assert appt.link_id == int(link["id"]) and appt.slot_id == world.slot_ids[1]
        assert response.appointment_id == appt.id and response.patient_id == patient.id
        assert response.short_link_id == int(link["id"])
        values = [a["value"] for a in response.answers]
        assert "Holiday" in values and ["Hotel", "Rural areas"] in values
        assert tasks["appointment"].appointment_id == appt.id
        assert tasks["form_response"].form_response_id == response.id
        assert events == ["appointment.confirmed", "form-submission.created"]

        counters = (await api.get(f"/v1/booking_links/{link['id']}")).json()
        assert (counters["number_of_uses"], counters["open_count"], counters["active"]) == (1, 1, False)
        again = await amira.get(path)
        assert again.status_code == 410 and "already been used" in again.text


async def test_generic_link_registers_once_and_holds_slots(app, api, clean, world, clock):
    link, path = await _link(api, world)
    details = {"first_name": "Tom", "last_name": "Hughes", "mobile": "07700 900456", **dob_fields(2, 3, 1990)}
    async with Browser(app) as tom, Browser(app) as ann:
        assert "Tell us who you are" in (await tom.get(path)).text
        bad = await tom.post(f"{path}/verify", {**details, "nhs_number": "1234567890"})
        assert bad.status_code == 400 and "valid 10-digit NHS number" in bad.text
        assert (await tom.post(f"{path}/verify", details)).status_code == 303
        await tom.get(f"{path}/slots")
        assert (await tom.post(f"{path}/slots", {"slot_id": world.slot_ids[0]})).status_code == 303

        await ann.get(path)
        assert (await ann.post(f"{path}/verify", {**details, "first_name": "Ann"})).status_code == 303
        await ann.get(f"{path}/slots")
        assert world.slot_ids[0] not in ann.slot_ids() and len(ann.slot_ids()) == 5
        assert (await ann.post(f"{path}/slots", {"slot_id": world.slot_ids[2]})).status_code == 303
        await ann.get(f"{path}/slots")
        taken = await ann.post(f"{path}/slots", {"slot_id": world.slot_ids[0]})
        assert taken.status_code == 303 and taken.headers["location"] == f"{path}/problem?kind=slot_taken"
        taken = await ann.get(taken.headers["location"])
        assert taken.status_code == 409 and "just been taken" in taken.text
        # the refused change of mind was rolled back whole: Ann still holds the time she had
        async with clean.session() as s:
            holds = {a.slot_id: a.cancelled_at for a in (await s.execute(select(Appointment))).scalars().all()}
        assert holds == {world.slot_ids[0]: None, world.slot_ids[2]: None}

        # the hold lapses after 15 minutes: the time is offered again and Tom can no longer confirm it
        clock.advance(minutes=16)
        await ann.get(f"{path}/slots")
        assert world.slot_ids[0] in ann.slot_ids()
        late = await tom.client.get(f"{path}/confirm")
        assert late.status_code == 409 and "no longer being held" in late.text

    # Tom opening the link again later is matched to the record he made, not registered twice
    async with Browser(app) as tom_again:
        await tom_again.get(path)
        assert (await tom_again.post(f"{path}/verify", details)).status_code == 303
    async with clean.session() as s:
        names = sorted((await s.execute(select(Patient.first_name))).scalars().all())
    assert names == ["Ann", "Tom"]
    assert (await api.get(f"/v1/booking_links/{link['id']}")).json()["open_count"] == 3


async def test_wrong_dob_locks_after_ten_tries(app, api, world, patient):
    link, path = await _link(api, world, patient_id=str(patient.id))
    async with Browser(app) as stranger:
        await stranger.get(path)
        for attempt in range(1, 10):
            wrong = await stranger.post(f"{path}/verify", dob_fields(1, 1, 1970 + attempt))
            assert wrong.status_code == 400
        locked = await stranger.post(f"{path}/verify", dob_fields(1, 1, 1999), follow=True)
        assert locked.status_code == 403 and "locked" in locked.text
        # even the right date of birth no longer opens it; the lock is stored, not held in memory
        assert (await stranger.get(path)).status_code == 403
    assert (await api.get(f"/v1/booking_links/{link['id']}")).json()["active"] is False
    # the practice reopens it after checking with the patient
    assert (await api.patch(f"/v1/booking_links/{link['id']}", json={"active": True})).json()["active"] is True
    async with Browser(app) as amira:
        await amira.get(path)
        assert (await amira.post(f"{path}/verify", dob_fields(15, 6, 1984))).status_code == 303


async def test_post_without_csrf_token_changes_nothing(app, api, clean, world, patient):
    link, path = await _link(api, world, patient_id=str(patient.id))
    async with Browser(app) as amira:
        await amira.get(path)
        forged = await amira.post(f"{path}/verify", dob_fields(1, 1, 1999), csrf=False, follow=True)
        assert forged.status_code == 403 and "start again" in forged.text
        # a file part where text is expected counts as empty: a clear page, not a crash
        token = CSRF.search((await amira.get(path)).text).group(1)  # type: ignore[union-attr]
        odd = await amira.client.post(f"{path}/verify", files={"dob-day": ("day.txt", b"1")},
                                      data={"csrf_token": token, "dob-month": "1", "dob-year": "1999"})
        assert odd.headers["location"] == f"{path}/verify"
        odd = await amira.get(odd.headers["location"])
        assert odd.status_code == 400 and "real date" in odd.text
        # the rejected answers were shown once: the page does not show them again
        assert (await amira.client.get(f"{path}/verify")).headers["location"] == path
    async with clean.session() as s:
        from openhero.links.models import BookingLink

        assert (await s.get(BookingLink, int(link["id"]))).failed_dob_attempts == 0


async def test_expiry_follows_the_clock(app, api, world, clock):
    today = clock.now().date()
    link, path = await _link(api, world, expiry_date=(today + timedelta(days=1)).isoformat())
    async with Browser(app) as visitor:
        assert (await visitor.get(path)).status_code == 200
        clock.advance(days=3)
        expired = await visitor.get(path)
        assert expired.status_code == 410 and "expired" in expired.text
        assert (await visitor.get(f"{path}/slots")).status_code == 410
    assert (await api.get(f"/v1/booking_links/{link['id']}")).json()["active"] is False
    async with Browser(app) as visitor:
        assert (await visitor.get("/l/no-such-code")).status_code == 404


async def test_last_use_goes_to_the_first_to_confirm(app, api, clean, world):
    link, path = await _link(api, world, maximum_use_count=1)
    async with Browser(app) as first, Browser(app) as second:
        for who, name, slot in ((first, "Lee", world.slot_ids[0]), (second, "Kim", world.slot_ids[1])):
            await who.get(path)
            await who.post(f"{path}/verify", {"first_name": name, "last_name": "Smith", "mobile": "07700900789",
                                              **dob_fields(5, 5, 1975)})
            await who.get(f"{path}/slots")
            assert (await who.post(f"{path}/slots", {"slot_id": slot})).status_code == 303
            await who.get(f"{path}/confirm")
        assert (await first.post(f"{path}/confirm")).status_code == 303
        refused = await second.post(f"{path}/confirm", follow=True)
        assert refused.status_code == 410 and "already been used" in refused.text
    async with clean.session() as s:
        confirmed = (await s.execute(select(Appointment.slot_id).where(
            Appointment.booking_confirmed_at.is_not(None)))).scalars().all()
    assert confirmed == [world.slot_ids[0]]
    assert (await api.get(f"/v1/booking_links/{link['id']}")).json()["number_of_uses"] == 1


async def test_generic_link_matches_by_nhs_number_without_changing_the_record(app, api, clean, world, patient):
    _, path = await _link(api, world)
    async with Browser(app) as visitor:
        await visitor.get(path)
        claimed = {"first_name": "Amira", "last_name": "Khan", "nhs_number": "943 476 5919"}
        wrong = await visitor.post(f"{path}/verify", {**claimed, **dob_fields(16, 6, 1984)})
        assert wrong.status_code == 400 and MISMATCH in wrong.text
        unknown = await visitor.post(f"{path}/verify", {**claimed, "nhs_number": "401 023 2137",
                                                        **dob_fields(15, 6, 1984)})
        # an unknown NHS number is answered exactly as a known one with wrong details (no oracle)
        assert unknown.status_code == 400 and _error_box(unknown.text) == _error_box(wrong.text)
        right = await visitor.post(f"{path}/verify", {**claimed, "first_name": "AMIRA", **dob_fields(15, 6, 1984)})
        assert right.status_code == 303
        await visitor.get(f"{path}/slots")
        assert (await visitor.post(f"{path}/slots", {"slot_id": world.slot_ids[0]})).status_code == 303
    async with clean.session() as s:
        patients = (await s.execute(select(Patient))).scalars().all()
        held = (await s.execute(select(Appointment))).scalar_one()
    assert [(p.id, p.first_name) for p in patients] == [(patient.id, "Amira")]
    assert held.patient_id == patient.id


async def test_date_window_limits_the_times(app, api, world, patient):
    day = world.start.date()
    link, path = await _link(api, world, patient_id=str(patient.id), from_date=(day + timedelta(days=1)).isoformat())
    async with Browser(app) as amira:
        await amira.get(path)
        await amira.post(f"{path}/verify", dob_fields(15, 6, 1984))
        empty = await amira.get(f"{path}/slots")
        assert empty.status_code == 200 and "no times available" in empty.text and amira.slot_ids() == []
        await api.patch(f"/v1/booking_links/{link['id']}", json={"from_date": None, "to_date": day.isoformat()})
        await amira.get(f"{path}/slots")
        assert amira.slot_ids() == world.slot_ids


async def test_concurrent_confirmations_take_the_last_use_once(live_server, api, clean, world):
    import asyncio

    link, path = await _link(api, world, maximum_use_count=1)
    browsers = [Browser(base_url=live_server) for _ in range(4)]
    try:
        for n, who in enumerate(browsers):
            await who.get(path)
            await who.post(f"{path}/verify", {"first_name": f"P{n}", "last_name": "Race", "mobile": "07700900321",
                                              **dob_fields(9, 9, 1969)})
            await who.get(f"{path}/slots")
            assert (await who.post(f"{path}/slots", {"slot_id": world.slot_ids[n]})).status_code == 303
            await who.get(f"{path}/confirm")
        answers = await asyncio.gather(*(who.post(f"{path}/confirm") for who in browsers))
    finally:
        for who in browsers:
            await who.client.aclose()
    assert sorted(a.headers["location"].rpartition("/")[2] for a in answers) == [
        "confirmed", "problem?kind=used_up", "problem?kind=used_up", "problem?kind=used_up"]
    async with clean.session() as s:
        booked = (await s.execute(select(Appointment).where(Appointment.booking_confirmed_at.is_not(None)))).all()
    assert len(booked) == 1
    assert (await api.get(f"/v1/booking_links/{link['id']}")).json()["number_of_uses"] == 1
