"""Contact details: which one a message goes to, and whether a given one is plausible."""

from __future__ import annotations

import re
from typing import Any

from openhero.core.errors import ValidationFailed
from openhero.patients.models import Patient

_PHONE = re.compile(r"^\+?[\d\s\-()]{7,20}$", re.ASCII)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_phone(value: str) -> bool:
    return bool(_PHONE.match(value)) and sum(c.isdigit() for c in value) >= 7


def is_email(value: str) -> bool:
    return bool(_EMAIL.match(value))


def check_contact(channel: str, value: str, field: str) -> str:
    """A contact detail the partner supplied must suit the channel (400 otherwise)."""
    value = value.strip()
    if channel == "sms" and not is_phone(value):
        raise ValidationFailed(
            f"{field} must be a phone number for sms",
            code="invalid_string",
            expected="a UK mobile number such as 07700 900123",
            path=[field],
        )
    if channel == "email" and not is_email(value):
        raise ValidationFailed(
            f"{field} must be an email address for email",
            code="invalid_string",
            expected="an email address",
            path=[field],
        )
    if channel == "hero" and not (is_phone(value) or is_email(value)):
        raise ValidationFailed(
            f"{field} must be a phone number or email address",
            code="invalid_string",
            expected="a mobile number or email address",
            path=[field],
        )
    return value


def contact_on_record(channel: str, patient: Patient | Any) -> str | None:
    """The patient's stored contact for a channel. NHS App messages are addressed by NHS number;
    Hero messages notify the patient by mobile, else email."""
    if channel == "sms":
        return patient.mobile or None
    if channel == "email":
        return patient.email or None
    if channel == "nhs_app":
        return patient.nhs_number or None
    return patient.mobile or patient.email or None


MISSING_CONTACT = {
    "sms": "The patient has no mobile number on record",
    "email": "The patient has no email address on record",
    "nhs_app": "The patient has no NHS number on record, so cannot be messaged in the NHS App",
    "hero": "The patient has no mobile number or email address on record",
}


def resolve_contact(channel: str, supplied: str | None, patient: Patient, field: str) -> str:
    if channel == "nhs_app":
        found = contact_on_record(channel, patient)
    elif supplied:
        return check_contact(channel, supplied, field)
    else:
        found = contact_on_record(channel, patient)
    if not found:
        raise ValidationFailed(
            MISSING_CONTACT[channel] + f"; send {field}" * (channel != "nhs_app"),
            code="missing_contact_detail",
            expected="a contact detail for the channel",
            path=[field],
        )
    return found
