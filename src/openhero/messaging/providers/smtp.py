"""Email through an SMTP submission relay (smtplib in a thread).

The relay is a submission server such as NHSmail or Office 365 (port 587, STARTTLS, then AUTH), an
implicit-TLS one (port 465) or a local MTA (port 25, no TLS). Certificates are verified against the
system's CAs plus ``OPENHERO_SMTP_CA_FILE``; there is no fallback to plain text when STARTTLS is
missing. The relay accepting the message is 'delivered' as far as openhero can know.

Outcomes: a 5xx refusal of the recipient (or of this message's content at DATA) is a permanent
failure; everything else - 4xx replies, 530 (STARTTLS or authentication required), refused
credentials, connection, TLS and timeout errors - is transient: the send is retried with backoff until
the message's retry window closes.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncSession

from openhero.messaging.providers.base import Outgoing, ProviderUnavailable, SendResult
from openhero.settings import Settings

DEFAULT_SUBJECT = "A message from your GP practice"


@lru_cache(maxsize=8)
def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verifying context (hostname and chain), TLS 1.2 or newer, trusting ``ca_file`` as well."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def address_of(mailbox: str) -> str:
    """``Name <a@b>`` -> ``a@b``."""
    return parseaddr(mailbox)[1] or mailbox


class SmtpProvider:
    name = "smtp"

    def __init__(self, settings: Settings, timeout: float | None = None) -> None:
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.sender = settings.smtp_from
        self.security = settings.smtp_security_mode
        self.username = settings.smtp_username
        self.password = settings.smtp_password or ""
        self.ca_file = settings.smtp_ca_file
        self.message_id_domain = settings.smtp_message_id_domain
        self.timeout = timeout if timeout is not None else settings.smtp_timeout_seconds

    def compose(self, message: Outgoing, now: datetime | None = None) -> EmailMessage:
        """The RFC 5322 message: From, To, Subject, Date, Message-ID, optional Reply-To, UTF-8 text body."""
        sender = message.sender or self.sender
        mail = EmailMessage()
        mail["From"] = sender
        mail["To"] = message.recipient or ""
        if message.reply_to:
            mail["Reply-To"] = message.reply_to
        mail["Subject"] = message.subject or DEFAULT_SUBJECT
        mail["Date"] = format_datetime(now or datetime.now(UTC))
        domain = self.message_id_domain or address_of(sender).rpartition("@")[2] or "openhero.local"
        mail["Message-ID"] = make_msgid(domain=domain)
        mail["X-Openhero-Message-Id"] = str(message.message_id)
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office replies are not sent back
        mail.set_content(message.body, charset="utf-8")
        return mail

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=tls_context(self.ca_file))
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                smtp.ehlo()
                smtp.starttls(context=tls_context(self.ca_file))  # raises if the relay does not offer it
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _send_blocking(self, message: Outgoing) -> SendResult:
        mail = self.compose(message)
        message_id = mail["Message-ID"]
        try:
            with self._connect() as smtp:
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.send_message(mail, from_addr=address_of(mail["From"]), to_addrs=[message.recipient or ""])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            if 500 <= code < 600 and code != 530:
                return SendResult("failed", message_id, f"rejected by the mail server: {code} {_text(text)}")
            raise ProviderUnavailable(f"SMTP recipient deferred: {code} {_text(text)}") from None
        except smtplib.SMTPDataError as exc:
            if 500 <= exc.smtp_code < 600 and exc.smtp_code != 530:
                return SendResult(
                    "failed", message_id, f"rejected by the mail server: {exc.smtp_code} {_text(exc.smtp_error)}"
                )
            raise ProviderUnavailable(f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}") from None
        except smtplib.SMTPAuthenticationError as exc:
            # Our credentials, not the patient's problem: keep retrying while an operator fixes them.
            raise ProviderUnavailable(
                f"SMTP relay refused the login for {self.username}: {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from None
        except smtplib.SMTPResponseException as exc:
            # 530 (STARTTLS/AUTH first), sender refused, greeting or HELO refused: the relay's setup.
            raise ProviderUnavailable(f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise ProviderUnavailable(f"SMTP relay does not support what OPENHERO_SMTP_SECURITY needs: {exc}") from None
        except ssl.SSLCertVerificationError as exc:
            raise ProviderUnavailable(f"SMTP relay certificate not trusted: {exc.verify_message}") from None
        except ssl.SSLError as exc:
            raise ProviderUnavailable(f"SMTP TLS failed: {exc}") from None
        except TimeoutError:
            raise ProviderUnavailable(f"SMTP relay {self.host}:{self.port} timed out") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise ProviderUnavailable(f"SMTP relay {self.host}:{self.port} unreachable: {exc}") from None
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
