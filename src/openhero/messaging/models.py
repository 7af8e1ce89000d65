"""Messaging tables: messages, batch campaigns and their recipients, the sandbox outbox, attachment
links, templates, automated messages and the record entries written for messages."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from openhero.core.db import Base, IdType
from openhero.core.models import IdMixin, TenantMixin, TimestampMixin, utcnow

MESSAGE_TYPES = ("hero", "sms", "email", "nhs_app")
FALLBACK_TYPES = ("sms", "email")
MESSAGE_STATUSES = ("queued", "sent", "delivered", "failed")
BATCH_CHANNELS = ("SMS", "EMAIL", "NHS_APP")
BATCH_STATUSES = ("CREATED", "PENDING", "SENDING", "COMPLETED")
RECIPIENT_STATUSES = ("CREATED", "ENRICHMENT_ERROR", "ENRICHED", "INVALID_PAYLOAD", "QUEUED")
# Write-to-record lifecycle (openhero): not requested -> awaiting approval | approved -> succeeded | failed.
WTR_STATUSES = ("not_requested", "awaiting_approval", "approved", "succeeded", "failed")


class Message(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_batch_position", "batch_id", "batch_position"),
        Index("ix_messages_batch_status", "batch_id", "status"),
        Index("ix_messages_group_created", "practice_group_id", "created_at"),
    )
    patient_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("patients.id", ondelete="SET NULL"), index=True)
    message_type: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(String(300))
    recipient: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    failure_reason: Mapped[str | None] = mapped_column(String(300))
    scheduled_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()
    opened_at: Mapped[datetime | None] = mapped_column()
    provider: Mapped[str | None] = mapped_column(String(16))
    provider_reference: Mapped[str | None] = mapped_column(String(100))
    # NHS App fallback: the channel and contact to use if the notification stays unopened for an hour.
    fallback_message_type: Mapped[str | None] = mapped_column(String(16))
    fallback_contact_detail: Mapped[str | None] = mapped_column(String(200))
    fallback_message_id: Mapped[int | None] = mapped_column(IdType)
    fallback_of_id: Mapped[int | None] = mapped_column(IdType)
    task_id: Mapped[int | None] = mapped_column(IdType)
    attachment_uuid: Mapped[str | None] = mapped_column(String(36))
    short_link_id: Mapped[str | None] = mapped_column(String(64))
    assignee_type: Mapped[str | None] = mapped_column(String(16))
    assignee_id: Mapped[int | None] = mapped_column(IdType)
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    api_key_id: Mapped[int | None] = mapped_column(IdType)
    submitted_by: Mapped[str | None] = mapped_column(String(200))
    write_to_record: Mapped[bool] = mapped_column(Boolean, default=False)
    wtr_status: Mapped[str] = mapped_column(String(24), default="not_requested")
    wtr_at: Mapped[datetime | None] = mapped_column()
    wtr_failure_reason: Mapped[str | None] = mapped_column(String(300))
    snomed_code: Mapped[str | None] = mapped_column(String(32))
    snomed_term: Mapped[str | None] = mapped_column(String(200))
    batch_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("batch_messages.id", ondelete="CASCADE"))
    batch_position: Mapped[int | None] = mapped_column()


class BatchMessage(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "batch_messages"
    __table_args__ = (Index("ix_batch_messages_group_created", "practice_group_id", "created_at"),)
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(300))
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="CREATED")
    recipient_count: Mapped[int] = mapped_column(default=0)
    # Recipients are processed in fixed-size chunks (by position); completion counts finished chunks.
    chunk_size: Mapped[int] = mapped_column(default=1000)
    chunks_total: Mapped[int] = mapped_column(default=0)
    chunks_sent: Mapped[int] = mapped_column(default=0)
    api_key_id: Mapped[int | None] = mapped_column(IdType)
    send_requested_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()


class BatchRecipient(IdMixin, Base):
    """One recipient as submitted (``nhs_number``/``raw_dob`` verbatim until enrichment normalises them).
    Its message is the batch's message with the same position."""

    __tablename__ = "batch_message_recipients"
    __table_args__ = (
        Index("ix_batch_recipients_position", "batch_id", "position"),
        Index("ix_batch_recipients_status", "batch_id", "status", "position"),
    )
    batch_id: Mapped[int] = mapped_column(IdType, ForeignKey("batch_messages.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    nhs_number: Mapped[str | None] = mapped_column(String(32))
    dob: Mapped[date | None] = mapped_column()
    raw_dob: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="CREATED")
    error: Mapped[str | None] = mapped_column(String(300))
    patient_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("patients.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SandboxOutboxEntry(IdMixin, TenantMixin, Base):
    """Every message the sandbox provider 'sent', so developers can see what a patient would get."""

    __tablename__ = "messaging_sandbox_outbox"
    message_id: Mapped[int] = mapped_column(IdType, index=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AttachmentLink(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "attachment_links"
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    patient_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("patients.id", ondelete="SET NULL"), index=True)
    ehr_file_id: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    expiry_date: Mapped[date | None] = mapped_column()
    maximum_use_count: Mapped[int | None] = mapped_column()
    use_count: Mapped[int] = mapped_column(default=0)


class MessageTemplate(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "message_templates"
    name: Mapped[str] = mapped_column(String(200))
    message_type: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(300))
    content: Mapped[str] = mapped_column(Text)
    follow_up_template_id: Mapped[int | None] = mapped_column(IdType)
    follow_up_after_days: Mapped[int | None] = mapped_column()
    snomed_code: Mapped[str | None] = mapped_column(String(32))


class AutomatedMessage(IdMixin, TenantMixin, TimestampMixin, Base):
    """A rule: when ``trigger`` happens, send ``template`` over ``message_type`` after ``offset_minutes``."""

    __tablename__ = "automated_messages"
    name: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(64))
    message_type: Mapped[str] = mapped_column(String(16))
    template_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("message_templates.id", ondelete="SET NULL"))
    offset_minutes: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    write_to_record: Mapped[bool] = mapped_column(Boolean, default=False)
