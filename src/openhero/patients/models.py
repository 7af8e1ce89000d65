"""Patients of a practice group (the core record; the patients domain adds PDS, EHR and merges)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openhero.core.db import Base
from openhero.core.models import IdMixin, TenantMixin, TimestampMixin


class Patient(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "patients"
    __table_args__ = (
        # One live record per NHS number per practice group (NULLs do not collide).
        UniqueConstraint("practice_group_id", "nhs_number"),
        Index("ix_patients_group_names", "practice_group_id", "last_name", "first_name"),
        Index("ix_patients_group_dob", "practice_group_id", "dob"),
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
