"""Webhook request and response bodies (Hero's contract) plus openhero's delivery log shapes."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from openhero.core.schemas import ApiModel, Id, RequestModel, Timestamp


class WebhookEventType(StrEnum):
    """Hero's eight selectable events, plus ``form-submission.created`` (an openhero extension: Hero's
    AsyncAPI docs show that channel although its Create Webhook enum omits it)."""

    APPOINTMENT_CONFIRMED = "appointment.confirmed"
    APPOINTMENT_CANCELLED = "appointment.cancelled"
    APPOINTMENT_RESCHEDULED = "appointment.rescheduled"
    PRESCRIPTION_ISSUED = "prescription.issued"
    PATIENT_MEDICAL_RECORD_UPDATED = "patient.medical-record-updated"
    PATIENT_ADDED_TO_SEQUENCE = "patient.added-to-sequence"
    WRITE_TO_RECORD_SUCCEEDED = "write-to-record.succeeded"
    WRITE_TO_RECORD_FAILED = "write-to-record.failed"
    FORM_SUBMISSION_CREATED = "form-submission.created"


class CreateWebhookRequest(RequestModel):
    event_type: WebhookEventType
    url: str = Field(max_length=2048, json_schema_extra={"format": "uri"})
    description: str | None = Field(default=None, max_length=1000)
    signing_key: str | None = Field(
        default=None,
        max_length=512,
        description="HMAC-SHA256 key for X-Herohealth-Signature. Stored encrypted; "
        "never returned (responses show a hint).",
    )
    headers: dict[str, str] | None = Field(
        default=None,
        description="Sent with every delivery. Content-Type, "
        "Host, Content-Length and X-Herohealth-*/"
        "X-Openhero-* are reserved.",
    )


class UpdateWebhookRequest(RequestModel):
    """Any subset of the create body. ``signing_key`` null or "" stops signing; ``headers`` replaces the
    whole map (null clears it); ``description`` null clears it."""

    event_type: WebhookEventType | None = None
    url: str | None = Field(default=None, max_length=2048, json_schema_extra={"format": "uri"})
    description: str | None = Field(default=None, max_length=1000)
    signing_key: str | None = Field(default=None, max_length=512)
    headers: dict[str, str] | None = None


class WebhookOut(ApiModel):
    id: Id
    event_type: str
    url: str
    description: str | None = None
    signing_key: str | None = Field(
        default=None,
        description="Never the key: '****' plus its last four "
        "characters (keys of 16+ characters), or null "
        "when deliveries are unsigned.",
    )
    headers: dict[str, str] = Field(default_factory=dict)
    created_at: Timestamp
    updated_at: Timestamp


class DeleteWebhookResponse(ApiModel):
    id: Id
    deleted: bool = True


class AttemptOut(ApiModel):
    number: int
    started_at: Timestamp
    latency_ms: int
    status_code: int | None = None
    error: str | None = None
    response_snippet: str | None = None


class DeliveryOut(ApiModel):
    id: Id
    webhook_id: Id
    event_id: Id | None = None
    event_type: str
    test: bool = False
    status: str = Field(description="pending | sending | delivered | failed | cancelled")
    payload: dict[str, Any]
    attempt_count: int
    next_attempt_at: Timestamp | None = None
    retry_until: Timestamp
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: Timestamp
    delivered_at: Timestamp | None = None
    attempts: list[AttemptOut] = Field(default_factory=list)
