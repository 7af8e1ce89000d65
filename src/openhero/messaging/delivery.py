"""Turning queued messages into provider calls and recording what the provider said.

The provider is called outside any database transaction (it may be a network call); the outcome is
then stored with a conditional update, so a message that another worker already settled is left
alone. Sends are at-least-once: a crash between the provider call and the commit resends.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core.jobs import enqueue
from openhero.messaging import ehr_write
from openhero.messaging.models import Message
from openhero.messaging.providers import Outgoing, Provider, Sender, SendResult
from openhero.practice.models import PracticeGroup

FALLBACK_AFTER = timedelta(hours=1)
# A transient provider failure (SMTP 4xx/530, TLS, timeouts, Notify 401/403/429/5xx) is retried with backoff
# - each wait about as long as the message has already waited, 1 minute to 1 hour - until the message's
# retry window closes; then it fails with the last reason.
SEND_RETRY_WINDOW = timedelta(hours=24)
RETRY_MIN = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=1)
# Enough job attempts for the whole window (~35 at most).
SEND_MAX_ATTEMPTS = 100
CHECK_JOB = "messaging.check_status"
FALLBACK_JOB = "messaging.nhs_app_fallback"


def retry_delay(waited: timedelta) -> timedelta | None:
    """How long until the next attempt for a send that has waited ``waited``; None: the window is over."""
    if waited >= SEND_RETRY_WINDOW:
        return None
    return min(min(RETRY_MAX, max(RETRY_MIN, waited)) * random.uniform(0.8, 1.0), SEND_RETRY_WINDOW - waited)


def gave_up(reason: str) -> SendResult:
    hours = int(SEND_RETRY_WINDOW.total_seconds() // 3600)
    return SendResult("failed", None, f"not sent within {hours} hours; last attempt: {reason}")


def outgoing(message: Any, sender: Sender | None = None) -> Outgoing:
    """From a Message (or a row with the same column names)."""
    return Outgoing(
        message_id=message.id,
        practice_group_id=message.practice_group_id,
        channel=message.message_type,
        recipient=message.recipient,
        subject=message.subject,
        body=message.content,
        sender=sender.email_from if sender else None,
        reply_to=sender.email_reply_to if sender else None,
    )


async def sender_for(session: AsyncSession, practice_group_id: int) -> Sender | None:
    """The practice group's own email From and Reply-To, if it set them."""
    row = (
        await session.execute(
            select(PracticeGroup.email_from, PracticeGroup.email_reply_to).where(
                PracticeGroup.id == practice_group_id
            )
        )
    ).one_or_none()
    if row is None or not (row.email_from or row.email_reply_to):
        return None
    return Sender(row.email_from, row.email_reply_to)


def outcome_values(result: SendResult, provider: Provider, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": result.status,
        "provider": provider.name,
        "provider_reference": result.reference,
        "sent_at": now,
        "updated_at": now,
        "failure_reason": result.failure_reason,
    }
    if result.status == "delivered":
        values["delivered_at"] = now
    return values


async def store_outcome(
    session: AsyncSession, message: Message, provider: Provider, result: SendResult, *, now: datetime
) -> bool:
    """Record a single message's send outcome and everything it sets off. False if already settled."""
    changed = (
        await session.execute(
            update(Message)
            .where(Message.id == message.id, Message.status == "queued")
            .values(**outcome_values(result, provider, now))
            .execution_options(synchronize_session=False)
        )
    ).rowcount
    if not changed:
        return False
    await provider.record(session, outgoing(message), result, now)
    fresh = (
        await session.execute(select(Message).where(Message.id == message.id).execution_options(populate_existing=True))
    ).scalar_one()
    await after_outcome(session, fresh, result, now=now)
    return True


async def after_outcome(session: AsyncSession, message: Message, result: SendResult, *, now: datetime) -> None:
    group = message.practice_group_id
    if result.check_after is not None and result.status == "sent":
        await enqueue(
            session,
            CHECK_JOB,
            {"message_id": message.id},
            run_at=now + result.check_after,
            practice_group_id=group,
            now=now,
            max_attempts=900,
        )
    if message.message_type == "nhs_app" and message.fallback_message_type:
        # Unopened after an hour (or not delivered at all) -> the fallback channel.
        run_at = now if message.status == "failed" else now + FALLBACK_AFTER
        await enqueue(
            session, FALLBACK_JOB, {"message_id": message.id}, run_at=run_at, practice_group_id=group, now=now
        )
    if message.write_to_record and message.wtr_status == "approved":
        await ehr_write.write_message(session, message, now=now)


async def apply_check(session: AsyncSession, message_id: int, result: SendResult, *, now: datetime) -> None:
    """A later status from the provider (sent -> delivered | failed)."""
    values: dict[str, Any] = {"status": result.status, "failure_reason": result.failure_reason, "updated_at": now}
    if result.status == "delivered":
        values["delivered_at"] = now
    await session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status == "sent")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
