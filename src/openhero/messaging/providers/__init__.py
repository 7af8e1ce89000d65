"""Message providers: choose one per channel from the settings.

- ``sms``: ``OPENHERO_SMS_PROVIDER`` = sandbox | notify
- ``email``: ``OPENHERO_EMAIL_PROVIDER`` = sandbox | smtp | notify
- ``nhs_app`` and ``hero``: the sandbox (in-house) delivery only; openhero has no NHS App
  Messaging integration, so these are recorded in the outbox like sandbox messages.
"""

from __future__ import annotations

from openhero.core import metrics
from openhero.core.sandbox import current_group, fault_for
from openhero.messaging.providers.base import Outgoing, Provider, ProviderUnavailable, Sender, SendResult
from openhero.messaging.providers.sandbox import SandboxProvider
from openhero.settings import Settings

__all__ = ["Outgoing", "Provider", "ProviderUnavailable", "SendResult", "Sender", "get_provider"]


def get_provider(channel: str, settings: Settings) -> Provider:
    provider = _configured_provider(channel, settings)
    # Sandbox mode: while the job's practice group has a fault switched on for this channel, the provider
    # misbehaves on purpose (see providers/faults.py).
    if settings.sandbox and fault_for(current_group.get(), channel) is not None:
        from openhero.messaging.providers.faults import FaultInjectingProvider

        return FaultInjectingProvider(provider)
    return provider


def _configured_provider(channel: str, settings: Settings) -> Provider:
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
