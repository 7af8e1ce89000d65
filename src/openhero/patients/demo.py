"""Demo patients for a practice group: the sandbox PDS's ordinary people, registered as if traced,
plus their records in the built-in EHR (some linked, some waiting as candidates) and one duplicate
record to show merges."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.patients.models import EhrAttachment, EhrEntry, EhrRecord, Patient
from openhero.patients.pds.mapping import patient_from_fhir
from openhero.patients.pds.sandbox_data import ORDINARY, SPECIAL, to_fhir
from openhero.patients.service import register_from_pds

LINKED = 10  # the first ten demo patients are already linked to their EHR record
CANDIDATES = 5  # the next five have an EHR record that is not linked yet
_LETTERS = [
    ("Discharge summary - Leeds General Infirmary.pdf", "Discharge summary"),
    ("Blood test results.pdf", "Full blood count and U&E"),
    ("Outpatient letter - Cardiology.pdf", "Clinic letter"),
]


def _ehr_record(group_id: int, patient: Patient, n: int, now: datetime) -> EhrRecord:
    return EhrRecord(
        practice_group_id=group_id,
        ehr_partner="emis",
        ehr_partner_id=f"EMIS{480000 + n}",
        nhs_number=patient.nhs_number,
        title=patient.title,
        first_name=patient.first_name,
        last_name=patient.last_name,
        sex=patient.sex,
        dob=patient.dob,
        email=patient.email,
        mobile=patient.mobile,
        address_line_1=patient.address_line_1,
        town=patient.town,
        county=patient.county,
        postcode=patient.postcode,
        restricted=False,
        last_sync_at=now,
        created_at=now,
        updated_at=now,
    )


async def seed_demo_patients(session: AsyncSession, practice_group_id: int, now: datetime) -> list[Patient]:
    """Register the demo patients (idempotent: re-running refreshes them, adds nothing twice)."""
    people = [SPECIAL[0], *ORDINARY]  # Jane Smith, then the twenty ordinary patients
    patients = []
    for person in people:
        traced, _ = patient_from_fhir(to_fhir(person))
        patients.append(await register_from_pds(session, practice_group_id, traced, now))
    already = (
        await session.execute(select(EhrRecord.id).where(EhrRecord.practice_group_id == practice_group_id).limit(1))
    ).scalar_one_or_none()
    if already is not None:
        return patients
    ordinary = patients[1:]
    for n, patient in enumerate(ordinary[: LINKED + CANDIDATES]):
        record = _ehr_record(practice_group_id, patient, n, now)
        session.add(record)
        await session.flush()
        if n < LINKED:
            record.linked_patient_id = patient.id
            patient.ehr_partner, patient.ehr_partner_id, patient.emis_id = (
                "emis",
                record.ehr_partner_id,
                record.ehr_partner_id,
            )
            patient.ehr_registered = True
            file_name, description = _LETTERS[n % len(_LETTERS)]
            session.add(
                EhrAttachment(
                    practice_group_id=practice_group_id,
                    ehr_record_id=record.id,
                    file_name=file_name,
                    description=description,
                    content_type="application/pdf",
                    size_bytes=48_000 + n * 1_000,
                    created_at=now - timedelta(days=3 * n + 1),
                )
            )
            session.add(
                EhrEntry(
                    practice_group_id=practice_group_id,
                    ehr_record_id=record.id,
                    kind="consultation",
                    snomed_code="185317003",
                    text="Telephone consultation: reviewed medication.",
                    source="EMIS Web",
                    recorded_at=now - timedelta(days=10 + n),
                )
            )
    # Jane Smith's EHR record exists too, waiting to be linked (GET .../ehr/candidates finds it).
    session.add(_ehr_record(practice_group_id, patients[0], 99, now))
    # A duplicate of an EHR-linked patient, registered by a partner without an NHS number: merge demo.
    twin = ordinary[0]
    duplicate = Patient(
        practice_group_id=practice_group_id,
        data_source="hero",
        status="unarchived",
        ehr_registered=False,
        title=twin.title,
        first_name=twin.first_name,
        last_name=twin.last_name,
        sex=twin.sex,
        dob=twin.dob or date(1970, 1, 1),
        mobile="07700900199",
        created_at=now,
        updated_at=now,
    )
    session.add(duplicate)
    await session.flush()
    return [*patients, duplicate]
