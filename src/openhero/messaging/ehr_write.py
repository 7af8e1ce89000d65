"""Writing a sent message to the patient's record in the practice's local EHR.

The entry (``openhero.patients.ehr.write_entry``, kind ``message``, source ``message:<id>``) is a
consultation line coded with the message's SNOMED code, appended to the patient's linked EHR record. Every outcome emits
``write-to-record.succeeded`` or ``write-to-record.failed`` (object ``Message``) in the same
transaction; a failure also opens a ``system_alert`` task so the practice can file it by hand.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core.outbox import emit
from openhero.core.sandbox import fault_for
from openhero.messaging.models import Message
from openhero.patients import ehr
from openhero.patients.models import EhrEntry, Patient
from openhero.tasks.service import create_task

CHANNEL_NAMES = {"sms": "SMS", "email": "Email", "nhs_app": "NHS App message", "hero": "Hero message"}


def _refusal(message: Message, patient: Patient | None) -> str | None:
    if message.status == "failed":
        return "The message was not delivered, so it was not filed to the record"
    if patient is None:
        return "The patient no longer exists"
    if not patient.nhs_number:
        return "The patient has no NHS number, so the record cannot be matched in the EHR"
    if patient.status == "archived" or patient.merged_into_id is not None:
        return "The patient record is archived"
    return None


async def write_message(session: AsyncSession, message: Message, *, now: datetime) -> bool:
    """File ``message`` (already sent, write approved) or record why not. Idempotent per message."""
    if message.wtr_status in ("succeeded", "failed"):
        return message.wtr_status == "succeeded"
    patient = await session.get(Patient, message.patient_id) if message.patient_id else None
    reason = _refusal(message, patient)
    if reason is None and fault_for(message.practice_group_id, "ehr_write") == "reject":
        reason = "The practice's EHR rejected the entry (sandbox fault: reject)"
    if reason is None and patient is not None:
        source = f"message:{message.id}"
        exists = (
            await session.execute(
                select(EhrEntry.id).where(
                    EhrEntry.practice_group_id == message.practice_group_id, EhrEntry.source == source
                )
            )
        ).first()
        if exists is None:
            when = message.sent_at or now
            text = (
                f"{message.snomed_term or 'Message sent to patient'}. "
                f"{CHANNEL_NAMES.get(message.message_type, 'Message')} sent {when:%d/%m/%Y %H:%M}: "
                f"{message.content}"
            )
            entry = await ehr.write_entry(
                session,
                practice_group_id=message.practice_group_id,
                patient_id=patient.id,
                text=text,
                snomed_code=message.snomed_code,
                kind="message",
                source=source,
                now=now,
            )
            if entry is None:
                reason = "The patient is not linked to a record in the practice's EHR"
    if reason is None:
        message.wtr_status = "succeeded"
        message.wtr_at = now
        message.wtr_failure_reason = None
        event = "write-to-record.succeeded"
    else:
        message.wtr_status = "failed"
        message.wtr_at = now
        message.wtr_failure_reason = reason
        event = "write-to-record.failed"
        await create_task(
            session,
            practice_group_id=message.practice_group_id,
            type_label="Write to record failed",
            category="system_alert",
            patient_id=patient.id if patient else None,
            priority="high",
            details=f"Message {message.id} could not be written to the record: {reason}",
            message_id=message.id,
            now=now,
            system_alert_details={"reason": reason, "message_id": str(message.id)},
        )
    message.updated_at = now
    await emit(
        session,
        event,
        "Message",
        message.id,
        practice_group_id=message.practice_group_id,
        now=now,
        data={"message_id": str(message.id), "reason": message.wtr_failure_reason},
    )
    await session.flush()
    return event.endswith("succeeded")
