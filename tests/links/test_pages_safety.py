"""The booking pages are safe to click twice, to go Back on, and to share a phone with; a booking has a
reference, a queued confirmation and a cancel page; identity guessing is counted and locked."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from urllib.parse import urlparse

from sqlalchemy import select, update

from openhero.booking.models import Appointment, AppointmentType
from openhero.core.jobs import Job
from openhero.core.outbox import Event
from openhero.links.confirmation import appointment_of, reference
from openhero.links.flow import MISMATCH
from openhero.links.web import COOKIE_NAME
from openhero.messaging.models import Message
from openhero.patients.models import Patient
from openhero.practice.models import PracticeGroup
from openhero.tasks.models import Task
from tests.builders import make_patient
from tests.forms.builders import make_demo_forms
from tests.links.browser import CSRF, Browser, dob_fields


async def _link(api, world, **fields):  # type: ignore[no-untyped-def]
    body = {"appointment_type_id": str(world.appt_type.id), "location_id": str(world.location.id), **fields}
    response = await api.post("/v1/booking_links", json=body)
    assert response.status_code == 200, response.text
    return response.json(), urlparse(response.json()["short_link"]).path


async def _to_confirm(who: Browser, path: str, slot_id: int) -> None:
    await who.get(path)
    assert (await who.post(f"{path}/verify", dob_fields(15, 6, 1984))).status_code == 303
    await who.get(f"{path}/slots")
    assert (await who.post(f"{path}/slots", {"slot_id": slot_id})).headers["location"] == f"{path}/confirm"
    assert (await who.get(f"{path}/confirm")).status_code == 200


async def test_double_click_and_back_after_booking_show_the_booking(app, api, clean, world, patient):
    link, path = await _link(api, world, patient_id=str(patient.id))
    async with Browser(app) as amira, Browser(app) as twin:
        await _to_confirm(amira, path, world.slot_ids[0])
        # the same time chosen twice (a double click on a time) is the same hold, not "just been taken"
        again = await amira.client.post(f"{path}/slots", data={"slot_id": world.slot_ids[0],
                                                                "csrf_token": CSRF.search(amira.page).group(1)})
        assert again.headers["location"] == f"{path}/confirm"
        await amira.get(f"{path}/confirm")
        cookie, token = amira.client.cookies[COOKIE_NAME], CSRF.search(amira.page).group(1)
        first = await amira.post(f"{path}/confirm")
        assert first.headers["location"] == f"{path}/confirmed"
        # a double click: the second request carries the cookie from before the first one's answer
        second = await twin.client.post(f"{path}/confirm", data={"csrf_token": token},
                                        headers={"cookie": f"{COOKIE_NAME}={cookie}"})
        assert second.status_code == 303 and second.headers["location"] == f"{path}/confirmed"
        shown = await twin.client.get(f"{path}/confirmed", headers={"cookie": second.headers["set-cookie"]
                                                                    .split(";")[0]})
        assert shown.status_code == 200 and "Appointment confirmed" in shown.text
        # Back after booking lands on the check page: it shows the booking; resubmitting it books nothing
        back = await amira.client.get(f"{path}/confirm")
        assert back.headers["location"] == f"{path}/confirmed"
        resent = await amira.client.post(f"{path}/confirm", data={"csrf_token": token})
        assert resent.headers["location"] == f"{path}/confirmed"
        assert (await amira.client.post(f"{path}/slots", data={"slot_id": world.slot_ids[1]})
                ).headers["location"] == f"{path}/confirmed"
        assert (await amira.client.get(f"{path}/slots")).headers["location"] == f"{path}/confirmed"
    async with clean.session() as s:
        appts = (await s.execute(select(Appointment))).scalars().all()
        messages = (await s.execute(select(Message))).scalars().all()
    assert [(a.slot_id, a.booking_confirmed_at is not None) for a in appts] == [(world.slot_ids[0], True)]
    assert len(messages) == 1
    assert (await api.get(f"/v1/booking_links/{link['id']}")).json()["number_of_uses"] == 1


async def test_client_disconnect_is_not_an_error(app, api, world, patient, caplog):
    _, path = await _link(api, world, patient_id=str(patient.id))
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": f"{path}/verify", "raw_path": f"{path}/verify".encode(), "query_string": b"",
             "root_path": "", "headers": [(b"host", b"testserver"), (b"content-length", b"500"),
                                          (b"content-type", b"application/x-www-form-urlencoded")],
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
    with caplog.at_level(logging.INFO):
        await app(scope, receive, send)
    assert sent[0]["status"] == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("client disconnected" in r.getMessage() for r in caplog.records)


async def test_reference_message_and_cancel(app, api, clean, world, patient, clock):
    async with clean.session() as s:
        await s.execute(update(AppointmentType).where(AppointmentType.id == world.appt_type.id)
                        .values(sector="paid", price=Decimal("45")))
        await s.commit()
    _, path = await _link(api, world, patient_id=str(patient.id))
    async with Browser(app) as amira:
        await amira.get(path)
        await amira.post(f"{path}/verify", dob_fields(15, 6, 1984))
        slots = await amira.get(f"{path}/slots")
        assert "Booking for <strong>Amira K.</strong>" in slots.text and "Private service: £45.00" in slots.text
        await amira.post(f"{path}/slots", {"slot_id": world.slot_ids[2]})
        check = await amira.get(f"{path}/confirm")
        assert "£45.00 (private service)" in check.text and f'href="{path}/slots">Change' in check.text
        done = await amira.post(f"{path}/confirm", follow=True)
        assert done.status_code == 200 and "£45.00 (private service" in done.text
        assert "Booking for" not in done.text  # the session ended with the booking
        async with clean.session() as s:
            appt = (await s.execute(select(Appointment))).scalar_one()
            message = (await s.execute(select(Message))).scalar_one()
            job = (await s.execute(select(Job).where(Job.kind == "messaging.send"))).scalar_one()
        ref = reference(appt.id)
        assert appointment_of(ref) == appt.id and appointment_of(ref[:-1] + "0") in (None, appt.id)
        assert ref in done.text and "We have sent you a text message" in done.text
        assert message.message_type == "sms" and message.recipient == patient.mobile and message.status == "queued"
        assert ref in message.content and "£45.00" in message.content and job.payload["message_id"] == message.id
        cancel_url = [u for u in done.text.split('"') if "/cancel/" in u][0]
        assert f"http://testserver{cancel_url}" in message.content

        page = await amira.get(cancel_url)
        assert page.status_code == 200 and "Cancel your appointment" in page.text and ref in page.text
        cancelled = await amira.post(cancel_url, follow=True)
        assert cancelled.status_code == 200 and "Appointment cancelled" in cancelled.text
        twice = await amira.post(cancel_url, follow=True)
        assert twice.status_code == 200 and "Appointment cancelled" in twice.text
        assert (await amira.get(cancel_url[:-3] + "xyz")).status_code == 404
    async with clean.session() as s:
        appt = (await s.execute(select(Appointment))).scalar_one()
        tasks = sorted(t.type_label for t in (await s.execute(select(Task))).scalars().all())
        events = sorted((await s.execute(select(Event.event_type))).scalars().all())
    assert appt.cancelled_at == clock.now() and not appt.cancellation_policy_suppressed
    assert tasks == ["Appointment booked", "Appointment cancelled"]
    assert events == ["appointment.cancelled", "appointment.confirmed"]


async def test_cancellation_policy_and_suppress_mail(app, api, clean, world, patient):
    link, path = await _link(api, world, patient_id=str(patient.id), suppress_mail=True)
    assert link["suppress_mail"] is True
    async with Browser(app) as amira:
        await _to_confirm(amira, path, world.slot_ids[0])
        done = await amira.post(f"{path}/confirm", follow=True)
        assert "We have sent you" not in done.text
        cancel_url = [u for u in done.text.split('"') if "/cancel/" in u][0]
        token = CSRF.search((await amira.get(cancel_url)).text).group(1)
        async with clean.session() as s:  # the practice needs 72 hours' notice; the time is 48 hours away
            await s.execute(update(PracticeGroup).where(PracticeGroup.id == world.tenant.id)
                            .values(cancellation_policy_hours=72))
            await s.commit()
        page = await amira.get(cancel_url)
        assert "cannot be cancelled online" in page.text and "72 hours" in page.text
        refused = await amira.client.post(cancel_url, data={"csrf_token": token})
        assert refused.headers["location"] == f"{path}/problem?kind=cannot_cancel"
        assert (await amira.get(refused.headers["location"])).status_code == 409
    async with clean.session() as s:
        assert (await s.execute(select(Message))).first() is None
        assert (await s.execute(select(Appointment.cancelled_at))).scalar_one() is None


async def test_not_you_releases_the_hold_and_forgets_the_patient(app, api, clean, world, patient):
    _, path = await _link(api, world, patient_id=str(patient.id))
    async with Browser(app) as someone:
        await _to_confirm(someone, path, world.slot_ids[0])
        assert "Booking for <strong>Amira K.</strong>" in someone.page
        left = await someone.post(f"{path}/not-you", follow=True)
        assert "What is your date of birth?" in left.text and "Booking for" not in left.text
        assert (await someone.client.get(f"{path}/slots")).status_code == 403
    async with clean.session() as s:
        assert (await s.execute(select(Appointment.cancelled_at))).scalar_one() is not None


async def test_generic_link_counts_wrong_identities(app, api, clean, world, patient):
    link, path = await _link(api, world)
    amira = {"first_name": "Amira", "last_name": "Khan", "nhs_number": "9434765919"}
    async with Browser(app) as guesser, Browser(app) as tom:
        await guesser.get(path)
        for year in range(1970, 1979):
            wrong = await guesser.post(f"{path}/verify", {**amira, **dob_fields(1, 1, year)})
            assert wrong.status_code == 400 and MISMATCH in wrong.text
        # someone else identifies: the link's count of wrong tries in a row starts again, the NHS number's not
        await tom.get(path)
        assert (await tom.post(f"{path}/verify", {"first_name": "Tom", "last_name": "Hughes", "mobile": "07700900456",
                                                  **dob_fields(2, 3, 1990)})).status_code == 303
        locked = await guesser.post(f"{path}/verify", {**amira, **dob_fields(1, 1, 1979)})
        assert locked.headers["location"] == f"{path}/problem?kind=identity_locked"
        await guesser.get(path)
        right = await guesser.post(f"{path}/verify", {**amira, **dob_fields(15, 6, 1984)}, follow=True)
        assert right.status_code == 403 and "cannot check them online" in right.text
        # ten wrong tries in a row on the link (one above, nine with unknown NHS numbers and no mobile) lock
        # it for everyone
        for n in range(9):
            await guesser.get(path)
            answer = await guesser.post(f"{path}/verify", {"first_name": "X", "last_name": "Y",
                                                           "nhs_number": ["4010232137", "9990000018"][n % 2],
                                                           **dob_fields(1, 1, 1980 + n)})
        assert answer.headers["location"] == path
        assert (await guesser.get(path)).status_code == 403
    assert (await api.get(f"/v1/booking_links/{link['id']}")).json()["active"] is False
    async with clean.session() as s:  # the practice hears of both locks
        locks = (await s.execute(select(Task.priority, Task.details).where(Task.category == "link_locked"))).all()
    assert len(locks) == 2 and {p for p, _ in locks} == {"high"}
    assert any("one NHS number" in d for _, d in locks) and any("in a row" in d for _, d in locks)
    assert (await api.patch(f"/v1/booking_links/{link['id']}", json={"active": True})).json()["active"] is True
    async with Browser(app) as amira_herself:
        await amira_herself.get(path)
        assert (await amira_herself.post(f"{path}/verify", {**amira, **dob_fields(15, 6, 1984)})).status_code == 303


async def test_namesake_with_another_mobile_needs_one_more_detail(app, api, clean, world, tenant):
    existing = await make_patient(clean, tenant.id, first_name="Jane", last_name="Smith", dob=date(1970, 2, 3),
                                  mobile="07700900111", postcode="LS1 4AP")
    _, path = await _link(api, world)
    jane = {"first_name": "Jane", "last_name": "Smith", "mobile": "07700900112", **dob_fields(3, 2, 1970)}
    async with Browser(app) as visitor:
        await visitor.get(path)
        asked = await visitor.post(f"{path}/verify", jane)
        assert asked.status_code == 400 and 'name="postcode"' in asked.text
        assert "NHS number or your postcode" in asked.text
        found = await visitor.post(f"{path}/verify", {**jane, "postcode": "ls14ap"})
        assert found.status_code == 303
        assert "Booking for <strong>Jane S.</strong>" in (await visitor.get(f"{path}/slots")).text
    async with Browser(app) as other_jane:
        await other_jane.get(path)
        await other_jane.post(f"{path}/verify", jane)
        assert (await other_jane.post(f"{path}/verify", {**jane, "postcode": "M1 1AA"})).status_code == 303
    async with clean.session() as s:
        janes = (await s.execute(select(Patient.id).where(Patient.first_name == "Jane"))).scalars().all()
        task = (await s.execute(select(Task))).scalar_one()
    assert len(janes) == 2 and existing.id in janes
    assert task.type_label == "Check for a duplicate patient" and str(existing.id) in task.details


async def test_red_flag_answer_in_a_booking_gets_urgent_advice(app, api, clean, world, patient, clock):
    navigation = (await make_demo_forms(clean, world.tenant.id, clock.now()))[0]
    async with clean.session() as s:
        await s.execute(update(AppointmentType).where(AppointmentType.id == world.appt_type.id)
                        .values(form_id=navigation.id))
        await s.commit()
    _, path = await _link(api, world, patient_id=str(patient.id))
    q = {question.name: f"q{question.id}" for question in navigation.questions}
    async with Browser(app) as amira:
        await _to_confirm(amira, path, world.slot_ids[0])
        done = await amira.post(f"{path}/confirm", {
            q["What do you need help with?"]: "A new health problem",
            q["Describe the problem or request"]: "Crushing chest pain",
            q["Do you have any of these right now?"]: ["Chest pain"],
            q["How would you like us to contact you?"]: "Phone call"}, follow=True)
        assert "Appointment confirmed" in done.text and "Get urgent help now" in done.text
    async with clean.session() as s:
        task = (await s.execute(select(Task).where(Task.category == "form_response"))).scalar_one()
    assert task.priority == "high"


async def test_unknown_sub_paths_answer_html(app, api, world):
    _, path = await _link(api, world)
    async with Browser(app) as visitor:
        for url in (f"{path}/nope", f"{path}/cancel/1", "/f/abc/xyz"):
            page = await visitor.get(url)
            assert page.status_code == 404 and page.headers["content-type"].startswith("text/html"), url
        opened = await visitor.get(path)  # no inline style or script: a CSP of 'self' suffices
        assert "<style" not in opened.text and "<script" not in opened.text
        assert "style-src 'self'" in opened.headers["content-security-policy"]
        css_url = opened.text.split('rel="stylesheet" href="')[1].split('"')[0]
        css = await visitor.client.get(css_url)
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert "immutable" in css.headers["cache-control"] and ".error-summary" in css.text
        problem = await visitor.get(f"{path}/problem?kind=other")
        assert problem.status_code == 404 and problem.headers["content-type"].startswith("text/html")
        await visitor.get(path)
        await visitor.post(f"{path}/verify", {"first_name": "Tom", "last_name": "Hughes", "mobile": "07700900456",
                                              **dob_fields(2, 3, 1990)})
        for query in ("page=abc", "from=31-02-2026", "page=-1&from=2026-02-31"):
            odd = await visitor.get(f"{path}/slots?{query}")
            assert odd.status_code == 200 and "Choose a time" in odd.text, query
