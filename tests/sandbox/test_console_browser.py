"""The sandbox console in headless Chromium at desktop and phone sizes: sign in, every page checked with
axe-core (zero violations) and screenshotted to ``.screenshots/``, a message's booking link opened as the
patient would, a clock advance and a fault switched from the page."""

from __future__ import annotations

import asyncio

import pytest

from tests.builders import make_patient, make_task

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_console_walk(size, chrome, live_server, app, api, clean, tenant, world):
    # Links in messages point at this server, as they do in a deployment whose public URL is its own.
    app.state.settings = app.state.settings.model_copy(update={"public_base_url": live_server})
    patient = await make_patient(clean, tenant.id, mobile="07700 900123")
    link = (await api.post("/v1/booking_links", json={"appointment_type_id": str(world.appt_type.id),
                                                       "location_id": str(world.location.id)})).json()
    sent = await api.post("/v1/messages/send", json={
        "patient_id": str(patient.id), "message_type": "sms",
        "message_string": f"Book your flu jab: {link['short_link']}"})
    assert sent.status_code == 200
    await make_task(clean, tenant.id, type_label="Call the patient back")

    def walk() -> None:
        chrome.start("sandbox-console", size)
        chrome.get(live_server + "/sandbox")
        chrome.check("sign in")
        chrome.fill(api_key="ohk_not_a_key", practice_group_id=str(tenant.id))
        chrome.submit("button[type=submit]")
        assert chrome.title.startswith("Error: ")
        assert chrome.find("#api_key").get_attribute("aria-invalid") == "true"
        chrome.check("sign in error")
        chrome.fill(api_key=tenant.raw_key, practice_group_id=str(tenant.id))
        chrome.submit("button[type=submit]")
        assert chrome.path == "/sandbox/messages" and "Book your flu jab" in chrome.text
        chrome.check("messages")
        for slug, expected in (("webhooks", "No deliveries yet"), ("tasks", "Call the patient back"),
                               ("clock", "real time")):
            chrome.click_text("nav a", {"webhooks": "Webhooks", "tasks": "Tasks", "clock": "Clock"}[slug])
            assert chrome.path == f"/sandbox/{slug}" and expected in chrome.text
            chrome.check(slug)
        chrome.click_text("button", "Advance 1 hour")
        assert "3600 seconds ahead" in chrome.text
        from selenium.webdriver.support.ui import Select

        Select(chrome.find("#fault-pds")).select_by_value("unavailable")
        chrome.submit("button", index=[b.text for b in chrome.all("button")].index("Set pds"))
        assert "unavailable" in chrome.find("table").text
        chrome.check("clock advanced, pds fault on")
        chrome.click_text("nav a", "Messages")
        chrome.click_text("a", "/l/")  # the patient's link opens the patient page
        assert chrome.path.startswith("/l/") and "Test Surgery" in chrome.text

    await asyncio.to_thread(walk)
    assert (await api.get("/openhero/v1/sandbox/clock")).json()["offset_seconds"] == 3600
    assert (await api.get("/openhero/v1/sandbox/faults")).json()["data"][0]["mode"] == "unavailable"
