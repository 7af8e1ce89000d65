"""A partner's view: generate a Python client from openhero's own OpenAPI document with openapi-python-client
(offline, from a file), import it, and run a partner's journey only through it against a real uvicorn server
on loopback: success answers parse into typed models, and so do the errors (400, 401, 403, 404, 409).

Generation takes seconds, so it runs once per session; the journey runs on SQLite only (the database is not
what this test is about).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from types import ModuleType
from typing import Any

import pytest

from openhero.app import create_app
from openhero.core.clock import FrozenClock
from openhero.core.db import Database
from openhero.settings import Settings
from tests.booking.builders import make_world
from tests.builders import make_key

PACKAGE = "openhero_partner_client"
JANE = {"nhs_number": "900 000 0009", "dob": "2010-10-22"}  # a sandbox PDS patient with a mobile on file


@pytest.fixture(scope="session")
def generated_client(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    folder = tmp_path_factory.mktemp("partner-client")
    settings = Settings(database_url=f"sqlite+aiosqlite:///{folder / 'unused.db'}", secret_key="s" * 48,
                        sandbox=True, _env_file=None)  # type: ignore[call-arg]
    document = folder / "openapi.json"
    document.write_text(json.dumps(create_app(settings).openapi()))
    config = folder / "config.json"
    config.write_text(json.dumps({"post_hooks": []}))  # no formatter run: nothing outside this machine
    out = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(document), "--meta", "none",
         "--config", str(config), "--output-path", str(folder / PACKAGE)],
        capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Warning" not in out.stdout + out.stderr, out.stdout + out.stderr  # every operation generated
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))


def _module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_partner_journey_through_a_generated_client(generated_client, live_server, clean: Database,
                                                          clock: FrozenClock, settings: Settings) -> None:
    hc = generated_client
    api = lambda name: _module(hc, f"api.{name}")  # noqa: E731
    m = _module(hc, "models")
    errors_model = m.HeroErrorResponse
    world = await make_world(clean, clock.now())
    gid = str(world.tenant.id)

    def client(key: str):  # type: ignore[no-untyped-def]
        return hc.AuthenticatedClient(base_url=live_server, token=key, prefix="", auth_header_name="x-api-key",
                                      headers={"x-practice-group-id": gid}, raise_on_unexpected_status=True)

    partner = client(world.tenant.raw_key)

    # Register by NHS number (sandbox PDS).
    registered = await api("patients.register_patient_pds").asyncio(
        client=partner, body=m.RegisterPatientPdsRequest(nhs_number=JANE["nhs_number"], dob=JANE["dob"]))
    assert isinstance(registered, m.PatientIdResponse) and registered.patient_id.isdigit()
    patient_id = registered.patient_id

    # Appointment types that have availability: a typed boolean parameter.
    types = await api("practice_group.list_appointment_types").asyncio(client=partner, has_availability=True)
    assert [t.id for t in types.data] == [str(world.appt_type.id)] and types.data[0].slot_count == 6

    # Slots, paged with integers.
    page = await api("booking.list_slots").asyncio(client=partner, appointment_type_id=str(world.appt_type.id),
                                                   page_index=1, page_size=2)
    assert page.count == 6 and [s.id for s in page.data] == [str(i) for i in world.slot_ids[2:4]]
    slot = page.data[0]

    # Reserve, book, cancel.
    reserve = m.CreateAppointmentRequest(
        appointment_type_id=str(world.appt_type.id), location_id=str(world.location.id),
        practitioner_id=str(world.practitioner.id), duration=10, start_time=slot.start_time, patient_id=patient_id)
    reservation = await api("booking.create_appointment").asyncio(client=partner, body=reserve)
    assert isinstance(reservation, m.AppointmentReservation) and reservation.reserved_until
    booked = await api("booking.book_appointment").asyncio(reservation.id, client=partner)
    assert isinstance(booked, m.AppointmentOut) and booked.booking_confirmed_at

    # 409: the slot is taken. Parsed into the typed error model.
    taken = await api("booking.create_appointment").asyncio(client=partner, body=reserve)
    assert isinstance(taken, errors_model) and taken.status_code == 409 and taken.error is True
    assert taken.message[0].code == "slot_unavailable"

    cancelled = await api("booking.cancel_appointment").asyncio(
        reservation.id, client=partner, body=m.CancelAppointmentRequest(suppress_mail=True))
    assert isinstance(cancelled, m.AppointmentOut) and cancelled.cancelled_at

    # Send an SMS and read it back.
    sent = await api("messages.send_message").asyncio(client=partner, body=m.SendMessageRequest(
        patient_id=patient_id, message_type=m.SendMessageRequestMessageType.SMS,
        message_string="Your flu jab is ready to book."))
    assert isinstance(sent, m.SendMessageResponse) and sent.status == "queued"
    message = await api("messages.get_message").asyncio(sent.message_id, client=partner)
    assert isinstance(message, m.MessageOut) and message.content == "Your flu jab is ready to book."

    # Subscribe a webhook.
    hook = await api("webhooks.create_webhook").asyncio(client=partner, body=m.CreateWebhookRequest(
        event_type=m.WebhookEventType.APPOINTMENT_CONFIRMED, url="http://127.0.0.1:9/hooks"))
    assert isinstance(hook, m.WebhookOut) and hook.event_type == m.WebhookEventType.APPOINTMENT_CONFIRMED

    # The booking put a task in the practice inbox: list it and update it.
    tasks = await api("task.list_tasks").asyncio(client=partner, page_size=10)
    assert tasks.count == 1
    task_id = tasks.data[0].id
    updated = await api("task.update_task").asyncio(task_id, client=partner, body=m.UpdateTaskRequest(
        status=m.UpdateTaskRequestStatusType0.CLOSED))
    assert isinstance(updated, m.UpdateTaskResponse)
    again = await api("task.get_task").asyncio(task_id, client=partner)
    assert again.status == "closed"

    # The other errors, each parsed into the typed error model.
    bad_nhs = await api("patients.register_patient_pds").asyncio(
        client=partner, body=m.RegisterPatientPdsRequest(nhs_number="123 456 7890", dob="1990-01-01"))
    assert isinstance(bad_nhs, errors_model) and bad_nhs.status_code == 400
    assert bad_nhs.message[0].path == ["nhs_number"]

    unauthorised = await api("booking.list_slots").asyncio(client=client("ohk_" + "x" * 40))
    assert isinstance(unauthorised, errors_model) and unauthorised.status_code == 401

    _, messaging_only = await make_key(clean, world.tenant.group, scopes=["messaging"])
    forbidden = await api("booking.list_slots").asyncio(client=client(messaging_only))
    assert isinstance(forbidden, errors_model) and forbidden.status_code == 403
    assert forbidden.message[0].code == "forbidden"

    missing = await api("booking.get_appointment").asyncio("99999999", client=partner)
    assert isinstance(missing, errors_model) and missing.status_code == 404
