"""Pharmacy shapes (CreatePharmacyRequest, Pharmacy, PharmacyList)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator

from openhero.core.schemas import ApiModel, Id, RequestModel

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
# UK numbers: 0 + 9-10 digits, or +44 + 9-10 digits (spaces, dashes and brackets are dropped).
_UK_PHONE = re.compile(r"^(?:\+44|0)\d{9,10}$")
# Community pharmacies have ODS codes of F + four letters/digits (e.g. FA123, FQ560).
_PHARMACY_ODS = re.compile(r"^F[A-Z0-9]{4}$")
_POSTCODE = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}$")


def _int_to_str(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _text(value: str, name: str) -> str:
    if any(ord(c) < 32 for c in value):
        raise ValueError(f"{name} may not contain control characters")
    return value


class CreatePharmacyRequest(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=200)
    mobile: str = Field(min_length=1, max_length=30)
    prescriber_id: Annotated[str, BeforeValidator(_int_to_str), Field(pattern=r"^[0-9]{1,18}$")]
    ods_code: str | None = Field(default=None, max_length=10, description="openhero: pharmacy ODS code, e.g. FA123")
    postcode: str | None = Field(default=None, max_length=10, description="openhero: the pharmacy's postcode")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _text(value, "name")

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str) -> str:
        if not _EMAIL.match(_text(value, "email")):
            raise ValueError("email must be an email address")
        return value.lower()

    @field_validator("mobile")
    @classmethod
    def _check_mobile(cls, value: str) -> str:
        compact = re.sub(r"[\s\-().]", "", value)
        if not _UK_PHONE.match(compact):
            raise ValueError("mobile must be a UK phone number (07700 900123 or +44 7700 900123)")
        return compact

    @field_validator("ods_code")
    @classmethod
    def _check_ods(cls, value: str | None) -> str | None:
        if not value:
            return None
        code = value.upper()
        if not _PHARMACY_ODS.match(code):
            raise ValueError("ods_code must be a pharmacy ODS code: F and four letters or digits (FA123)")
        return code

    @field_validator("postcode")
    @classmethod
    def _check_postcode(cls, value: str | None) -> str | None:
        if not value:
            return None
        compact = re.sub(r"\s+", "", value).upper()
        if not _POSTCODE.match(compact):
            raise ValueError("postcode must be a UK postcode (LS1 6AE)")
        return f"{compact[:-3]} {compact[-3:]}"


class Pharmacy(ApiModel):
    id: Id
    prescriber_id: Id
    name: str
    email: str
    mobile: str
    ods_code: str | None = None
    postcode: str | None = None


class PharmacyList(ApiModel):
    data: list[Pharmacy]
    count: int
