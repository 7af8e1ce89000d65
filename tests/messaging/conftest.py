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
    clock_skew: float = 0.0  # seconds the fake's clock is ahead of the caller's


# What Notify enforces (https://docs.notifications.service.gov.uk/rest-api.html and its error tables).
NOTIFY_SMS_LIMIT = 918
NOTIFY_EMAIL_LIMIT_BYTES = 2_000_000
NOTIFY_TOKEN_WINDOW = 30  # seconds either side of the server's clock
SMS_FIELDS = {"phone_number", "template_id", "personalisation", "reference", "sms_sender_id"}
EMAIL_FIELDS = {"email_address", "template_id", "personalisation", "reference", "email_reply_to_id",
                "one_click_unsubscribe_url"}


def _notify_app(fake: NotifyFake) -> FastAPI:
    """Speaks the parts of https://docs.notifications.service.gov.uk/rest-api.html openhero uses, with
    Notify's authentication (an HS256 JWT signed with the API key's secret, iss = service id, iat within
    30 seconds), request schema, message length limits and error bodies. The templates are
    ``((body))`` for SMS and subject ``((subject))`` / body ``((body))`` for email."""
    import time

    app = FastAPI()

    def error(status: int, kind: str, message: str) -> JSONResponse:
        return JSONResponse(
            {"status_code": status, "errors": [{"error": kind, "message": message}]}, status_code=status
        )

    def auth_error(request: Request) -> JSONResponse | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            fake.unauthorised += 1
            return error(401, "AuthError", "Unauthorized: authentication token must be provided")
        try:
            claims = jwt.decode(header[7:], SECRET, algorithms=["HS256"], options={"verify_iat": False})
        except jwt.PyJWTError:
            fake.unauthorised += 1
            return error(403, "AuthError", "Invalid token: signature, api token not found")
        if claims.get("iss") != SERVICE_ID:
            fake.unauthorised += 1
            return error(403, "AuthError", "Invalid token: service not found")
        iat = claims.get("iat")
        if not isinstance(iat, int | float) or abs(time.time() + fake.clock_skew - iat) > NOTIFY_TOKEN_WINDOW:
            fake.unauthorised += 1
            return error(403, "AuthError", "Error: Your system clock must be accurate to within 30 seconds")
        return None

    async def create(request: Request, kind: str) -> JSONResponse:
        refused = auth_error(request)
        if refused is not None:
            return refused
        body = await request.json()
        extra = sorted(set(body) - (SMS_FIELDS if kind == "sms" else EMAIL_FIELDS))
        if extra:
            return error(400, "ValidationError", f"Additional properties are not allowed ({extra[0]!r} was unexpected)")
        target_field = "phone_number" if kind == "sms" else "email_address"
        for required in (target_field, "template_id"):
            if required not in body:
                return error(400, "ValidationError", f"{required} is a required property")
        template = SMS_TEMPLATE if kind == "sms" else EMAIL_TEMPLATE
        if body.get("template_id") != template:
            return error(400, "BadRequestError", "Template not found")
        target = str(body[target_field])
        if kind == "sms" and not target.replace(" ", "").lstrip("+").isdigit():
            return error(400, "ValidationError", "phone_number Must not contain letters or symbols")
        if kind == "email" and "@" not in target:
            return error(400, "ValidationError", "email_address Not a valid email address")
        personalisation = body.get("personalisation") or {}
        rendered = str(personalisation.get("body", "")).strip()
        if kind == "sms" and len(rendered) > NOTIFY_SMS_LIMIT:
            return error(400, "BadRequestError", "Your message is too long. Text messages cannot be longer than "
                         f"{NOTIFY_SMS_LIMIT} characters. Your message is {len(rendered)} characters long.")
        if kind == "email" and len(rendered.encode()) > NOTIFY_EMAIL_LIMIT_BYTES:
            return error(400, "BadRequestError", "Your message is too long. Emails cannot be longer than "
                         f"{NOTIFY_EMAIL_LIMIT_BYTES} bytes. Your message is {len(rendered.encode())} bytes.")
        notification_id = str(uuid.uuid4())
        fake.sent.append({"id": notification_id, "type": kind, **body})
        fake.statuses.setdefault(notification_id, "sending")
        content: dict[str, Any] = {"body": rendered}
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
        refused = auth_error(request)
        if refused is not None:
            return refused
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
