"""Helpers for partners testing their integration against a real openhero sandbox (see the pytest plugin)."""

from openhero.testing.sandbox import Sandbox, WebhookReceiver, start_sandbox

__all__ = ["Sandbox", "WebhookReceiver", "start_sandbox"]
