"""The patient pages in headless Chromium, as a patient uses them, at desktop (1280x900) and phone (390x844)
sizes: every page checked with axe-core (zero violations) and screenshotted to ``.screenshots/``.

The server is the app on a loopback port (``live_server``, in the test's event loop); Selenium is blocking,
so each walk runs in a thread while the loop keeps serving. Database behaviour is proved by the httpx tests
on both databases; these walks run on SQLite only (tests/links/conftest.py leaves out their PostgreSQL
parametrisation, so their ~40 s do not double).
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlparse

import pytest
from sqlalchemy import select, update

from openhero.booking.models import Appointment, AppointmentType
from openhero.messaging.models import Message
from tests.booking.builders import make_appointment_type, make_slots
from tests.forms.builders import make_demo_forms
from tests.links.browser import Browser, dob_fields
from tests.links.chrome import Chrome

pytestmark = pytest.mark.browser


async def _link(api, world, **fields) -> str:  # type: ignore[no-untyped-def]
    body = {"appointment_type_id": str(world.appt_type.id), "location_id": str(world.location.id), **fields}
    response = await api.post("/v1/booking_links", json=body)
    assert response.status_code == 200, response.text
    return urlparse(response.json()["short_link"]).path


def _wait_for(chrome: Chrome, suffix: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not (chrome.path.split("?")[0].endswith(suffix)
               and chrome.driver.execute_script("return document.readyState") == "complete"):
        if time.monotonic() > deadline:
            raise AssertionError(f"still at {chrome.path}, expected …{suffix}: {chrome.text[:300]}")
        time.sleep(0.05)


def _error_page_checks(chrome: Chrome, step: str, field: str) -> None:
    """An error answer: "Error:" title, focus on the summary, the field marked invalid and described."""
    deadline = time.monotonic() + 10
    while not chrome.title.startswith("Error: "):
        assert time.monotonic() < deadline, f"no error page at {step}: {chrome.title}"
        time.sleep(0.05)
    assert "error-summary" in (chrome.focused().get_attribute("class") or "")
    box = chrome.find(f"#{field}")
    assert box.get_attribute("aria-invalid") == "true"
    chrome.check(step)


@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_paid_booking_with_form_double_click_back_and_cancel(size, chrome, live_server, api, clean, world,
                                                                   patient, clock):
    travel = (await make_demo_forms(clean, world.tenant.id, clock.now()))[1]
    async with clean.session() as s:
        await s.execute(update(AppointmentType).where(AppointmentType.id == world.appt_type.id)
                        .values(form_id=travel.id, sector="paid", price=Decimal("45"), name="Travel clinic"))
        await s.commit()
    path = await _link(api, world, patient_id=str(patient.id))
    leave = clock.now() + timedelta(days=40)

    def walk() -> None:
        chrome.start("paid-booking", size)
        chrome.get(live_server + path)
        assert "What is your date of birth?" in chrome.text
        chrome.check("date of birth")
        chrome.fill(**{"dob-day": "16", "dob-month": "6", "dob-year": "1984"})
        chrome.submit("form[action$='/verify'] button")
        _error_page_checks(chrome, "wrong date of birth", "dob")
        assert "aria-describedby" in chrome.find("fieldset").get_attribute("outerHTML")
        chrome.fill(**{"dob-day": "15"})
        chrome.submit("form[action$='/verify'] button")
        _wait_for(chrome, "/slots")
        assert "Booking for Amira K." in chrome.text and "Private service: £45.00" in chrome.text
        chrome.check("choose a time")
        chrome.submit("button.slot", 1)
        _wait_for(chrome, "/confirm")
        assert "£45.00 (private service)" in chrome.text and "Change" in chrome.text
        chrome.check("check and confirm")
        fields = {q.name: f"q{q.id}" for q in travel.questions}
        chrome.fill(**{fields["Which countries are you visiting, and which areas?"]: "Kenya, rural areas",
                       f"{fields['Date you leave']}-day": str(leave.day),
                       f"{fields['Date you leave']}-month": str(leave.month),
                       f"{fields['Date you leave']}-year": str(leave.year)})
        for name, value in (("Type of trip", "Holiday"), ("Are you pregnant, or could you be?", "No"),
                            ("Do you have a weakened immune system, or take medicine that affects it?", "No")):
            chrome.driver.execute_script("document.querySelector(arguments[0]).click()",
                                         f"input[name='{fields[name]}'][value='{value}']")
        # a double click on Confirm: the second submission cancels the first request mid-flight
        chrome.driver.execute_script("const b = document.querySelector(\"form[action$='/confirm'] button\");"
                                     "b.click(); b.click();")
        _wait_for(chrome, "/confirmed")
        page = chrome.text
        assert "Appointment confirmed" in page and "booking reference is OH-" in page
        assert "Booking for" not in page and "£45.00" in page and "We have sent you a text message" in page
        chrome.check("confirmed")
        chrome.back()  # to the check page: it shows the booking, it does not book again
        _wait_for(chrome, "/confirmed")
        assert "Appointment confirmed" in chrome.text
        chrome.click_text("a", "cancel this appointment")
        assert "Cancel your appointment" in chrome.text
        chrome.check("cancel")
        chrome.submit("button.warning")
        assert "Appointment cancelled" in chrome.text
        chrome.check("cancelled")

    await asyncio.to_thread(walk)
    async with clean.session() as s:
        appts = (await s.execute(select(Appointment))).scalars().all()
        messages = (await s.execute(select(Message))).scalars().all()
    assert len(appts) == 1 and appts[0].booking_confirmed_at is not None and appts[0].cancelled_at is not None
    assert len(messages) == 1


async def test_generic_link_types_weeks_not_you_and_change(chrome, live_server, api, clean, world, clock):
    paid = await make_appointment_type(clean, world.tenant.id, location_ids=[world.location.id],
                                       name="Private physiotherapy", sector="paid", price=Decimal("60"), duration=30)
    far = (clock.now() + timedelta(days=15)).replace(hour=10, minute=0, second=0, microsecond=0)
    paid_slots = await make_slots(clean, world.tenant.id, practitioner_id=world.practitioner.id,
                                  location_id=world.location.id, appointment_type_id=paid.id,
                                  start=world.start + timedelta(hours=4), count=3, minutes=30)
    await make_slots(clean, world.tenant.id, practitioner_id=world.practitioner.id, location_id=world.location.id,
                     appointment_type_id=paid.id, start=far, count=2, minutes=30)
    body = {"appointment_type_id": [str(world.appt_type.id), str(paid.id)], "location_id": str(world.location.id)}
    path = urlparse((await api.post("/v1/booking_links", json=body)).json()["short_link"]).path
    tom = {"first_name": "Tom", "last_name": "Hughes", "mobile": "07700 900456", "dob-day": "2", "dob-month": "3",
           "dob-year": "1990"}

    def identify() -> None:
        chrome.get(live_server + path)
        chrome.fill(**tom)
        chrome.submit("form[action$='/verify'] button")
        _wait_for(chrome, "/type")

    def walk() -> None:
        chrome.start("generic-link", "phone")
        chrome.get(live_server + path)
        assert "Tell us who you are" in chrome.text
        chrome.check("who are you")
        chrome.submit("form[action$='/verify'] button")
        _error_page_checks(chrome, "who are you, errors", "first_name")
        identify()
        assert "Booking for Tom H." in chrome.text and "Private service: £60.00" in chrome.text
        chrome.check("what is it for")
        chrome.submit("form[action$='/type'] button")
        _error_page_checks(chrome, "what is it for, error", "type_id")
        chrome.click(f"input[value='{paid.id}']")
        chrome.submit("form[action$='/type'] button")
        _wait_for(chrome, "/slots")
        assert len(chrome.all("button.slot")) == 5 and "Private service: £60.00" in chrome.text
        chrome.check("choose a time")
        from selenium.webdriver.support.select import Select

        weeks = [o.get_attribute("value") for o in chrome.all("#from option")]
        Select(chrome.find("#from")).select_by_value(max(w for w in weeks if w <= far.date().isoformat()))
        chrome.submit("form.jump button")
        assert len(chrome.all("button.slot")) == 2
        chrome.check("times from a later week")
        chrome.submit("form[action$='/not-you'] button")
        _wait_for(chrome, path)
        assert "Tell us who you are" in chrome.text and "Booking for" not in chrome.text
        identify()
        chrome.click(f"input[value='{paid.id}']")
        chrome.submit("form[action$='/type'] button")
        _wait_for(chrome, "/slots")
        chrome.submit("button.slot", 0)
        _wait_for(chrome, "/confirm")
        chrome.click_text("a", "Change")  # change the appointment type, then the time
        _wait_for(chrome, "/type")
        chrome.submit("form[action$='/type'] button")
        _wait_for(chrome, "/slots")
        chrome.submit("button.slot", 1)
        _wait_for(chrome, "/confirm")
        chrome.check("check page after a change")
        chrome.submit("form[action$='/confirm'] button")
        _wait_for(chrome, "/confirmed")
        assert "Private physiotherapy" in chrome.text and "£60.00" in chrome.text
        chrome.check("confirmed")

    await asyncio.to_thread(walk)
    async with clean.session() as s:
        appts = (await s.execute(select(Appointment.slot_id, Appointment.cancelled_at,
                                        Appointment.booking_confirmed_at))).all()
    booked = [a.slot_id for a in appts if a.booking_confirmed_at is not None]
    # the first hold was given up when another time was chosen (it is not listed while held)
    assert booked == [paid_slots[2]] and all(a.cancelled_at for a in appts if a.slot_id != paid_slots[2])


async def test_form_link_red_flag_gets_urgent_advice(chrome, live_server, api, clean, tenant, patient, clock):
    navigation = (await make_demo_forms(clean, tenant.id, clock.now()))[0]
    created = await api.post("/v1/form_links", json={"form_id": str(navigation.id), "patient_id": str(patient.id)})
    path = urlparse(created.json()["short_link"]).path
    q = {question.name: f"q{question.id}" for question in navigation.questions}

    def walk() -> None:
        chrome.start("form-link", "desktop")
        chrome.get(live_server + path)
        chrome.fill(**{"dob-day": "15", "dob-month": "6", "dob-year": "1984"})
        chrome.submit("form[action$='/verify'] button")
        _wait_for(chrome, "/form")
        chrome.check("form")
        chrome.submit("form[action$='/form'] button")
        _error_page_checks(chrome, "form errors", f"{q['What do you need help with?']}-1")
        assert "Select an answer to: What do you need help with" in chrome.text
        chrome.click(f"#{q['What do you need help with?']}-1")
        chrome.fill(**{q["Describe the problem or request"]: "Tight chest since this morning"})
        chrome.driver.execute_script("document.querySelector(arguments[0]).click()",
                                     f"input[name='{q['Do you have any of these right now?']}'][value='Chest pain']")
        chrome.click(f"#{q['How would you like us to contact you?']}-1")
        chrome.submit("form[action$='/form'] button")
        _wait_for(chrome, "/sent")
        assert "Get urgent help now" in chrome.text and "999" in chrome.text
        assert "will contact you if they need to" not in chrome.text
        chrome.check("sent, urgent advice")
        # Back past a page of rejected answers: no "Confirm Form Resubmission", no second submission
        chrome.back()
        _wait_for(chrome, "/sent")
        assert "Form sent" in chrome.text and "ERR_CACHE_MISS" not in chrome.text
        chrome.back()
        time.sleep(0.3)
        assert "ERR_CACHE_MISS" not in chrome.driver.page_source

    await asyncio.to_thread(walk)


async def test_time_taken_meanwhile_lapsed_hold_and_lock(chrome, app, live_server, api, clean, world, patient,
                                                         clock):
    path = await _link(api, world)
    locking = await _link(api, world, patient_id=str(patient.id))

    def to_times() -> None:
        chrome.start("refusals", "phone")
        chrome.get(live_server + path)
        chrome.fill(first_name="Amira", last_name="Khan", nhs_number="943 476 5919",
                    **{"dob-day": "15", "dob-month": "6", "dob-year": "1984"})
        chrome.submit("form[action$='/verify'] button")
        _wait_for(chrome, "/slots")

    await asyncio.to_thread(to_times)
    async with Browser(app) as other:  # someone else takes the first time while Amira looks at the list
        await other.get(path)
        await other.post(f"{path}/verify", {"first_name": "Tom", "last_name": "Hughes", "mobile": "07700900456",
                                            **dob_fields(2, 3, 1990)})
        await other.get(f"{path}/slots")
        assert (await other.post(f"{path}/slots", {"slot_id": world.slot_ids[0]})).status_code == 303

    def taken() -> None:
        chrome.submit("button.slot", 0)
        _wait_for(chrome, "/problem")
        assert "Sorry, that time has just been taken" in chrome.text
        chrome.check("time taken meanwhile")
        chrome.click_text("a", "Choose a time")
        _wait_for(chrome, "/slots")
        chrome.submit("button.slot", 0)
        _wait_for(chrome, "/confirm")

    await asyncio.to_thread(taken)
    clock.advance(minutes=16)

    def lapsed() -> None:
        chrome.submit("form[action$='/confirm'] button")
        _wait_for(chrome, "/problem")
        assert "no longer being held" in chrome.text
        chrome.check("hold lapsed")
        chrome.click_text("a", "Choose a time")  # a free type without a form, booked after all
        _wait_for(chrome, "/slots")
        chrome.submit("button.slot", 0)
        _wait_for(chrome, "/confirm")
        assert "Cost" not in chrome.text and "Private" not in chrome.text
        chrome.check("check page, free type")
        chrome.submit("form[action$='/confirm'] button")
        _wait_for(chrome, "/confirmed")
        assert "Appointment confirmed" in chrome.text and "£" not in chrome.text
        chrome.check("confirmed, free type")
        chrome.start("lock", "desktop")
        chrome.get(live_server + locking)
        for year in range(1970, 1980):
            chrome.fill(**{"dob-day": "1", "dob-month": "1", "dob-year": str(year)})
            chrome.submit("form[action$='/verify'] button")
        assert "This link has been locked" in chrome.text
        chrome.check("locked after ten tries")
        chrome.get(live_server + locking + "/no-such-page")
        assert "Page not found" in chrome.text
        chrome.check("not found")

    await asyncio.to_thread(lapsed)


async def test_api_docs_render_without_internet(chrome, live_server):
    """Swagger UI and ReDoc draw the API from packaged assets (this machine has no route to a CDN)."""

    def walk() -> None:
        chrome.start("api-docs", "desktop")
        for path, css in (("/docs", ".opblock"), ("/redoc", "[role=menuitem], li[data-item-id]")):
            chrome.get(live_server + path)
            deadline = time.monotonic() + 20
            while len(chrome.all(css)) < 10:
                assert time.monotonic() < deadline, f"{path} did not render: {chrome.text[:200]}"
                time.sleep(0.2)
            chrome.screenshot(path.strip("/"))

    await asyncio.to_thread(walk)
