"""Pharmacies of a practice group, linked to the prescribers (admins with an external prescriber id)
who send prescriptions to them."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openhero.core.db import Base, IdType, UTCDateTime
from openhero.core.models import IdMixin, TenantMixin, TimestampMixin, utcnow


class Pharmacy(IdMixin, TenantMixin, TimestampMixin, Base):
    """One pharmacy per email address per practice group (emails are stored lower-cased)."""

    __tablename__ = "pharmacies"
    __table_args__ = (UniqueConstraint("practice_group_id", "email"),)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(200))
    mobile: Mapped[str] = mapped_column(String(20))
    ods_code: Mapped[str | None] = mapped_column(String(10))
    postcode: Mapped[str | None] = mapped_column(String(10))


prescriber_pharmacies = Table(
    "prescriber_pharmacies",
    Base.metadata,
    Column("admin_id", IdType, ForeignKey("admins.id", ondelete="CASCADE"), primary_key=True),
    Column("pharmacy_id", IdType, ForeignKey("pharmacies.id", ondelete="CASCADE"), primary_key=True,
           index=True),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
)
