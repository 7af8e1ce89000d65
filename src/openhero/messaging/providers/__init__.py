"""Message providers: choose one per channel from the settings.

- ``sms``: ``OPENHERO_SMS_PROVIDER`` = sandbox | notify
- ``email``: ``OPENHERO_EMAIL_PROVIDER`` = sandbox | smtp | notify
- ``nhs_app`` and ``hero``: the sandbox (in-house) delivery only; openhero has no NHS App
  Messaging integration, so these are recorded in the outbox like sandbox messages.
"""

from __future__ import annotations

from openhero.core import metrics
from openhero.messaging.providers.base import Outgoing, Provider, ProviderUnavailable, SendResult
from openhero.messaging.providers.sandbox import SandboxProvider
from openhero.settings import Settings

__all__ = ["Outgoing", "Provider", "ProviderUnavailable", "SendResult", "get_provider"]


def get_provider(channel: str, settings: Settings) -> Provider:
    name = "sandbox"
    if channel == "sms":
        name = settings.sms_provider
    elif channel == "email":
        name = settings.email_provider
    if name == "smtp":
        from openhero.messaging.providers.smtp import SmtpProvider

        return metrics.instrument(SmtpProvider(settings), f"{channel}/smtp", ("send", "check"))
    if name == "notify":
        from openhero.messaging.providers.notify import NotifyProvider

        return metrics.instrument(NotifyProvider(settings), f"{channel}/notify", ("send", "check"))
    return SandboxProvider(channel)
