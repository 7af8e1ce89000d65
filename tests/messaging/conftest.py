"""Messaging fixtures: a real SMTP server (aiosmtpd) and a loopback fake of GOV.UK Notify's API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as EmailMessage
from typing import Any

import jwt
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from openhero.core.clock import FrozenClock
from openhero.core.db import Database
from openhero.core.worker import Worker
from openhero.settings import Settings
from tests.conftest import free_port


@dataclass
class SmtpSink:
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if address.endswith("@rejected.test"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
NOTIFY_KEY = f"openhero_test-{SERVICE_ID}-{SECRET}"
SMS_TEMPLATE = "f33517ff-2a88-4f6e-b855-c550268ce08a"
EMAIL_TEMPLATE = "0b9c4b48-5b6c-4a9b-9c6e-3c8f00b1f0a1"


@dataclass
class NotifyFake:
    url: str
    sent: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)  # notification id -> Notify status
    unauthorised: int = 0


def _notify_app(fake: NotifyFake) -> FastAPI:
    """Speaks the parts of https://docs.notifications.service.gov.uk/rest-api.html openhero uses."""
    app = FastAPI()

    def error(status: int, kind: str, message: str) -> JSONResponse:
        return JSONResponse(
            {"status_code": status, "errors": [{"error": kind, "message": message}]}, status_code=status
        )

    def authorised(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return False
        try:
            claims = jwt.decode(header[7:], SECRET, algorithms=["HS256"], options={"verify_iat": False})
        except jwt.PyJWTError:
            return False
        return claims.get("iss") == SERVICE_ID and "iat" in claims

    async def create(request: Request, kind: str) -> JSONResponse:
        if not authorised(request):
            fake.unauthorised += 1
            return error(403, "AuthError", "Invalid token: signature, api token not found")
        body = await request.json()
        template = SMS_TEMPLATE if kind == "sms" else EMAIL_TEMPLATE
        if body.get("template_id") != template:
            return error(400, "BadRequestError", "Template not found")
        target = body.get("phone_number") if kind == "sms" else body.get("email_address")
        if not target or (kind == "sms" and not str(target).replace(" ", "").lstrip("+").isdigit()):
            return error(
                400, "ValidationError", f"{'phone_number' if kind == 'sms' else 'email_address'} Not a valid value"
            )
        notification_id = str(uuid.uuid4())
        personalisation = body.get("personalisation") or {}
        fake.sent.append({"id": notification_id, "type": kind, **body})
        fake.statuses.setdefault(notification_id, "sending")
        content: dict[str, Any] = {"body": personalisation.get("body", "")}
        if kind == "sms":
            content["from_number"] = "GOVUK"
        else:
            content.update(subject=personalisation.get("subject", ""), from_email="surgery@notifications.test")
        return JSONResponse(
            {
                "id": notification_id,
                "reference": body.get("reference"),
                "content": content,
                "uri": f"{fake.url}/v2/notifications/{notification_id}",
                "template": {"id": template, "version": 1, "uri": f"{fake.url}/v2/template/{template}"},
            },
            status_code=201,
        )

    @app.post("/v2/notifications/sms")
    async def sms(request: Request) -> JSONResponse:
        return await create(request, "sms")

    @app.post("/v2/notifications/email")
    async def email(request: Request) -> JSONResponse:
        return await create(request, "email")

    @app.get("/v2/notifications/{notification_id}")
    async def get(notification_id: str, request: Request) -> JSONResponse:
        if not authorised(request):
            return error(403, "AuthError", "Invalid token")
        found = next((n for n in fake.sent if n["id"] == notification_id), None)
        if found is None:
            return error(404, "NoResultFound", "No result found")
        return JSONResponse(
            {
                "id": notification_id,
                "reference": found.get("reference"),
                "type": found["type"],
                "status": fake.statuses[notification_id],
                "template": {"id": found["template_id"]},
            }
        )

    return app


@pytest.fixture
async def notify_fake() -> AsyncIterator[NotifyFake]:
    import uvicorn

    port = free_port()
    fake = NotifyFake(url=f"http://127.0.0.1:{port}")
    server = uvicorn.Server(
        uvicorn.Config(
            _notify_app(fake), host="127.0.0.1", port=port, log_level="warning", lifespan="off", loop="asyncio"
        )
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    yield fake
    server.should_exit = True
    await task


@pytest.fixture
def run_worker(database: Database, settings: Settings, clock: FrozenClock):  # type: ignore[no-untyped-def]
    """``await run_worker()`` drains every due job; pass settings overrides for other providers."""

    async def run(**overrides: Any) -> int:
        worker_settings = settings.model_copy(update=overrides) if overrides else settings
        return await Worker(database, worker_settings, clock).drain()

    return run


def notify_settings(fake: NotifyFake) -> dict[str, Any]:
    return {
        "sms_provider": "notify",
        "email_provider": "notify",
        "notify_api_key": NOTIFY_KEY,
        "notify_base_url": fake.url,
        "notify_sms_template_id": SMS_TEMPLATE,
        "notify_email_template_id": EMAIL_TEMPLATE,
    }
