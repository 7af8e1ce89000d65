"""Patient request and response shapes (field names exactly as the contract's)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import Field, field_validator

from openhero.core.schemas import ApiModel, DateStr, Id, RequestModel, Timestamp
from openhero.patients.nhs import PATIENT_TITLES, normalise_nhs_number, parse_dob

PatientSex = Literal["Not known", "Not specified", "Male", "Female", "Other"]
PatientTitle = Literal[PATIENT_TITLES]  # type: ignore[valid-type]
PatientDataSource = Literal["hero", "emis", "pds", "gha", "systm_one"]
PatientStatus = Literal["archived", "unarchived"]
_PHONE = re.compile(r"^\+?\d{7,15}$", re.ASCII)


def _nhs(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    return normalise_nhs_number(value)


def _dob(value: Any) -> date | None:
    return None if value is None else parse_dob(value)


def _phone(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    compact = re.sub(r"[\s\-().]", "", value)
    if not _PHONE.match(compact):
        raise ValueError("phone number must be 7-15 digits, optionally starting with +")
    return compact


class PatientRequest(RequestModel):
    """Text fields may not carry NUL or other control characters (PostgreSQL cannot store NUL)."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        if isinstance(value, str) and any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
            raise ValueError("text may not contain control characters")
        return value


class RegisterPatientPdsRequest(PatientRequest):
    """Either ``nhs_number`` + ``dob`` or ``forename`` + ``surname`` + ``dob`` + ``postcode``."""

    nhs_number: str | None = Field(None, description="Spaced or unspaced; checked with modulus 11.")
    dob: str | None = Field(None, description="YYYY-MM-DD or an ISO 8601 date-time.", validate_default=True)
    forename: str | None = Field(None, max_length=100)
    surname: str | None = Field(None, max_length=100)
    postcode: str | None = Field(None, max_length=16)
    ehr_partner: str | None = Field(None, min_length=1, max_length=32)
    ehr_partner_id: str | None = Field(None, min_length=1, max_length=64)

    _check_nhs = field_validator("nhs_number")(classmethod(lambda cls, v: _nhs(v)))

    @field_validator("dob")
    @classmethod
    def _check_dob(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("dob is required")
        return parse_dob(value).isoformat()

    def missing_for_demographics(self) -> list[str]:
        """Fields the demographics route still needs when no NHS number was sent."""
        if self.nhs_number is not None:
            return []
        return [f for f in ("forename", "surname", "postcode") if not getattr(self, f)]

    @property
    def dob_date(self) -> date:
        return date.fromisoformat(self.dob or "")


class RegisterPatientRequest(PatientRequest):
    ehr_partner_id: str | None = Field(None, max_length=64)
    nhs_number: str | None = Field(None, min_length=1)
    dob: str = Field(min_length=1)
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    sex: PatientSex | None = None
    title: PatientTitle | None = None
    landline: str | None = Field(None, max_length=40)
    address_line_1: str | None = Field(None, max_length=200)
    address_line_2: str | None = Field(None, max_length=200)
    address_line_3: str | None = Field(None, max_length=200)
    country: str | None = Field(None, max_length=100)
    postcode: str | None = Field(None, max_length=16)
    county: str | None = Field(None, max_length=100)
    data_source: PatientDataSource | None = None
    mobile: str = Field(min_length=1, max_length=40)
    email: str | None = Field(None, max_length=200)

    _check_nhs = field_validator("nhs_number")(classmethod(lambda cls, v: _nhs(v)))
    _check_phones = field_validator("mobile", "landline")(classmethod(lambda cls, v: _phone(v)))

    @field_validator("dob")
    @classmethod
    def _check_dob(cls, value: str) -> str:
        return parse_dob(value).isoformat()

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        if value and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            raise ValueError("email must be an email address")
        return value or None


class ConnectPatientEhrRequest(PatientRequest):
    ehr_partner_id: str = Field(min_length=1, max_length=64)


class PreviewPatientMergeRequest(PatientRequest):
    patient_id: str = Field(min_length=1, description="The other patient taking part in the merge.")


class MergePatientRequest(PatientRequest):
    merge_token: str = Field(min_length=1, description="The token from POST /v1/patients/{id}/merge/preview.")


class PatientIdResponse(ApiModel):
    patient_id: Id


class IdentityVerificationRequired(ApiModel):
    message: str
    login_url: str


class PatientOut(ApiModel):
    """v1 patient (GET /v1/patients/{id}); ``dob`` is a date-time at midnight UTC as in the contract."""

    id: Id
    uid: str | None
    emis_id: str | None
    ehr_partner_id: str | None
    dob: Timestamp | None
    deceased_at: Timestamp | None
    title: str | None
    first_name: str | None
    last_name: str | None
    sex: PatientSex | None
    nhs_number: str | None
    email: str | None
    emails: list[str] | None
    mobile: str | None
    last_sync_at: Timestamp | None
    address_line_1: str | None
    address_line_2: str | None
    address_line_3: str | None
    country: str | None
    postcode: str | None
    town: str | None
    county: str | None
    notes: str | None
    verification_credentials: list[str] | None
    data_source: PatientDataSource
    restricted: bool = False
    sex_changed_at: Timestamp | None
    status: PatientStatus


class PatientIdentifier(ApiModel):
    source: Literal["nhs", "gha", "ehr_partner", "hero"]
    name: Literal["nhs_number", "gha_number", "ehr_partner_id", "hero_id", "hero_uid"]
    role: Literal["main", "secondary"]
    label: Literal["NHS", "GHA", "EMIS", "Hero", "Systm One"]
    value: str


class PatientV2Out(ApiModel):
    """v2 patient (GET /v2/patients/{id}, list items of /v2 and /v3)."""

    ehr_partner_id: str | None
    emis_id: str | None
    deceased_at: Timestamp | None
    ods_code: str | None = None
    dob: DateStr | None
    title: str | None
    first_name: str | None
    last_name: str | None
    sex: PatientSex | None
    nhs_number: str | None
    email: str | None
    mobile: str | None
    last_sync_at: Timestamp | None
    data_source: PatientDataSource | None
    restricted: bool
    line_1: str | None
    line_2: str | None
    line_3: str | None
    town: str | None
    county: str | None
    postcode: str | None
    hero_id: Id | None
    hero_uid: str | None
    identifiers: list[PatientIdentifier]
    ehr_registered: bool | None
    status: PatientStatus | None = None


class PatientEhrCandidateOut(ApiModel):
    ehr_partner_id: str | None
    emis_id: str | None
    deceased_at: Timestamp | None
    dob: Timestamp | None
    title: str | None
    first_name: str | None
    last_name: str | None
    sex: PatientSex | None
    nhs_number: str | None
    email: str | None
    mobile: str | None
    last_sync_at: Timestamp | None
    data_source: PatientDataSource | None
    restricted: bool = False
    line_1: str | None
    line_2: str | None
    line_3: str | None
    town: str | None
    county: str | None
    postcode: str | None
    hero_id: Id | None = Field(None, description="Id of the Hero patient already linked to this EHR record.")
    hero_uid: str | None
    identifiers: list[PatientIdentifier]
    match: Literal["nhs_number", "demographics"] = Field(
        description="openhero: why this record is a candidate (same NHS number, or same name and dob)."
    )


class PatientAttachmentOut(ApiModel):
    id: Id
    uuid: str
    file_name: str
    content_type: str
    size_bytes: int
    description: str | None
    created_at: Timestamp


class MergePreviewOut(PatientOut):
    """The merged record as it would be kept, plus what the merge would do and its token."""

    merge_token: str
    merge_token_expires_at: Timestamp
    kept_patient_id: Id
    archived_patient_id: Id
    moves: dict[str, int] = Field(description="Rows per table that would move to the kept patient.")


class MergeResultOut(ApiModel):
    patient_id: Id = Field(description="The kept (EHR-linked) patient.")
    archived_patient_id: Id
    moved: dict[str, int] = Field(description="Rows per table moved to the kept patient.")
