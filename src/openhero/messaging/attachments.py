"""Attachment links (a patient-shareable link to a file, named by a uuid that a message can carry),
templates and automated messages (stored per practice group, read by the API)."""

from __future__ import annotations

import base64
import binascii
import unicodedata
from datetime import date, datetime
from urllib.parse import quote

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

# Served inline only when the bytes are one of these (whatever the file name or the declared type say);
# everything else is a download as application/octet-stream, so an uploaded page or SVG never runs
# script on the patient pages' origin.
_INLINE_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
DOWNLOAD_TYPE = "application/octet-stream"
# Every file answer: no sniffing into another type, and a sandbox with nothing allowed should a browser
# render it anyway.
FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Cache-Control": "no-store",
}
# Bidirectional-text controls let "report\u202eFDP.exe" read as "report.exe.PDF".
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_RFC5987_SAFE = "!#$&+-.^_`|~"


def sniff_inline_type(data: bytes) -> str | None:
    """The allow-listed type the content itself has (PDF, PNG, JPEG), else None."""
    for magic, media_type in _INLINE_MAGIC:
        if data.startswith(magic):
            return media_type
    return None


def _is_control(c: str) -> bool:
    return unicodedata.category(c) == "Cc" or c in _BIDI


def check_file_name(name: str | None) -> str | None:
    if name is not None and any(_is_control(c) for c in name):
        raise ValidationFailed(
            "file_name contains control characters",
            code="invalid_string",
            expected="a file name without control characters",
            path=["file_name"],
        )
    return name


def safe_file_name(name: str | None) -> str:
    """A name fit for a header: no control characters, no path separators (stored rows from before the
    check are neutralised here too)."""
    cleaned = "".join("_" if c in '/\\' else c for c in (name or "") if not _is_control(c)).strip(" .")
    return cleaned or "attachment"


def content_disposition(kind: str, name: str | None) -> str:
    """RFC 6266: an ASCII ``filename`` for old clients and, when the name is not plain ASCII,
    ``filename*`` (UTF-8, percent-encoded) that modern browsers prefer."""
    full = safe_file_name(name)
    # é -> e (its ASCII base), anything without one -> _
    ascii_name = "".join(unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode("ascii") or "_"
                         for c in full)
    fallback = "".join(c if c.isalnum() or c in " ._-()[]+,=@" else "_" for c in ascii_name)
    stem, _, ext = fallback.rpartition(".") if "." in fallback else (fallback, "", "")
    stem, ext = stem.strip(" ."), ext.strip(" ._")
    fallback = (stem if stem.strip("_") else "attachment") + (f".{ext}" if ext else "")
    value = f'{kind}; filename="{fallback}"'
    if full != fallback:
        value += f"; filename*=UTF-8''{quote(full, safe=_RFC5987_SAFE)}"
    return value


def served_file(link: AttachmentLink) -> tuple[str, dict[str, str]]:
    """(media type, headers) for serving a link's bytes: inline only for sniffed PDF/PNG/JPEG."""
    inline_type = sniff_inline_type(link.data or b"")
    media_type = inline_type or DOWNLOAD_TYPE
    kind = "inline" if inline_type else "attachment"
    return media_type, {**FILE_HEADERS, "Content-Disposition": content_disposition(kind, link.file_name)}


def _declared_type(raw: str) -> str | None:
    text = raw.strip()
    if text.startswith("data:") and "," in text:
        return text[5:].split(",", 1)[0].split(";", 1)[0].strip().lower()[:100] or None
    return None


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
    check_file_name(body.file_name)
    if body.file_data:
        link.data = _decode(body.file_data)
        link.file_name = body.file_name or "attachment"
        # What the bytes are, never what the name says; a declared data: type is kept only for record
        # (serving sniffs again: see ``served_file``).
        link.content_type = sniff_inline_type(link.data) or _declared_type(body.file_data) or DOWNLOAD_TYPE
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
