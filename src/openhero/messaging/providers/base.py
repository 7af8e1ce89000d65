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
    # The practice group's own From and Reply-To for email (``Name <address>``); None: the server's.
    sender: str | None = None
    reply_to: str | None = None


@dataclass(frozen=True)
class Sender:
    """A practice group's email From and Reply-To (PATCH /v1/me ``email_from``, ``email_reply_to``)."""

    email_from: str | None = None
    email_reply_to: str | None = None


@dataclass(frozen=True)
class SendResult:
    """``status`` is where the message stands after the call: sent (accepted, outcome pending),
    delivered, or failed (with ``failure_reason``). ``check_after`` asks for a status poll later; a
    check answering 'sent' without ``check_after`` is final (no further receipt will come)."""

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
