"""ORM rows -> response schemas."""

from __future__ import annotations

from openhero.messaging.models import AutomatedMessage, BatchMessage, BatchRecipient, Message, MessageTemplate
from openhero.messaging.schemas import (
    AutomatedMessageOut,
    BatchMessageOut,
    BatchRecipientOut,
    MessageCampaign,
    MessageOut,
    MessagePatientSummary,
    MessageShortLink,
    MessageWriteToRecord,
    TemplateOut,
)
from openhero.messaging.short_links import ShortLinkInfo
from openhero.patients.models import Patient


def message_out(
    message: Message, patient: Patient | None, campaign: BatchMessage | None = None, link: ShortLinkInfo | None = None
) -> MessageOut:
    return MessageOut(
        id=message.id,
        patient=MessagePatientSummary(
            id=patient.id, title=patient.title, first_name=patient.first_name, last_name=patient.last_name
        )
        if patient
        else None,
        write_to_record=MessageWriteToRecord(
            write_to_record_at=message.wtr_at,
            status=message.wtr_status,
            failure_reason=message.wtr_failure_reason,
            snomed_code=message.snomed_code,
            snomed_term=message.snomed_term,
        ),
        short_link=(
            MessageShortLink(id=link.id, type=link.type, status=link.status)
            if link
            else MessageShortLink(id=message.short_link_id)
            if message.short_link_id
            else None
        ),
        campaign=MessageCampaign(id=campaign.id, name=campaign.name) if campaign else None,
        created_at=message.created_at,
        sent_at=message.sent_at,
        scheduled_at=message.scheduled_at,
        status=message.status,
        sent_by_admin=None,
        message_type=message.message_type,
        content=message.content,
        recipient_contact_detail=message.recipient,
        failure_reason=message.failure_reason,
        delivered_at=message.delivered_at,
        opened_at=message.opened_at,
        fallback_message_type=message.fallback_message_type,
        fallback_message_id=message.fallback_message_id,
        fallback_of_message_id=message.fallback_of_id,
        task_id=message.task_id,
        attachment_uuid=message.attachment_uuid,
    )


def batch_out(batch: BatchMessage) -> BatchMessageOut:
    return BatchMessageOut(
        id=batch.id,
        name=batch.name,
        status=batch.status,
        channel=batch.channel,
        subject=batch.subject,
        content=batch.content,
        recipient_count=batch.recipient_count,
        created_at=batch.created_at,
        send_requested_at=batch.send_requested_at,
        completed_at=batch.completed_at,
    )


def recipient_out(row: BatchRecipient, message_id: int | None) -> BatchRecipientOut:
    return BatchRecipientOut(
        id=row.id,
        nhs_number=row.nhs_number,
        dob=row.dob.isoformat() if row.dob else row.raw_dob,
        status=row.status,
        error=row.error,
        patient_id=row.patient_id,
        message_id=message_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def template_out(t: MessageTemplate) -> TemplateOut:
    return TemplateOut(
        id=t.id,
        name=t.name,
        message_type=t.message_type,
        subject=t.subject,
        content=t.content,
        has_follow_up=t.follow_up_template_id is not None,
        follow_up_template_id=t.follow_up_template_id,
        follow_up_after_days=t.follow_up_after_days,
        snomed_code=t.snomed_code,
        created_at=t.created_at,
    )


def automated_out(a: AutomatedMessage, template: MessageTemplate | None) -> AutomatedMessageOut:
    return AutomatedMessageOut(
        id=a.id,
        name=a.name,
        trigger=a.trigger,
        message_type=a.message_type,
        offset_minutes=a.offset_minutes,
        active=a.active,
        write_to_record=a.write_to_record,
        template=template_out(template) if template else None,
        created_at=a.created_at,
        updated_at=a.updated_at,
    )
