"""Structured logs over a real ``openhero serve`` process (with its in-process worker): one JSON line per
request and per job, and, across a whole flow (register a patient, book, send an SMS, deliver a signed
webhook with a custom auth header, use an Elements token), no secret and no patient identifier in any
line, even at DEBUG."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime

import httpx

from openhero.core.logging import JsonFormatter, TextFormatter, logging_config
from tests.booking.builders import make_world
from tests.conftest import free_port
from tests.ops.processes import finish, start_server
from tests.webhooks.conftest import receiver  # noqa: F401 - the loopback receiver fixture

PATIENT = {"nhs_number": "999 000 0018", "dob": "1948-05-17", "first_name": "Margaret", "last_name": "Holroyd",
           "mobile": "07700 900101", "email": "margaret.holroyd@example.org", "title": "Mrs", "sex": "Female",
           "postcode": "LS6 3PX"}
SIGNING_KEY = "whsec-partner-signing-key-5f2c9a"
HOOK_TOKEN = "partner-inbound-token-77e1b0"


async def _until(predicate, within: float = 20) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(within / 0.05)):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_a_full_flow_logs_no_secret_and_no_patient_identifier(database_url, clean, tenant, receiver):  # noqa: F811
    world = await make_world(clean, datetime.now(UTC), tenant=tenant)
    port = free_port()
    proc = await asyncio.to_thread(start_server, database_url, port, "--worker", OPENHERO_LOG_LEVEL="debug",
                                   OPENHERO_WORKER_POLL_INTERVAL_SECONDS="0.05")
    secrets_seen: list[str] = [tenant.raw_key, SIGNING_KEY, HOOK_TOKEN]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=tenant.headers, timeout=30) as c:
            token = (await c.post("/v1/access_token")).json()["access_token"]
            secrets_seen.append(token)
            hook = await c.post("/v1/webhooks", json={"event_type": "appointment.confirmed",
                                                      "url": receiver.url + "/hook?token=" + HOOK_TOKEN,
                                                      "signing_key": SIGNING_KEY,
                                                      "headers": {"Authorization": f"Bearer {HOOK_TOKEN}"}})
            assert hook.status_code == 200, hook.text
            registered = await c.post("/v1/patients/register", json=PATIENT)
            assert registered.status_code == 200, registered.text
            patient_id = registered.json()["patient_id"]
            bearer = {"authorization": f"Bearer {token}", "x-api-key": "", "x-practice-group-id": str(tenant.id)}
            got = await c.get(f"/v1/patients/{patient_id}", headers=bearer)
            assert got.status_code == 200, got.text
            await c.get("/v1/patients", params={"nhs_number": "9990000018", "search": "Holroyd"})
            reserved = await c.post("/v1/appointments", json=world.reserve_body(patient_id=patient_id))
            assert reserved.status_code == 200, reserved.text
            appt = reserved.json()["id"]
            assert (await c.patch(f"/v1/appointments/{appt}/book")).status_code == 200
            sent = await c.post("/v1/messages/send", json={"patient_id": str(patient_id), "message_type": "sms",
                                                           "message_string": "Margaret, your flu jab is due."})
            assert sent.status_code == 200, sent.text
            message_id = sent.json()["message_id"]

            async def settled() -> bool:
                status = (await c.get(f"/v1/messages/{message_id}")).json()["status"]
                return bool(receiver.requests) and status != "queued"

            await _until(settled)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, log = await asyncio.to_thread(finish, proc)

    assert receiver.requests[0].headers["authorization"] == f"Bearer {HOOK_TOKEN}"  # it was really used
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]  # every line is JSON
    requests = [x for x in lines if x["logger"] == "openhero.request"]
    routes = {(x["method"], x["route"]) for x in requests}
    assert {("POST", "/v1/patients/register"), ("GET", "/v1/patients/{id}"), ("GET", "/v1/patients"),
            ("PATCH", "/v1/appointments/{id}/book"), ("POST", "/v1/messages/send"), ("POST", "/v1/webhooks"),
            ("POST", "/v1/access_token")} <= routes, routes
    booked = next(x for x in requests if x["route"].endswith("/book"))
    assert booked["status"] == 200 and booked["practice_group_id"] == tenant.id and booked["key_id"] == tenant.key.id
    assert len(booked["request_id"]) == 32 and booked["duration_ms"] >= 0
    jobs = [x for x in lines if x["logger"] == "openhero.job"]
    assert any(j["outcome"] == "succeeded" and j["job_kind"].startswith("messaging") for j in jobs), jobs
    assert any(j["job_kind"] == "webhook.delivery" and j["outcome"] == "delivered" and j["attempt"] == 1
               for j in jobs), jobs

    forbidden = secrets_seen + [
        "9990000018", "999 000 0018", "Margaret", "Holroyd", "1948-05-17", "07700 900101", "07700900101",
        "7700900101", "margaret.holroyd", "example.org", "LS6 3PX", "flu jab", str(world.tenant.raw_key)[4:20],
    ]
    leaks = {word: [line for line in log.splitlines() if word.lower() in line.lower()] for word in forbidden}
    assert {w: ls for w, ls in leaks.items() if ls} == {}


def test_text_and_json_formats_carry_the_same_fields():
    import logging

    record = logging.LogRecord("openhero.request", logging.INFO, __file__, 1, "request", None, None)
    record.fields = {"method": "GET", "route": "/v1/patients/{id}", "status": 200, "key_id": None}
    as_json = json.loads(JsonFormatter().format(record))
    assert as_json["route"] == "/v1/patients/{id}" and as_json["status"] == 200 and as_json["level"] == "info"
    text = TextFormatter().format(record)
    assert text.endswith("request method=GET route=/v1/patients/{id} status=200")
    assert logging_config("json", "info")["formatters"]["openhero"]["()"] is JsonFormatter
    assert logging_config("text", "info")["formatters"]["openhero"]["()"] is TextFormatter
