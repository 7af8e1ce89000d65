"""Single messages: validate and store a send (message + send job in one transaction), read back,
approve a write-to-record, and the sandbox's 'patient opened it' action."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core import audit, tokens
from openhero.core.auth import Principal
from openhero.core.dates import RANGE_MESSAGE, bounded_utc
from openhero.core.errors import Conflict, NotFound, Unauthorised, ValidationFailed
from openhero.core.ids import is_id
from openhero.core.jobs import enqueue
from openhero.core.tenancy import MAX_ID, get_owned, parse_id
from openhero.messaging import delivery, ehr_write, limits, short_links
from openhero.messaging.contacts import resolve_contact
from openhero.messaging.models import AttachmentLink, Message
from openhero.messaging.schemas import SendMessageRequest
from openhero.patients.models import Patient
from openhero.practice.models import Admin, AdminTeam, ApiKey
from openhero.settings import Settings
from openhero.tasks.models import Task

SNOMED_DEFAULTS = {
    "sms": ("279991000000102", "Short message service text message sent to patient"),
    "email": ("401271004", "E-mail sent to patient"),
    "nhs_app": ("401271004", "E-mail sent to patient"),
    "hero": ("401271004", "E-mail sent to patient"),
}
WTR_TOKEN_PURPOSE = "write_to_record"
WTR_TOKEN_TTL = timedelta(days=7)
ASSIGNEE_MODELS = {"admin": Admin, "adminteam": AdminTeam, "admin_team": AdminTeam}
SEND_JOB = "messaging.send"


def parse_send_at(raw: str | None, now: datetime) -> datetime | None:
    """A future ``send_at`` schedules the message; a past or present one sends at once."""
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationFailed(
            "send_at must be an ISO 8601 date-time",
            code="invalid_date",
            expected="an ISO 8601 date-time such as 2026-01-01T09:00:00Z",
            path=["send_at"],
        ) from None
    if when.tzinfo is None:
        raise ValidationFailed(
            "send_at needs a timezone (Z or an offset)",
            code="invalid_date",
            expected="an ISO 8601 date-time with Z or an offset",
            path=["send_at"],
        )
    try:
        when = bounded_utc(when)
    except ValueError:
        raise ValidationFailed("send_at is out of range", code="invalid_date", expected=RANGE_MESSAGE,
                               path=["send_at"]) from None
    return when if when > now else None


async def _check_task(session: AsyncSession, group_id: int, raw: str | None) -> int | None:
    if raw is None:
        return None
    if not is_id(raw):
        raise ValidationFailed(
            "task_id must be a numeric id",
            code="invalid_string",
            expected="a task id of this practice group",
            path=["task_id"],
        )
    found = (
        await session.execute(select(Task.id).where(Task.id == int(raw), Task.practice_group_id == group_id))
    ).scalar_one_or_none()
    if found is None:
        raise ValidationFailed(
            f"No task {raw} in this practice group",
            code="invalid_task",
            expected="a task id of this practice group",
            path=["task_id"],
        )
    return found


async def _check_attachment(session: AsyncSession, group_id: int, raw: str | None) -> AttachmentLink | None:
    if raw is None:
        return None
    link = (
        await session.execute(
            select(AttachmentLink).where(AttachmentLink.uuid == raw, AttachmentLink.practice_group_id == group_id)
        )
    ).scalar_one_or_none()
    if link is None:
        raise ValidationFailed(
            "Unknown attachment_uuid",
            code="invalid_attachment",
            expected="an attachment_uuid from POST /v1/attachment_links",
            path=["attachment_uuid"],
        )
    return link


async def _check_assignee(
    session: AsyncSession, group_id: int, kind: str | None, raw_id: float | None
) -> tuple[str | None, int | None]:
    if kind is None and raw_id is None:
        return None, None
    model = ASSIGNEE_MODELS.get((kind or "").replace(" ", "").lower())
    if model is None:
        raise ValidationFailed(
            "assignee_type must be Admin or AdminTeam",
            code="invalid_enum_value",
            expected="'Admin' | 'AdminTeam'",
            path=["assignee_type"],
        )
    if raw_id is None or not 0 < raw_id < MAX_ID or raw_id != int(raw_id):
        raise ValidationFailed(
            "assignee_id is required with assignee_type",
            code="invalid_type",
            expected="a whole number",
            path=["assignee_id"],
        )
    found = (
        await session.execute(select(model.id).where(model.id == int(raw_id), model.practice_group_id == group_id))
    ).scalar_one_or_none()
    if found is None:
        raise ValidationFailed(
            f"No {model.__name__} {int(raw_id)} in this practice group",
            code="invalid_assignee",
            expected=f"an {model.__name__} of this practice group",
            path=["assignee_id"],
        )
    return ("Admin" if model is Admin else "AdminTeam"), int(raw_id)


def attachment_url(settings: Settings, link: AttachmentLink) -> str:
    return f"{settings.public_base_url.rstrip('/')}/attachments/{link.uuid}"


def confirm_url(settings: Settings, message_id: int, token: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/messages/{message_id}/confirm_write_to_record?auth_token={token}"


async def send_message(
    session: AsyncSession, principal: Principal, body: SendMessageRequest, *, settings: Settings, now: datetime
) -> tuple[Message, str | None]:
    """Store the message and its send job; returns the message and, when the write to the record
    waits for approval, the approval token."""
    group_id = principal.practice_group_id
    patient = await get_owned(session, Patient, body.patient_id, principal, "Patient")
    channel = body.message_type
    recipient = resolve_contact(channel, body.recipient_contact_detail, patient, "recipient_contact_detail")
    fallback_type = body.fallback_message_type if channel == "nhs_app" else None
    fallback_contact = None
    if fallback_type:
        fallback_contact = resolve_contact(
            fallback_type, body.fallback_contact_detail, patient, "fallback_contact_detail"
        )
    scheduled_at = parse_send_at(body.send_at, now)
    task_id = await _check_task(session, group_id, body.task_id)
    attachment = await _check_attachment(session, group_id, body.attachment_uuid)
    assignee_type, assignee_id = await _check_assignee(session, group_id, body.assignee_type, body.assignee_id)

    content = body.message_string
    if attachment is not None:
        content += f"\n\n{attachment.file_name or 'Attachment'}: {attachment_url(settings, attachment)}"
    if body.short_link_id:
        link = await short_links.resolve(
            session, group_id, body.short_link_id, base_url=settings.public_base_url, today=now.date()
        )
        if link is None:
            raise ValidationFailed(
                f"No booking or form link {body.short_link_id} in this practice group",
                code="invalid_short_link",
                expected="the id of a booking link or form link",
                path=["short_link_id"],
            )
        content += f"\n\n{link.url}"
    appended = " with the links openhero adds" if content != body.message_string else ""
    limits.check_content(channel, content, ["message_string"], what=appended)
    if fallback_type:
        limits.check_content(fallback_type, content, ["message_string"], what=f"{appended} (for the SMS fallback)")
    snomed_code = snomed_term = None
    wtr_status = "not_requested"
    if body.write_to_record:
        default_code, default_term = SNOMED_DEFAULTS[channel]
        snomed_code = body.snomed_code or default_code
        snomed_term = body.snomed_term or (default_term if snomed_code == default_code else snomed_code)
        # Without the key's permission the flag is ignored and the write waits for approval.
        auto = body.auto_write_to_record and principal.has_permission("auto_write_to_record")
        wtr_status = "approved" if auto else "awaiting_approval"
    key_name = (await session.execute(select(ApiKey.name).where(ApiKey.id == principal.key_id))).scalar_one_or_none()
    message = Message(
        practice_group_id=group_id,
        patient_id=patient.id,
        message_type=channel,
        content=content,
        subject=None,
        recipient=recipient,
        status="queued",
        scheduled_at=scheduled_at,
        fallback_message_type=fallback_type,
        fallback_contact_detail=fallback_contact,
        task_id=task_id,
        attachment_uuid=attachment.uuid if attachment else None,
        short_link_id=body.short_link_id,
        assignee_type=assignee_type,
        assignee_id=assignee_id,
        encrypted=_truthy(body.encrypted),
        api_key_id=principal.key_id,
        submitted_by=f"API key {key_name or principal.key_id}",
        write_to_record=body.write_to_record,
        wtr_status=wtr_status,
        snomed_code=snomed_code,
        snomed_term=snomed_term,
        created_at=now,
        updated_at=now,
    )
    session.add(message)
    await session.flush()
    await enqueue(
        session, SEND_JOB, {"message_id": message.id}, run_at=scheduled_at or now, practice_group_id=group_id, now=now,
        max_attempts=delivery.SEND_MAX_ATTEMPTS,
    )
    await audit.record(
        session,
        principal,
        "message.send",
        "Message",
        message.id,
        now=now,
        details={"message_type": channel, "scheduled": scheduled_at is not None},
    )
    token = None
    if wtr_status == "awaiting_approval":
        token = tokens.mint(
            settings.secret_key,
            purpose=WTR_TOKEN_PURPOSE,
            now=now,
            ttl=WTR_TOKEN_TTL,
            sub=str(message.id),
            practice_group_id=str(group_id),
        )
    return message, token


def _truthy(value: bool | str) -> bool:
    if isinstance(value, bool):
        return value
    return value.strip().lower() in ("true", "1", "yes")


async def get_message(session: AsyncSession, principal: Principal, raw_id: str) -> tuple[Message, Patient | None]:
    message = await get_owned(session, Message, raw_id, principal, "Message")
    patient = await session.get(Patient, message.patient_id) if message.patient_id else None
    return message, patient


async def confirm_write_to_record(
    session: AsyncSession, raw_id: str, token: str, *, settings: Settings, now: datetime
) -> Message:
    """An admin approves filing the message: the token from the send response is the authority."""
    message_id = parse_id(raw_id, "Message")
    try:
        claims = tokens.verify(settings.secret_key, token, purpose=WTR_TOKEN_PURPOSE, now=now)
    except tokens.TokenError as exc:
        raise Unauthorised(
            f"auth_token rejected: {exc}", expected="the auth_token from the send response", path=["auth_token"]
        ) from None
    if claims.get("sub") != str(message_id):
        raise Unauthorised(
            "auth_token belongs to another message", expected="this message's auth_token", path=["auth_token"]
        )
    message = (
        await session.execute(select(Message).where(Message.id == message_id).with_for_update())
    ).scalar_one_or_none()
    if message is None or str(message.practice_group_id) != claims.get("practice_group_id"):
        raise NotFound("Message")
    if message.wtr_status in ("approved", "succeeded", "failed"):
        return message  # approving twice is harmless
    message.wtr_status = "approved"
    message.updated_at = now
    if message.status != "queued":
        # Already sent (or failed): file it (or record why not) now; otherwise delivery will.
        await ehr_write.write_message(session, message, now=now)
    await session.flush()
    return message


async def mark_opened(session: AsyncSession, principal: Principal, raw_id: str, now: datetime) -> Message:
    """Sandbox: the patient opened the NHS App notification (cancels the fallback)."""
    message = await get_owned(session, Message, raw_id, principal, "Message", for_update=True)
    if message.message_type != "nhs_app":
        raise Conflict("Only NHS App messages can be opened", expected="an nhs_app message", path=["id"])
    if message.status not in ("sent", "delivered"):
        raise Conflict("The message has not been delivered yet", expected="a delivered message", path=["id"])
    if message.opened_at is None:
        message.opened_at = now
        message.updated_at = now
    await session.flush()
    return message


async def count_messages(session: AsyncSession, group_id: int) -> int:
    return int(
        (
            await session.execute(
                select(func.count()).select_from(Message).where(Message.practice_group_id == group_id)
            )
        ).scalar_one()
    )
