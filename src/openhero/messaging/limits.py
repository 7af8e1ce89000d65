"""Message length limits, checked when a message or batch is accepted (400), not when it fails later.

They are GOV.UK Notify's (https://docs.notifications.service.gov.uk, "Send a text message" and "Send an
email" errors) and apply whichever provider is configured, so a partner sees the same answer in the
sandbox as in production:

- an SMS is at most 918 characters (6 concatenated parts of 153), counted as Notify counts them: code
  points of the text without leading or trailing whitespace, including any links openhero appends;
- an email body is at most 2,000,000 bytes of UTF-8 (message_string's 10,000-character cap keeps every
  API message far below it; the check guards other callers).
"""

from __future__ import annotations

from openhero.core.errors import ValidationFailed, error_item

SMS_MAX_CHARACTERS = 918
EMAIL_MAX_BYTES = 2_000_000


def sms_length(text: str) -> int:
    return len(text.strip())


def check_content(channel: str, content: str, path: list[str | int], *, what: str = "") -> None:
    """Raise 400 naming ``path`` when ``content`` is over the channel's limit."""
    if channel == "sms" and (n := sms_length(content)) > SMS_MAX_CHARACTERS:
        message = (f"{path[-1]} is {n} characters{what}; an SMS may be at most {SMS_MAX_CHARACTERS} "
                   "characters (GOV.UK Notify's limit)")
        raise ValidationFailed(message, items=[error_item(
            "too_big", f"at most {SMS_MAX_CHARACTERS} characters for an SMS", path, message)])
    if channel == "email" and (size := len(content.encode())) > EMAIL_MAX_BYTES:
        message = (f"{path[-1]} is {size} bytes{what}; an email may be at most {EMAIL_MAX_BYTES} bytes "
                   "(GOV.UK Notify's limit)")
        raise ValidationFailed(message, items=[error_item(
            "too_big", f"at most {EMAIL_MAX_BYTES} bytes of UTF-8 for an email", path, message)])
