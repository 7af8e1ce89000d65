"""Worker jobs: single sends (immediate and scheduled), provider status checks, the NHS App
fallback and batch enrichment, queueing and sending."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from openhero.core.jobs import enqueue
from openhero.core.worker import JobContext, PermanentFailure, Retry, job_handler
from openhero.messaging import batch_jobs, delivery
from openhero.messaging.contacts import contact_on_record
from openhero.messaging.models import Message
from openhero.messaging.providers import ProviderUnavailable, get_provider
from openhero.messaging.service import SEND_JOB
from openhero.patients.models import Patient


@job_handler(SEND_JOB)
async def send_message(ctx: JobContext, payload: dict[str, Any]) -> None:
    async with ctx.db.session(write=False) as session:
        message = await session.get(Message, int(payload["message_id"]))
        if message is None or message.status != "queued":
            return  # deleted, or already settled by an earlier attempt
        email = message.message_type == "email"
        sender = await delivery.sender_for(session, message.practice_group_id) if email else None
    provider = get_provider(message.message_type, ctx.settings)
    try:
        result = await provider.send(delivery.outgoing(message, sender))
    except ProviderUnavailable as exc:
        delay = delivery.retry_delay(ctx.clock.now() - (message.scheduled_at or message.created_at))
        if delay is not None:
            raise Retry(delay, str(exc)) from None
        result = delivery.gave_up(str(exc))
    async with ctx.db.session() as session:
        await delivery.store_outcome(session, message, provider, result, now=ctx.clock.now())
        await session.commit()


@job_handler(delivery.CHECK_JOB)
async def check_status(ctx: JobContext, payload: dict[str, Any]) -> None:
    async with ctx.db.session(write=False) as session:
        message = await session.get(Message, int(payload["message_id"]))
    if message is None or message.status != "sent" or not message.provider_reference:
        return
    provider = get_provider(message.message_type, ctx.settings)
    try:
        result = await provider.check(message.provider_reference)
    except ProviderUnavailable as exc:
        raise Retry(delivery.FALLBACK_AFTER / 12, str(exc)) from None
    if result.status == "sent":
        if result.check_after is None:
            return  # final: e.g. Notify's 'sent' to an international number, which gives no receipt
        raise Retry(result.check_after, "still pending at the provider")
    async with ctx.db.session() as session:
        await delivery.apply_check(session, message.id, result, now=ctx.clock.now())
        await session.commit()


@job_handler(delivery.FALLBACK_JOB)
async def nhs_app_fallback(ctx: JobContext, payload: dict[str, Any]) -> None:
    """An NHS App message still unopened an hour after sending goes out again on the fallback channel."""
    now = ctx.clock.now()
    async with ctx.db.session() as session:
        original = (
            await session.execute(select(Message).where(Message.id == int(payload["message_id"])).with_for_update())
        ).scalar_one_or_none()
        if original is None:
            raise PermanentFailure("message gone")
        if original.opened_at is not None or original.fallback_message_id is not None:
            return
        channel = original.fallback_message_type or "sms"
        recipient = original.fallback_contact_detail
        if not recipient and original.patient_id:
            patient = await session.get(Patient, original.patient_id)
            recipient = contact_on_record(channel, patient) if patient else None
        if not recipient:
            original.failure_reason = f"NHS App fallback not sent: no {channel} contact detail"
            await session.commit()
            return
        fallback = Message(
            practice_group_id=original.practice_group_id,
            patient_id=original.patient_id,
            message_type=channel,
            content=original.content,
            recipient=recipient,
            status="queued",
            fallback_of_id=original.id,
            task_id=original.task_id,
            attachment_uuid=original.attachment_uuid,
            short_link_id=original.short_link_id,
            assignee_type=original.assignee_type,
            assignee_id=original.assignee_id,
            encrypted=original.encrypted,
            api_key_id=original.api_key_id,
            submitted_by=original.submitted_by,
            created_at=now,
            updated_at=now,
        )
        session.add(fallback)
        await session.flush()
        original.fallback_message_id = fallback.id
        original.updated_at = now
        await enqueue(
            session, SEND_JOB, {"message_id": fallback.id}, practice_group_id=original.practice_group_id, now=now,
            max_attempts=delivery.SEND_MAX_ATTEMPTS,
        )
        await session.commit()


# Batch handlers live in batch_jobs; importing registers them.
__all__ = ["batch_jobs", "check_status", "nhs_app_fallback", "send_message"]
