"""Sandbox fault switches for message providers (see core.sandbox): ``sms``, ``email``, ``nhs_app``.

- ``fail``: the provider refuses the message at once (status failed);
- ``bounce``: accepted (sent), then the status check finds it permanently failed;
- ``delay``: the provider is unavailable, so the send job is retried later (the message stays queued).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core.sandbox import fault_for
from openhero.messaging.providers.base import Outgoing, Provider, ProviderUnavailable, SendResult

BOUNCE_PREFIX = "sandbox-bounce:"
BOUNCE_CHECK_AFTER = timedelta(seconds=1)


class FaultInjectingProvider:
    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.name = inner.name

    async def send(self, message: Outgoing) -> SendResult:
        mode = fault_for(message.practice_group_id, message.channel)
        if mode == "fail":
            return SendResult("failed", failure_reason="The provider refused the message (sandbox fault: fail)")
        if mode == "delay":
            raise ProviderUnavailable("the provider is unavailable (sandbox fault: delay)")
        result = await self.inner.send(message)
        if mode == "bounce" and result.status != "failed":
            return SendResult("sent", reference=BOUNCE_PREFIX + (result.reference or str(message.message_id)),
                              check_after=BOUNCE_CHECK_AFTER)
        return result

    async def record(self, session: AsyncSession, message: Outgoing, result: SendResult, now: datetime) -> None:
        await self.inner.record(session, message, result, now)

    async def record_many(self, session: AsyncSession, sent: list[tuple[Outgoing, SendResult]],
                          now: datetime) -> None:
        await self.inner.record_many(session, sent, now)

    async def check(self, reference: str) -> SendResult:
        if reference.startswith(BOUNCE_PREFIX):
            return SendResult("failed", reference=reference,
                              failure_reason="Permanent failure: the message bounced (sandbox fault: bounce)")
        return await self.inner.check(reference)
