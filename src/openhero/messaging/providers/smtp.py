"""Email over SMTP (smtplib in a thread). The relay accepting the message is 'delivered' as far as
openhero can know; a 5xx refusal is a permanent failure; anything else is retried."""

from __future__ import annotations

import asyncio
import smtplib
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy.ext.asyncio import AsyncSession

from openhero.messaging.providers.base import Outgoing, ProviderUnavailable, SendResult
from openhero.settings import Settings


class SmtpProvider:
    name = "smtp"

    def __init__(self, settings: Settings, timeout: float = 10.0) -> None:
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.sender = settings.smtp_from
        self.timeout = timeout

    def _send_blocking(self, message: Outgoing) -> SendResult:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.recipient or ""
        mail["Subject"] = message.subject or "A message from your GP practice"
        message_id = make_msgid(domain="openhero.local")
        mail["Message-ID"] = message_id
        mail["X-Openhero-Message-Id"] = str(message.message_id)
        mail.set_content(message.body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            if 500 <= code < 600:
                return SendResult("failed", message_id, f"rejected by the mail server: {code} {_text(text)}")
            raise ProviderUnavailable(f"recipient deferred: {code} {_text(text)}") from None
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                return SendResult(
                    "failed", message_id, f"rejected by the mail server: {exc.smtp_code} {_text(exc.smtp_error)}"
                )
            raise ProviderUnavailable(f"SMTP {exc.smtp_code}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise ProviderUnavailable(f"SMTP server unreachable: {exc}") from None
        return SendResult("delivered", message_id)

    async def send(self, message: Outgoing) -> SendResult:
        return await asyncio.to_thread(self._send_blocking, message)

    async def record(self, session: AsyncSession, message: Outgoing, result: SendResult, now: datetime) -> None:
        return None

    async def record_many(self, session: AsyncSession, sent: list[tuple[Outgoing, SendResult]], now: datetime) -> None:
        return None

    async def check(self, reference: str) -> SendResult:
        return SendResult("delivered", reference)


def _text(raw: bytes | str) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
