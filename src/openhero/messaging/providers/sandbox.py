"""The sandbox provider: delivers nothing, records every message in the outbox table, and turns a
few documented magic recipients into failures so partners can exercise every outcome."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.messaging.models import SandboxOutboxEntry
from openhero.messaging.providers.base import Outgoing, SendResult

UNDELIVERABLE_MOBILE = "07700900999"
BOUNCE_DOMAIN = "bounce.example"


def uk_phone_digits(raw: str) -> str:
    """``+44 7700 900999`` / ``07700-900999`` -> ``07700900999`` (for comparisons only)."""
    digits = re.sub(r"[^\d+]", "", raw)
    if digits.startswith("+44"):
        digits = "0" + digits[3:]
    elif digits.startswith("0044"):
        digits = "0" + digits[4:]
    return digits


def outcome_for(message_id: int, channel: str, recipient: str | None) -> SendResult:
    reference = f"sandbox-{message_id}"
    if channel == "sms" and recipient and uk_phone_digits(recipient) == UNDELIVERABLE_MOBILE:
        return SendResult("failed", reference, "undeliverable: the handset could not be reached")
    if channel == "email" and recipient and recipient.lower().rsplit("@", 1)[-1] == BOUNCE_DOMAIN:
        return SendResult("failed", reference, "bounced: the recipient's mail server rejected the message")
    if channel == "nhs_app":
        # Delivered to the NHS App inbox; "opened" only when the sandbox open endpoint is called.
        return SendResult("delivered", reference)
    return SendResult("delivered", reference)


class SandboxProvider:
    name = "sandbox"

    def __init__(self, channel: str) -> None:
        self.channel = channel

    async def send(self, message: Outgoing) -> SendResult:
        return outcome_for(message.message_id, message.channel, message.recipient)

    async def record(self, session: AsyncSession, message: Outgoing, result: SendResult, now: datetime) -> None:
        await self.record_many(session, [(message, result)], now)

    async def record_many(self, session: AsyncSession, sent: list[tuple[Outgoing, SendResult]], now: datetime) -> None:
        if sent:
            await session.execute(
                insert(SandboxOutboxEntry.__table__),
                [
                    {
                        "practice_group_id": m.practice_group_id,
                        "message_id": m.message_id,
                        "channel": m.channel,
                        "recipient": m.recipient,
                        "subject": m.subject,
                        "body": m.body,
                        "outcome": r.status,
                        "detail": r.failure_reason,
                        "created_at": now,
                    }
                    for m, r in sent
                ],
            )

    async def check(self, reference: str) -> SendResult:
        return SendResult("delivered", reference)
