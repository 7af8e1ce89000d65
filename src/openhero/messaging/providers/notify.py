"""GOV.UK Notify for SMS and email through notifications-python-client (run in a thread, since the
client is synchronous). Notify accepts a message (201) and settles its status later, so a send
answers 'sent' and asks for a status check; the check maps Notify's statuses onto ours:

- created, sending, pending: still 'sent', checked again in 5 minutes;
- delivered: 'delivered';
- sent: final - an SMS handed to an international network that reports no delivery receipt; the
  message stays 'sent' and is not checked again;
- permanent-failure, temporary-failure, technical-failure (and validation-failed): 'failed' with a reason.

Notify's limits are checked before a message is accepted (messaging.limits), so a 400 from Notify is
rare; it fails the message with Notify's reason."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.messaging.providers.base import Outgoing, ProviderUnavailable, SendResult
from openhero.settings import Settings

CHECK_AFTER = timedelta(minutes=5)
# "Sent to an international number": the networks of some countries give no delivery receipt.
FINAL_SENT = "sent"
# Notify statuses -> ours. Pending states keep the message 'sent' and are checked again.
FAILED_REASONS = {
    "permanent-failure": "undeliverable: the provider reports the number or address does not exist",
    "temporary-failure": "undeliverable: the handset or inbox was unavailable for 72 hours",
    "technical-failure": "the provider had a technical failure",
    "validation-failed": "the provider rejected the message",
}


class NotifyProvider:
    name = "notify"

    def __init__(self, settings: Settings, timeout: float = 10.0) -> None:
        if not settings.notify_api_key:
            raise RuntimeError("OPENHERO_NOTIFY_API_KEY is required for the notify provider")
        self.settings = settings
        self.timeout = timeout

    def _client(self) -> NotificationsAPIClient:
        # One client per call: the client (a requests.Session) is not thread-safe.
        return NotificationsAPIClient(
            self.settings.notify_api_key, base_url=self.settings.notify_base_url, timeout=self.timeout
        )

    def _send_blocking(self, message: Outgoing) -> dict[str, Any]:
        client = self._client()
        reference = f"openhero-message-{message.message_id}"
        if message.channel == "sms":
            template = self.settings.notify_sms_template_id
            if not template:
                raise RuntimeError("OPENHERO_NOTIFY_SMS_TEMPLATE_ID is required for SMS through Notify")
            return client.send_sms_notification(
                phone_number=message.recipient,
                template_id=template,
                personalisation={"body": message.body},
                reference=reference,
            )
        template = self.settings.notify_email_template_id
        if not template:
            raise RuntimeError("OPENHERO_NOTIFY_EMAIL_TEMPLATE_ID is required for email through Notify")
        return client.send_email_notification(
            email_address=message.recipient,
            template_id=template,
            reference=reference,
            personalisation={"subject": message.subject or "A message from your GP practice", "body": message.body},
        )

    async def send(self, message: Outgoing) -> SendResult:
        try:
            answer = await asyncio.to_thread(self._send_blocking, message)
        except HTTPError as exc:
            status = exc.status_code
            if status == 400:
                return SendResult("failed", None, f"rejected by GOV.UK Notify: {_first_error(exc)}")
            if status in (401, 403):
                # A credentials problem is ours, not the patient's: keep retrying while it is fixed.
                raise ProviderUnavailable(f"GOV.UK Notify refused our credentials ({status})") from None
            raise ProviderUnavailable(f"GOV.UK Notify answered {status}") from None
        return SendResult("sent", str(answer["id"]), check_after=CHECK_AFTER)

    async def record(self, session: AsyncSession, message: Outgoing, result: SendResult, now: datetime) -> None:
        return None

    async def record_many(self, session: AsyncSession, sent: list[tuple[Outgoing, SendResult]], now: datetime) -> None:
        return None

    async def check(self, reference: str) -> SendResult:
        try:
            answer = await asyncio.to_thread(lambda: self._client().get_notification_by_id(reference))
        except HTTPError as exc:
            raise ProviderUnavailable(f"GOV.UK Notify answered {exc.status_code}") from None
        status = answer.get("status", "")
        if status == "delivered":
            return SendResult("delivered", reference)
        if status in FAILED_REASONS:
            return SendResult("failed", reference, FAILED_REASONS[status])
        if status == FINAL_SENT:
            return SendResult("sent", reference)  # no check_after: final
        return SendResult("sent", reference, check_after=CHECK_AFTER)


def _first_error(exc: HTTPError) -> str:
    message = exc.message
    if isinstance(message, list) and message:
        return str(message[0].get("message", message[0]))
    return str(message)
