"""Webhook subscriptions: validation, CRUD scoped to the caller's practice group, the delivery log,
sandbox test sends and operator replays."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core.auth import Principal
from openhero.core.errors import Conflict, NotFound, ValidationFailed, error_item
from openhero.core.pagination import PageParams, paginate
from openhero.core.tenancy import get_owned, owned, parse_id
from openhero.webhooks import queue, signing, targets
from openhero.webhooks.models import DeliveryStatus, Webhook, WebhookAttempt, WebhookDelivery
from openhero.webhooks.schemas import CreateWebhookRequest, UpdateWebhookRequest, WebhookEventType

# Headers openhero sets itself (or the HTTP layer owns); a subscription cannot override them.
RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "host",
        "transfer-encoding",
        "connection",
        "user-agent",
        "te",
        "trailer",
        "upgrade",
        "keep-alive",
    }
)
RESERVED_PREFIXES = ("x-herohealth-", "x-openhero-")
MAX_HEADERS = 20
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 field-name

# The object each event is about (for sandbox test payloads).
EVENT_OBJECTS = {
    "appointment.confirmed": "Appointment",
    "appointment.cancelled": "Appointment",
    "appointment.rescheduled": "Appointment",
    "prescription.issued": "Prescription",
    "patient.medical-record-updated": "Patient",
    "patient.added-to-sequence": "Patient",
    "write-to-record.succeeded": "Message",
    "write-to-record.failed": "Message",
    "form-submission.created": "FormSubmission",
}


def _invalid(field: str, expected: str, message: str, path: Sequence[str | int] | None = None) -> ValidationFailed:
    return ValidationFailed(message, items=[error_item("invalid_string", expected, list(path or [field]), message)])


async def validate_url(url: str, *, allow_private: bool) -> str:
    """An absolute http(s) URL; with private targets refused, one whose host is not and does not
    resolve to a non-public address (checked again before every send, see ``targets.py``)."""
    try:
        await targets.check_subscription_url(url, allow_private=allow_private)
    except targets.InvalidTarget as exc:
        raise _invalid("url", "an absolute http(s) URL", str(exc)) from None
    except targets.TargetRefused as exc:
        raise _invalid("url", "a URL on a public address", f"url refused: {exc}") from None
    return url


def validate_headers(headers: dict[str, str] | None) -> dict[str, str]:
    headers = headers or {}
    if len(headers) > MAX_HEADERS:
        raise ValidationFailed(
            "too many headers",
            items=[
                error_item("too_big", f"at most {MAX_HEADERS} headers", ["headers"], f"at most {MAX_HEADERS} headers")
            ],
        )
    seen: set[str] = set()
    for name, value in headers.items():
        lower = name.lower()
        if not _TOKEN.match(name):
            raise _invalid(
                "headers",
                "a valid HTTP header name",
                f"{name!r} is not a valid header name",
                ["headers", name],
            )
        if lower in RESERVED_HEADERS or lower.startswith(RESERVED_PREFIXES):
            raise _invalid(
                "headers",
                "a header openhero does not set itself",
                f"{name} is reserved and cannot be overridden",
                ["headers", name],
            )
        if lower in seen:
            raise _invalid("headers", "each header once", f"{name} is given twice", ["headers", name])
        seen.add(lower)
        if not (value.isascii() and value.isprintable()) or len(value) > 4096:
            raise _invalid(
                "headers",
                "a single-line printable ASCII value of at most 4096 characters",
                f"the value of {name} is not a valid header value",
                ["headers", name],
            )
    return dict(headers)


def _set_signing_key(hook: Webhook, key: str | None, secret_key: str) -> None:
    if key:
        hook.signing_key_encrypted = signing.encrypt_key(secret_key, key)
        hook.signing_key_hint = signing.key_hint(key)
    else:
        hook.signing_key_encrypted = hook.signing_key_hint = None


def _live(principal: Principal) -> Any:
    return owned(Webhook, principal).where(Webhook.deleted_at.is_(None))


async def create_webhook(
    session: AsyncSession,
    principal: Principal,
    body: CreateWebhookRequest,
    *,
    secret_key: str,
    now: datetime,
    allow_private: bool,
) -> Webhook:
    hook = Webhook(
        practice_group_id=principal.practice_group_id,
        event_type=body.event_type.value,
        url=await validate_url(body.url, allow_private=allow_private),
        description=body.description,
        headers=validate_headers(body.headers),
        created_at=now,
        updated_at=now,
    )
    _set_signing_key(hook, body.signing_key, secret_key)
    session.add(hook)
    await session.flush()
    return hook


async def list_webhooks(
    session: AsyncSession, principal: Principal, *, event_type: str | None, page: PageParams
) -> tuple[list[Webhook], int]:
    stmt = _live(principal).order_by(Webhook.id)
    if event_type:
        allowed = [e.value for e in WebhookEventType]
        if event_type not in allowed:
            raise ValidationFailed(
                "unknown event_type",
                items=[
                    error_item(
                        "invalid_enum_value",
                        " | ".join(allowed),
                        ["event_type"],
                        f"{event_type!r} is not an event type",
                    )
                ],
            )
        stmt = stmt.where(Webhook.event_type == event_type)
    return await paginate(session, stmt, page)


async def get_webhook(session: AsyncSession, principal: Principal, raw_id: str) -> Webhook:
    hook = (
        await session.execute(_live(principal).where(Webhook.id == parse_id(raw_id, "Webhook")))
    ).scalar_one_or_none()
    if hook is None:
        raise NotFound("Webhook")
    return hook


async def update_webhook(
    session: AsyncSession,
    principal: Principal,
    raw_id: str,
    body: UpdateWebhookRequest,
    *,
    secret_key: str,
    now: datetime,
    allow_private: bool,
) -> Webhook:
    hook = await get_webhook(session, principal, raw_id)
    given = body.model_fields_set
    if "event_type" in given:
        if body.event_type is None:
            raise _invalid("event_type", "an event type", "event_type cannot be null")
        hook.event_type = body.event_type.value
    if "url" in given:
        if body.url is None:
            raise _invalid("url", "an absolute http(s) URL", "url cannot be null")
        hook.url = await validate_url(body.url, allow_private=allow_private)
    if "description" in given:
        hook.description = body.description
    if "headers" in given:
        hook.headers = validate_headers(body.headers)
    if "signing_key" in given:
        _set_signing_key(hook, body.signing_key, secret_key)
    hook.updated_at = now
    await session.flush()
    return hook


async def delete_webhook(session: AsyncSession, principal: Principal, raw_id: str, *, now: datetime) -> Webhook:
    """Soft delete: nothing more is fanned out to it, and what is still queued is cancelled (the worker
    also re-checks at send time, so a delivery already claimed is cancelled rather than sent)."""
    hook = await get_webhook(session, principal, raw_id)
    hook.deleted_at = hook.updated_at = now
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == hook.id, WebhookDelivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.CANCELLED, finished_at=now, last_error="subscription deleted")
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    return hook


@dataclass
class DeliveryView:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


async def _with_attempts(session: AsyncSession, rows: list[WebhookDelivery]) -> list[DeliveryView]:
    by_delivery: dict[int, list[WebhookAttempt]] = {r.id: [] for r in rows}
    if rows:
        attempts = (
            (
                await session.execute(
                    select(WebhookAttempt)
                    .where(WebhookAttempt.delivery_id.in_(list(by_delivery)))
                    .order_by(WebhookAttempt.id)
                )
            )
            .scalars()
            .all()
        )
        for a in attempts:
            by_delivery[a.delivery_id].append(a)
    return [DeliveryView(r, by_delivery[r.id]) for r in rows]


async def list_deliveries(
    session: AsyncSession, principal: Principal, raw_id: str, *, statuses: list[str], page: PageParams
) -> tuple[list[DeliveryView], int]:
    """A subscription's deliveries, newest first (deleted subscriptions' logs stay readable)."""
    hook = await get_owned(session, Webhook, raw_id, principal, "Webhook")
    stmt = select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id).order_by(WebhookDelivery.id.desc())
    if statuses:
        stmt = stmt.where(WebhookDelivery.status.in_(statuses))
    rows, count = await paginate(session, stmt, page)
    return await _with_attempts(session, rows), count


async def send_test(session: AsyncSession, principal: Principal, raw_id: str, *, now: datetime) -> DeliveryView:
    """Queue a signed sample of the subscription's event (object id "0") for the worker to send."""
    hook = await get_webhook(session, principal, raw_id)
    body = queue.event_body(
        object_type=EVENT_OBJECTS.get(hook.event_type, "Appointment"),
        object_id="0",
        practice_group_id=hook.practice_group_id,
        event_type=hook.event_type,
    )
    delivery = WebhookDelivery(
        **queue.new_delivery(
            webhook_id=hook.id,
            practice_group_id=hook.practice_group_id,
            event_type=hook.event_type,
            body=body,
            now=now,
            is_test=True,
        )
    )
    session.add(delivery)
    await session.flush()
    return DeliveryView(delivery, [])


