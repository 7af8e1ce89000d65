"""Pure helpers for the identifiers patients arrive with: NHS numbers and dates of birth."""

from __future__ import annotations

import re
from datetime import date, datetime

import nhs_number

_SEPARATORS = re.compile(r"[\s\-]+")


def normalise_nhs_number(raw: str | int | None) -> str:
    """Return the 10-digit form of an NHS number sent spaced (``943 476 5919``), dashed or bare.

    Raises ``ValueError`` when it is not 10 digits or its modulus-11 check digit is wrong.
    """
    if raw is None or isinstance(raw, bool):
        raise ValueError("NHS number is required")
    digits = _SEPARATORS.sub("", str(raw))
    if not (digits.isascii() and digits.isdigit()) or len(digits) != 10:
        raise ValueError("NHS number must be 10 digits")
    if not nhs_number.is_valid(digits):
        raise ValueError("NHS number check digit is wrong (modulus 11)")
    return digits


def is_valid_nhs_number(raw: str | None) -> bool:
    try:
        normalise_nhs_number(raw)
    except ValueError:
        return False
    return True


def parse_dob(raw: str | date | datetime | None) -> date:
    """A date of birth from ``YYYY-MM-DD`` or an ISO date-time (``1992-01-01T00:00:00.000Z``).

    A date-time keeps its calendar date as written (no timezone shift): partners send midnight
    UTC for a plain date, and shifting it would move the birthday. Raises ``ValueError``.
    """
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if raw is None or not str(raw).strip():
        raise ValueError("date of birth is required")
    text = str(raw).strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")).date()
    except ValueError:
        raise ValueError("date of birth must be YYYY-MM-DD or an ISO 8601 date-time") from None


def normalise_postcode(raw: str | None) -> str:
    """Upper case, single space before the inward code (``ls16ae`` -> ``LS1 6AE``)."""
    compact = re.sub(r"\s+", "", raw or "").upper()
    return f"{compact[:-3]} {compact[-3:]}" if len(compact) > 3 else compact


# Titles Hero accepts for a patient (the Register a Patient enum), shared by the API schemas and the PDS
# mapping.
PATIENT_TITLES: tuple[str, ...] = (
    "Baron",
    "Baroness",
    "Brigadier",
    "Count",
    "Colonel",
    "Countess",
    "Captain",
    "Dame",
    "The Dowager Viscountess",
    "Dr",
    "Duchess",
    "Duke",
    "Earl",
    "His Excellency",
    "Father",
    "H.E. Ambassador Mr",
    "H.E. Mr",
    "H.E. Mrs",
    "Her Grace",
    "His Grace",
    "The Hon",
    "The Hon Mr",
    "The Hon Mrs",
    "HRH",
    "HRH Prince",
    "HRH Princess",
    "Insurance",
    "HM King",
    "Lady",
    "Lord",
    "Major",
    "Master",
    "Miss",
    "Mr",
    "Mrs",
    "Ms",
    "Mss",
    "Mx",
    "Pr",
    "Professor",
    "HM Queen",
    "Rabbi",
    "Reverend",
    "Sheikh",
    "Sheikha",
    "Sir",
    "The",
    "Viscount",
    "Viscountess",
)
