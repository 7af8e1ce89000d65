"""The provider interface: one outgoing message in, one delivery outcome out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class Outgoing:
    message_id: int
    practice_group_id: int
    channel: str  # hero | sms | email | nhs_app
    recipient: str | None
    subject: str | None
    body: str


@dataclass(frozen=True)
class SendResult:
    """``status`` is where the message stands after the call: sent (accepted, outcome pending),
    delivered, or failed (with ``failure_reason``). ``check_after`` asks for a status poll later."""

    status: str
    reference: str | None = None
    failure_reason: str | None = None
    check_after: timedelta | None = None


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered 5xx/429: try again later."""


class Provider(Protocol):
    name: str

    async def send(self, message: Outgoing) -> SendResult: ...

    async def record(self, session: AsyncSession, message: Outgoing, result: SendResult, now: datetime) -> None:
        """Store anything the provider keeps locally, in the caller's transaction (sandbox outbox)."""
        ...

    async def record_many(
        self, session: AsyncSession, sent: list[tuple[Outgoing, SendResult]], now: datetime
    ) -> None: ...

    async def check(self, reference: str) -> SendResult: ...
