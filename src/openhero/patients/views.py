"""ORM rows -> the contract's patient shapes (v1, v2/v3, EHR candidate)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from openhero.patients.models import EhrAttachment, EhrRecord, Patient
from openhero.patients.schemas import (
    PatientAttachmentOut,
    PatientEhrCandidateOut,
    PatientIdentifier,
    PatientOut,
    PatientV2Out,
)

_EHR_LABELS = {"emis": "EMIS", "systm_one": "Systm One"}
_V1_FIELDS = (
    "id",
    "uid",
    "emis_id",
    "ehr_partner_id",
    "deceased_at",
    "title",
    "first_name",
    "last_name",
    "sex",
    "nhs_number",
    "email",
    "emails",
    "mobile",
    "last_sync_at",
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "country",
    "postcode",
    "town",
    "county",
    "notes",
    "verification_credentials",
    "data_source",
    "restricted",
    "sex_changed_at",
    "status",
)


def dob_timestamp(value: date | None) -> datetime | None:
    """v1 and candidate shapes carry dob as a date-time: midnight UTC of the birth date."""
    return datetime(value.year, value.month, value.day, tzinfo=UTC) if value else None


def identifiers(
    *,
    nhs_number: str | None,
    ehr_partner: str | None,
    ehr_partner_id: str | None,
    hero_id: int | None,
    hero_uid: str | None,
) -> list[PatientIdentifier]:
    out = []
    if nhs_number:
        out.append(PatientIdentifier(source="nhs", name="nhs_number", role="main", label="NHS", value=nhs_number))
    if ehr_partner_id:
        out.append(
            PatientIdentifier(
                source="ehr_partner",
                name="ehr_partner_id",
                role="secondary",
                label=_EHR_LABELS.get(ehr_partner or "emis", "EMIS"),  # type: ignore[arg-type]
                value=ehr_partner_id,
            )
        )
    if hero_id is not None:
        out.append(PatientIdentifier(source="hero", name="hero_id", role="secondary", label="Hero", value=str(hero_id)))
    if hero_uid:
        out.append(PatientIdentifier(source="hero", name="hero_uid", role="secondary", label="Hero", value=hero_uid))
    return out


_SEXES = frozenset({"Not known", "Not specified", "Male", "Female", "Other"})
_SOURCES = frozenset({"hero", "emis", "pds", "gha", "systm_one"})
_SEX_ALIASES = {"male": "Male", "female": "Female", "other": "Other", "unknown": "Not known"}


def contract_sex(value: str | None) -> str | None:
    """Rows written by other domains may spell sex loosely; answer the contract's enum or null."""
    if value is None or value in _SEXES:
        return value
    return _SEX_ALIASES.get(value.strip().lower())


def _strings(value: Any) -> list[str] | None:
    return None if value is None else [str(v) for v in value if isinstance(v, str | int)]


def patient_v1_values(patient: Patient | dict[str, Any]) -> dict[str, Any]:
    get = patient.get if isinstance(patient, dict) else (lambda name: getattr(patient, name))
    values = {name: get(name) for name in _V1_FIELDS}
    values["dob"] = dob_timestamp(get("dob"))
    values["restricted"] = bool(values["restricted"])
    values["sex"] = contract_sex(values["sex"])
    values["data_source"] = values["data_source"] if values["data_source"] in _SOURCES else "hero"
    values["status"] = "archived" if values["status"] == "archived" else "unarchived"
    values["emails"] = _strings(values["emails"])
    values["verification_credentials"] = _strings(values["verification_credentials"])
    return values


def patient_v1(patient: Patient) -> PatientOut:
    return PatientOut.model_validate(patient_v1_values(patient))


def patient_v2(patient: Patient) -> PatientV2Out:
    return PatientV2Out.model_validate(
        {
            **{
                n: getattr(patient, n)
                for n in (
                    "ehr_partner_id",
                    "emis_id",
                    "deceased_at",
                    "dob",
                    "title",
                    "first_name",
                    "last_name",
                    "sex",
                    "nhs_number",
                    "email",
                    "mobile",
                    "last_sync_at",
                    "data_source",
                    "town",
                    "county",
                    "postcode",
                    "ehr_registered",
                    "status",
                )
            },
            "ods_code": patient.gp_ods_code,
            "sex": contract_sex(patient.sex),
            "data_source": patient.data_source if patient.data_source in _SOURCES else "hero",
            "status": "archived" if patient.status == "archived" else "unarchived",
            "restricted": bool(patient.restricted),
            "line_1": patient.address_line_1,
            "line_2": patient.address_line_2,
            "line_3": patient.address_line_3,
            "hero_id": patient.id,
            "hero_uid": patient.uid,
            "identifiers": identifiers(
                nhs_number=patient.nhs_number,
                ehr_partner=patient.ehr_partner,
                ehr_partner_id=patient.ehr_partner_id,
                hero_id=patient.id,
                hero_uid=patient.uid,
            ),
        }
    )


def _record_values(record: EhrRecord, hero_uid: str | None) -> dict[str, Any]:
    return {
        **{
            n: getattr(record, n)
            for n in (
                "ehr_partner_id",
                "deceased_at",
                "title",
                "first_name",
                "last_name",
                "sex",
                "nhs_number",
                "email",
                "mobile",
                "last_sync_at",
                "town",
                "county",
                "postcode",
            )
        },
        "emis_id": record.ehr_partner_id if record.ehr_partner == "emis" else None,
        "data_source": record.ehr_partner if record.ehr_partner in ("emis", "systm_one") else None,
        "restricted": bool(record.restricted),
        "sex": contract_sex(record.sex),
        "line_1": record.address_line_1,
        "line_2": record.address_line_2,
        "line_3": record.address_line_3,
        "hero_id": record.linked_patient_id,
        "hero_uid": hero_uid,
        "identifiers": identifiers(
            nhs_number=record.nhs_number,
            ehr_partner=record.ehr_partner,
            ehr_partner_id=record.ehr_partner_id,
            hero_id=record.linked_patient_id,
            hero_uid=hero_uid,
        ),
    }


def ehr_candidate(record: EhrRecord, match: str, hero_uid: str | None = None) -> PatientEhrCandidateOut:
    return PatientEhrCandidateOut.model_validate(
        {**_record_values(record, hero_uid), "dob": dob_timestamp(record.dob), "match": match}
    )


def patient_v2_from_ehr(record: EhrRecord, patient: Patient) -> PatientV2Out:
    """The EHR's copy of a linked patient in the v2 shape (data_source=ehr)."""
    return PatientV2Out.model_validate(
        {
            **_record_values(record, patient.uid),
            "dob": record.dob,
            "ehr_registered": True,
            "ods_code": patient.gp_ods_code,
            "status": patient.status,
        }
    )


def attachment_out(attachment: EhrAttachment) -> PatientAttachmentOut:
    return PatientAttachmentOut.model_validate(attachment)
