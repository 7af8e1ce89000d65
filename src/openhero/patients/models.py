"""Patients of a practice group, and the built-in local EHR (records, entries, attachments).

The ``patients`` table is created by the foundation migration; the patients branch adds the
search indexes, ``gp_ods_code`` / ``previous_nhs_number`` and the EHR tables.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from openhero.core.db import Base, IdType
from openhero.core.models import IdMixin, TenantMixin, TimestampMixin


class Patient(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "patients"
    __table_args__ = (
        # One live record per NHS number per practice group (NULLs do not collide).
        UniqueConstraint("practice_group_id", "nhs_number"),
        Index("ix_patients_group_names", "practice_group_id", "last_name", "first_name"),
        Index("ix_patients_group_dob", "practice_group_id", "dob"),
        Index("ix_patients_group_ehr_partner_id", "practice_group_id", "ehr_partner_id"),
        Index("ix_patients_group_emis_id", "practice_group_id", "emis_id"),
    )
    uid: Mapped[str] = mapped_column(String(36), default=lambda: str(uuid.uuid4()), unique=True)
    nhs_number: Mapped[str | None] = mapped_column(String(10))
    emis_id: Mapped[str | None] = mapped_column(String(64))
    ehr_partner_id: Mapped[str | None] = mapped_column(String(64))
    ehr_partner: Mapped[str | None] = mapped_column(String(32))
    ehr_registered: Mapped[bool] = mapped_column(Boolean, default=False)
    title: Mapped[str | None] = mapped_column(String(40))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    sex: Mapped[str | None] = mapped_column(String(20))
    dob: Mapped[date | None] = mapped_column()
    deceased_at: Mapped[datetime | None] = mapped_column()
    email: Mapped[str | None] = mapped_column(String(200))
    emails: Mapped[list[Any] | None] = mapped_column()
    mobile: Mapped[str | None] = mapped_column(String(40))
    landline: Mapped[str | None] = mapped_column(String(40))
    address_line_1: Mapped[str | None] = mapped_column(String(200))
    address_line_2: Mapped[str | None] = mapped_column(String(200))
    address_line_3: Mapped[str | None] = mapped_column(String(200))
    town: Mapped[str | None] = mapped_column(String(100))
    county: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(100))
    postcode: Mapped[str | None] = mapped_column(String(16))
    notes: Mapped[str | None] = mapped_column(Text)
    verification_credentials: Mapped[list[Any] | None] = mapped_column()
    data_source: Mapped[str] = mapped_column(String(16), default="hero")
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    sex_changed_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="unarchived")
    last_sync_at: Mapped[datetime | None] = mapped_column()
    # Set when this record was archived by a merge into another.
    merged_into_id: Mapped[int | None] = mapped_column()
    # ODS code of the GP practice PDS says the patient is registered with.
    gp_ods_code: Mapped[str | None] = mapped_column(String(10))
    # The NHS number PDS superseded (or the number this record held before a merge archived it).
    previous_nhs_number: Mapped[str | None] = mapped_column(String(10))


# Name filters are case-insensitive; these expression indexes serve them on both backends.
Index(
    "ix_patients_group_lower_last",
    Patient.practice_group_id,
    func.lower(Patient.last_name),
    func.lower(Patient.first_name),
)
Index("ix_patients_group_lower_first", Patient.practice_group_id, func.lower(Patient.first_name))


class EhrRecord(IdMixin, TenantMixin, TimestampMixin, Base):
    """A patient's record in the practice's clinical system (the built-in local EHR)."""

    __tablename__ = "ehr_records"
    __table_args__ = (
        UniqueConstraint("practice_group_id", "ehr_partner_id"),
        Index("ix_ehr_records_group_nhs", "practice_group_id", "nhs_number"),
        Index("ix_ehr_records_group_dob", "practice_group_id", "dob"),
    )
    ehr_partner: Mapped[str] = mapped_column(String(32), default="emis")  # emis | systm_one
    ehr_partner_id: Mapped[str] = mapped_column(String(64))
    nhs_number: Mapped[str | None] = mapped_column(String(10))
    title: Mapped[str | None] = mapped_column(String(40))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    sex: Mapped[str | None] = mapped_column(String(20))
    dob: Mapped[date | None] = mapped_column()
    deceased_at: Mapped[datetime | None] = mapped_column()
    email: Mapped[str | None] = mapped_column(String(200))
    mobile: Mapped[str | None] = mapped_column(String(40))
    address_line_1: Mapped[str | None] = mapped_column(String(200))
    address_line_2: Mapped[str | None] = mapped_column(String(200))
    address_line_3: Mapped[str | None] = mapped_column(String(200))
    town: Mapped[str | None] = mapped_column(String(100))
    county: Mapped[str | None] = mapped_column(String(100))
    postcode: Mapped[str | None] = mapped_column(String(16))
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    last_sync_at: Mapped[datetime | None] = mapped_column()
    # Named linked_patient_id (not patient_id) so that merges, which move every patient_id, leave it.
    linked_patient_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("patients.id", ondelete="SET NULL"), index=True
    )


class EhrEntry(IdMixin, TenantMixin, Base):
    """One coded entry in an EHR record (a consultation note, a message written to the record...)."""

    __tablename__ = "ehr_entries"
    ehr_record_id: Mapped[int] = mapped_column(IdType, ForeignKey("ehr_records.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32), default="note")
    snomed_code: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column()


class EhrAttachment(IdMixin, TenantMixin, Base):
    """A document held in the EHR for a patient (letters, results), listed by /attachments."""

    __tablename__ = "ehr_attachments"
    ehr_record_id: Mapped[int] = mapped_column(IdType, ForeignKey("ehr_records.id", ondelete="CASCADE"), index=True)
    uuid: Mapped[str] = mapped_column(String(36), default=lambda: str(uuid.uuid4()), unique=True)
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100), default="application/pdf")
    size_bytes: Mapped[int] = mapped_column(default=0)
    description: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column()
