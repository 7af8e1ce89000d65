"""Request and response bodies of the Messages operations (field names exactly as the contract's)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from openhero.core.schemas import ApiModel, Id, RequestModel, Timestamp


def _digits(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


DigitString = Annotated[str, BeforeValidator(_digits), Field(pattern=r"^[0-9]{1,18}$")]


class SendMessageRequest(RequestModel):
    patient_id: DigitString = Field(description="Hero patient id of the recipient.")
    message_type: Literal["hero", "sms", "email", "nhs_app"]
    message_string: str = Field(min_length=1, max_length=10_000)
    recipient_contact_detail: str | None = Field(default=None, max_length=200)
    fallback_contact_detail: str | None = Field(default=None, max_length=200)
    fallback_message_type: Literal["sms", "email"] | None = None
    write_to_record: bool = False
    encrypted: bool | str = False
    snomed_code: str | None = Field(default=None, max_length=32)
    snomed_term: str | None = Field(default=None, max_length=200)
    auto_write_to_record: bool = False
    task_id: Annotated[str | None, BeforeValidator(_digits)] = None
    attachment_uuid: str | None = Field(default=None, min_length=1, max_length=64)
    short_link_id: Annotated[str | None, BeforeValidator(_digits)] = Field(default=None, min_length=1, max_length=64)
    assignee_id: float | None = Field(default=None, description="Admin or AdminTeam id.")
    assignee_type: str | None = Field(default=None, description="Admin | AdminTeam")
    send_at: str | None = Field(default=None, description="ISO 8601 date-time with a timezone (or Z).")

    @field_validator(
        "recipient_contact_detail",
        "fallback_contact_detail",
        "snomed_code",
        "snomed_term",
        "send_at",
        "task_id",
        "assignee_type",
    )
    @classmethod
    def _blank_is_absent(cls, value: str | None) -> str | None:
        return value or None


class SendMessageResponse(ApiModel):
    message_id: Id
    content: str
    created_at: Timestamp
    snomed_code: str | None = None
    write_to_record: bool
    auth_token: str | None = None
    confirm_write_to_record_url: str | None = None
    submitted_by: str | None = None
    send_at: Timestamp | None = None
    status: str = Field(description="openhero: delivery status at creation (always queued).")
    message_type: str


class MessagePatientSummary(ApiModel):
    id: Id
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None


class MessageWriteToRecord(ApiModel):
    write_to_record_at: Timestamp | None = None
    status: str = Field(description="not_requested | awaiting_approval | approved | succeeded | failed")
    failure_reason: str | None = None
    snomed_code: str | None = None
    snomed_term: str | None = None


class MessageShortLink(ApiModel):
    id: str
    type: str | None = None
    name: str | None = None
    status: str | None = None


class MessageCampaign(ApiModel):
    id: Id
    name: str


class MessageAdminSummary(ApiModel):
    id: Id


class MessageOut(ApiModel):
    id: Id
    patient: MessagePatientSummary | None = None
    write_to_record: MessageWriteToRecord
    short_link: MessageShortLink | None = None
    campaign: MessageCampaign | None = None
    created_at: Timestamp
    sent_at: Timestamp | None = None
    scheduled_at: Timestamp | None = None
    status: Literal["queued", "sent", "delivered", "failed"]
    sent_by_admin: MessageAdminSummary | None = None
    # openhero additions
    message_type: str
    content: str
    recipient_contact_detail: str | None = None
    failure_reason: str | None = None
    delivered_at: Timestamp | None = None
    opened_at: Timestamp | None = None
    fallback_message_type: str | None = None
    fallback_message_id: Id | None = None
    fallback_of_message_id: Id | None = None
    task_id: Id | None = None
    attachment_uuid: str | None = None


class BatchRecipientInput(RequestModel):
    nhs_number: str | int = Field(description="Spaced or not; validated when the batch is processed.")
    dob: str | None = Field(description="YYYY-MM-DD or an ISO 8601 date-time.")

    @field_validator("nhs_number", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class CreateBatchMessageRequest(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    channel: Literal["SMS", "EMAIL", "NHS_APP"]
    subject: str | None = Field(default=None, max_length=300, description="Required when channel is EMAIL.")
    content: str = Field(min_length=1, max_length=10_000)
    recipients: list[BatchRecipientInput] | BatchRecipientInput = Field(
        description="An array of {nhs_number, dob}; a single object is accepted as a batch of one."
    )


class BatchMessageOut(ApiModel):
    id: Id
    name: str
    status: Literal["CREATED", "PENDING", "SENDING", "COMPLETED"]
    channel: Literal["SMS", "EMAIL", "NHS_APP"]
    subject: str | None = None
    content: str
    # openhero additions
    recipient_count: int
    created_at: Timestamp
    send_requested_at: Timestamp | None = None
    completed_at: Timestamp | None = None


class BatchMessageListOut(ApiModel):
    """The list envelope, plus the page's first batch at the top level: Hero's docs show this operation
    answering a single BatchMessage, so a client written against them finds those fields where it
    expects them, while ``data``/``count`` page through every batch."""

    data: list[BatchMessageOut]
    count: int
    id: Id | None = None
    name: str | None = None
    status: Literal["CREATED", "PENDING", "SENDING", "COMPLETED"] | None = None
    channel: Literal["SMS", "EMAIL", "NHS_APP"] | None = None
    subject: str | None = None
    content: str | None = None

    @classmethod
    def of(cls, items: list[BatchMessageOut], count: int) -> BatchMessageListOut:
        first = items[0].model_dump(include={"id", "name", "status", "channel", "subject", "content"}) if items else {}
        return cls(data=items, count=count, **first)


class BatchRecipientOut(ApiModel):
    id: Id
    nhs_number: str | None = None
    dob: str | None = None
    status: Literal["CREATED", "ENRICHMENT_ERROR", "ENRICHED", "INVALID_PAYLOAD", "QUEUED"]
    error: str | None = None
    patient_id: Id | None = None
    message_id: Id | None = None
    created_at: Timestamp
    updated_at: Timestamp


class TemplateOut(ApiModel):
    id: Id
    name: str
    message_type: str
    subject: str | None = None
    content: str
    has_follow_up: bool
    follow_up_template_id: Id | None = None
    follow_up_after_days: int | None = None
    snomed_code: str | None = None
    created_at: Timestamp


class AutomatedMessageOut(ApiModel):
    id: Id
    name: str
    trigger: str
    message_type: str
    offset_minutes: int
    active: bool
    write_to_record: bool
    template: TemplateOut | None = None
    created_at: Timestamp
    updated_at: Timestamp


class CreateAttachmentLinkRequest(RequestModel):
    expiry_date: str | None = Field(default=None, description="YYYY-MM-DD (a date-time is accepted).")
    ehr_file_id: Annotated[str | None, BeforeValidator(_digits)] = Field(default=None, max_length=64)
    file_data: str | None = Field(default=None, description="Base64 file content (a data: URL is accepted).")
    file_name: str | None = Field(default=None, max_length=255)
    patient_id: Annotated[str | None, BeforeValidator(_digits)] = None
    maximum_use_count: int | None = Field(default=None, ge=1, le=1_000_000)


class CreateAttachmentLinkResponse(ApiModel):
    attachment_link: str
    attachment_uuid: str


class OutboxEntryOut(ApiModel):
    id: Id
    message_id: Id
    channel: str
    recipient: str | None = None
    subject: str | None = None
    body: str
    outcome: str
    detail: str | None = None
    created_at: Timestamp
