"""Attachment links (a patient-shareable link to a file, named by a uuid that a message can carry),
templates and automated messages (stored per practice group, read by the API)."""

from __future__ import annotations

import base64
import binascii
import mimetypes
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core import audit
from openhero.core.auth import Principal
from openhero.core.errors import ValidationFailed
from openhero.core.ids import to_id
from openhero.core.pagination import PageParams, paginate
from openhero.core.tenancy import get_owned, owned
from openhero.messaging.models import AttachmentLink, AutomatedMessage, MessageTemplate
from openhero.messaging.schemas import CreateAttachmentLinkRequest
from openhero.patients.models import EhrAttachment, Patient
from openhero.patients.nhs import parse_dob

MAX_FILE_BYTES = 10 * 1024 * 1024


def _decode(raw: str) -> bytes:
    text = raw.strip()
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed(
            "file_data must be base64",
            code="invalid_string",
            expected="base64-encoded file content (or a data: URL)",
            path=["file_data"],
        ) from None
    if not data:
        raise ValidationFailed("file_data is empty", code="too_small", expected="a non-empty file", path=["file_data"])
    if len(data) > MAX_FILE_BYTES:
        raise ValidationFailed(
            "file_data is too large",
            code="too_big",
            expected=f"at most {MAX_FILE_BYTES // (1024 * 1024)} MB",
            path=["file_data"],
        )
    return data


def _expiry(raw: str | None, today: date) -> date | None:
    if raw is None or raw == "":
        return None
    try:
        value = parse_dob(raw)  # same rules: YYYY-MM-DD or a date-time, calendar date as written
    except ValueError:
        raise ValidationFailed(
            "expiry_date must be a date", code="invalid_date", expected="YYYY-MM-DD", path=["expiry_date"]
        ) from None
    if value < today:
        raise ValidationFailed(
            "expiry_date is in the past", code="too_small", expected="today or a later date", path=["expiry_date"]
        )
    return value


async def create_attachment_link(
    session: AsyncSession, principal: Principal, body: CreateAttachmentLinkRequest, *, now: datetime
) -> AttachmentLink:
    group_id = principal.practice_group_id
    patient = await get_owned(session, Patient, body.patient_id, principal, "Patient") if body.patient_id else None
    if bool(body.ehr_file_id) == bool(body.file_data):
        raise ValidationFailed(
            "Send exactly one of ehr_file_id or file_data",
            code="invalid_union",
            expected="ehr_file_id or file_data (one of them)",
            path=["file_data"],
        )
    link = AttachmentLink(
        practice_group_id=group_id,
        patient_id=patient.id if patient else None,
        expiry_date=_expiry(body.expiry_date, now.date()),
        maximum_use_count=body.maximum_use_count,
        created_at=now,
        updated_at=now,
    )
    if body.file_data:
        link.data = _decode(body.file_data)
        link.file_name = body.file_name or "attachment"
        link.content_type = mimetypes.guess_type(link.file_name)[0] or "application/octet-stream"
    else:
        raw = str(body.ehr_file_id)
        stmt = select(EhrAttachment).where(
            EhrAttachment.practice_group_id == group_id,
            or_(EhrAttachment.uuid == raw, EhrAttachment.id == (to_id(raw) or -1)),
        )
        found = (await session.execute(stmt)).scalars().first()
        if found is None:
            raise ValidationFailed(
                "No EHR file with that id in this practice group",
                code="invalid_ehr_file",
                expected="an id from List Patient Attachments",
                path=["ehr_file_id"],
            )
        link.ehr_file_id = str(found.id)
        link.file_name = body.file_name or found.file_name
        link.content_type = found.content_type
    session.add(link)
    await session.flush()
    await audit.record(session, principal, "attachment_link.create", "AttachmentLink", link.id, now=now)
    return link


async def open_attachment(session: AsyncSession, uuid: str, *, today: date) -> AttachmentLink | None:
    """The patient opens the link: counts a use; None when unknown, expired or used up."""
    link = (
        await session.execute(select(AttachmentLink).where(AttachmentLink.uuid == uuid).with_for_update())
    ).scalar_one_or_none()
    if link is None or (link.expiry_date is not None and link.expiry_date < today):
        return None
    if link.maximum_use_count is not None and link.use_count >= link.maximum_use_count:
        return None
    link.use_count += 1
    await session.flush()
    return link


async def list_templates(
    session: AsyncSession, principal: Principal, has_follow_up: bool | None, page: PageParams
) -> tuple[list[MessageTemplate], int]:
    stmt = owned(MessageTemplate, principal)
    if has_follow_up is True:
        stmt = stmt.where(MessageTemplate.follow_up_template_id.is_not(None))
    elif has_follow_up is False:
        stmt = stmt.where(MessageTemplate.follow_up_template_id.is_(None))
    return await paginate(session, stmt.order_by(MessageTemplate.name, MessageTemplate.id), page)


async def get_automated_message(
    session: AsyncSession, principal: Principal, raw_id: str
) -> tuple[AutomatedMessage, MessageTemplate | None]:
    automated = await get_owned(session, AutomatedMessage, raw_id, principal, "Automated message")
    template = await session.get(MessageTemplate, automated.template_id) if automated.template_id else None
    return automated, template
