"""The built-in local EHR: candidate matching, linking a patient to a record, attachments, entries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core import audit
from openhero.core.auth import Principal
from openhero.core.errors import Conflict, NotFound, ValidationFailed
from openhero.core.pagination import PageParams, paginate
from openhero.patients.models import EhrAttachment, EhrEntry, EhrRecord, Patient


def _candidate_condition(patient: Patient):  # type: ignore[no-untyped-def]
    """Same NHS number, or (no conflicting NHS number and) same first name, last name and dob."""
    by_demographics = and_(
        EhrRecord.dob == patient.dob,
        func.lower(EhrRecord.last_name) == (patient.last_name or "").lower(),
        func.lower(EhrRecord.first_name) == (patient.first_name or "").lower(),
    )
    if patient.nhs_number:
        # A record with a different NHS number is a different person, whatever the name says.
        by_demographics = and_(
            by_demographics, or_(EhrRecord.nhs_number.is_(None), EhrRecord.nhs_number == patient.nhs_number)
        )
        return or_(EhrRecord.nhs_number == patient.nhs_number, by_demographics)
    return by_demographics


def match_reason(patient: Patient, record: EhrRecord) -> str:
    return "nhs_number" if patient.nhs_number and record.nhs_number == patient.nhs_number else "demographics"


async def candidates(session: AsyncSession, patient: Patient, page: PageParams) -> tuple[list[EhrRecord], int]:
    if patient.dob is None and not patient.nhs_number:
        return [], 0
    stmt = select(EhrRecord).where(
        EhrRecord.practice_group_id == patient.practice_group_id, _candidate_condition(patient)
    )
    # NHS-number matches first: they are the strongest evidence.
    order = case((EhrRecord.nhs_number == patient.nhs_number, 0), else_=1) if patient.nhs_number else EhrRecord.id
    return await paginate(session, stmt.order_by(order, EhrRecord.id), page)


async def linked_record(session: AsyncSession, patient: Patient) -> EhrRecord | None:
    return (
        (
            await session.execute(
                select(EhrRecord).where(
                    EhrRecord.practice_group_id == patient.practice_group_id,
                    EhrRecord.linked_patient_id == patient.id,
                )
            )
        )
        .scalars()
        .first()
    )


async def connect(
    session: AsyncSession, principal: Principal, patient: Patient, ehr_partner_id: str, now: datetime
) -> Patient:
    """Link ``patient`` to the EHR record ``ehr_partner_id``; idempotent for the same record."""
    if patient.status == "archived":
        raise Conflict(
            "An archived (merged) patient cannot be linked",
            code="patient_archived",
            expected="an unarchived patient",
            path=["id"],
        )
    record = (
        await session.execute(
            select(EhrRecord).where(
                EhrRecord.practice_group_id == principal.practice_group_id,
                EhrRecord.ehr_partner_id == ehr_partner_id,
            )
        )
    ).scalar_one_or_none()
    if record is None:
        raise ValidationFailed(
            "No EHR record with that id in this practice group",
            code="ehr_record_not_found",
            expected="the ehr_partner_id of one of the patient's EHR candidates",
            path=["ehr_partner_id"],
        )
    if record.linked_patient_id not in (None, patient.id):
        raise Conflict(
            "That EHR record is linked to another patient; merge the two patients instead",
            code="ehr_record_already_linked",
            expected="an EHR record not linked to another patient",
            path=["ehr_partner_id"],
        )
    matched = (
        await session.execute(select(EhrRecord.id).where(EhrRecord.id == record.id, _candidate_condition(patient)))
    ).scalar_one_or_none()
    if matched is None:
        raise Conflict(
            "That EHR record does not match this patient (NHS number, or name and date of birth)",
            code="ehr_record_mismatch",
            expected="the ehr_partner_id of one of the patient's EHR candidates",
            path=["ehr_partner_id"],
        )
    previous = await linked_record(session, patient)
    if previous is not None and previous.id != record.id:
        previous.linked_patient_id = None
    if record.nhs_number and not patient.nhs_number:
        clash = (
            await session.execute(
                select(Patient.id).where(
                    Patient.practice_group_id == patient.practice_group_id,
                    Patient.nhs_number == record.nhs_number,
                    Patient.id != patient.id,
                )
            )
        ).scalar_one_or_none()
        if clash is not None:
            raise Conflict(
                f"Patient {clash} already holds this record's NHS number; merge the two patients",
                code="duplicate_patient",
                expected="a merge of the duplicate patients",
                path=["ehr_partner_id"],
            )
        patient.nhs_number = record.nhs_number
    record.linked_patient_id = patient.id
    record.last_sync_at = now
    patient.ehr_partner_id = record.ehr_partner_id
    patient.ehr_partner = record.ehr_partner
    patient.emis_id = record.ehr_partner_id if record.ehr_partner == "emis" else patient.emis_id
    patient.ehr_registered = True
    patient.last_sync_at = now
    patient.updated_at = now
    await session.flush()
    await audit.record(
        session,
        principal,
        "patient.ehr_connect",
        "Patient",
        patient.id,
        now=now,
        details={"ehr_partner_id": record.ehr_partner_id},
    )
    return patient


async def attachments(session: AsyncSession, patient: Patient, page: PageParams) -> tuple[list[EhrAttachment], int]:
    record = await linked_record(session, patient)
    if record is None:
        return [], 0
    stmt = select(EhrAttachment).where(
        EhrAttachment.practice_group_id == patient.practice_group_id, EhrAttachment.ehr_record_id == record.id
    )
    return await paginate(session, stmt.order_by(EhrAttachment.created_at.desc(), EhrAttachment.id.desc()), page)


async def ehr_view(session: AsyncSession, patient: Patient) -> EhrRecord:
    """The EHR's copy of the patient, for GET /v2/patients/{id}?data_source=ehr."""
    record = await linked_record(session, patient)
    if record is None:
        raise NotFound("EHR record", code="not_linked_to_ehr", path=["data_source"])
    return record


async def write_entry(
    session: AsyncSession,
    *,
    practice_group_id: int,
    patient_id: int,
    text: str,
    snomed_code: str | None,
    kind: str = "note",
    source: str | None = None,
    now: datetime,
) -> EhrEntry | None:
    """Append an entry to the patient's linked EHR record; None when the patient has none."""
    record = (
        (
            await session.execute(
                select(EhrRecord).where(
                    EhrRecord.practice_group_id == practice_group_id,
                    EhrRecord.linked_patient_id == patient_id,
                )
            )
        )
        .scalars()
        .first()
    )
    if record is None:
        return None
    entry = EhrEntry(
        practice_group_id=practice_group_id,
        ehr_record_id=record.id,
        kind=kind,
        text=text,
        snomed_code=snomed_code,
        source=source,
        recorded_at=now,
    )
    session.add(entry)
    await session.flush()
    return entry