def payload_of(delivery: WebhookDelivery) -> dict[str, Any]:
    return dict(json.loads(delivery.body))


# Operator surface (CLI): not tenant-scoped.


async def operator_deliveries(session: AsyncSession, *, status: str | None, limit: int) -> list[WebhookDelivery]:
    stmt = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    return list((await session.execute(stmt)).scalars().all())


async def replay(session: AsyncSession, delivery_id: int, *, now: datetime) -> WebhookDelivery:
    """Send a delivery again as soon as a worker is free, with a fresh 24-hour retry window."""
    delivery = await session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound("Delivery")
    if delivery.status == DeliveryStatus.SENDING:
        raise Conflict("The delivery is being sent right now", expected="a delivery that is not in flight")
    hook = await session.get(Webhook, delivery.webhook_id)
    if hook is None or hook.deleted_at is not None:
        raise Conflict("The delivery's subscription was deleted", expected="a live subscription")
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now
    delivery.retry_until = now + queue.RETRY_WINDOW
    delivery.finished_at = None
    await session.flush()
    return delivery


def check_statuses(statuses: list[str]) -> None:
    for i, value in enumerate(statuses):
        if value not in DeliveryStatus.ALL:
            raise ValidationFailed(
                "unknown status",
                items=[
                    error_item(
                        "invalid_enum_value",
                        " | ".join(DeliveryStatus.ALL),
                        ["status", i],
                        f"{value!r} is not a delivery status",
                    )
                ],
            )
