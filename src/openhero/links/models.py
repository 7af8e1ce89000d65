"""Links a practice sends to patients: booking links (pick a slot, answer the appointment type's form,
confirm) and form links (answer one form). Both are opened at ``/l/{code}`` or ``/f/{code}``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from openhero.core.db import Base, IdType
from openhero.core.models import IdMixin, TenantMixin, TimestampMixin

MAX_DOB_ATTEMPTS = 10


class LinkMixin:
    """What every patient link has: an unguessable code, an optional patient (date-of-birth check),
    expiry, a use limit, counters and the wrong-date-of-birth lock."""

    code: Mapped[str] = mapped_column(String(32), unique=True)

    @declared_attr
    def patient_id(cls) -> Mapped[int | None]:  # noqa: N805
        # Named patient_id: a patient merge moves rows by this column name.
        return mapped_column(IdType, ForeignKey("patients.id", ondelete="SET NULL"), index=True)

    # True when made for a named patient; stays true if that patient is later deleted (the link then
    # stops working rather than turning into a generic one).
    patient_specific: Mapped[bool] = mapped_column(Boolean, default=False)
    expiry_date: Mapped[date | None] = mapped_column()  # usable through this whole (UK) day
    maximum_uses: Mapped[int | None] = mapped_column()  # None: unlimited
    number_of_uses: Mapped[int] = mapped_column(default=0)
    open_count: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_dob_attempts: Mapped[int] = mapped_column(default=0)
    locked_at: Mapped[datetime | None] = mapped_column()
    created_by_key_id: Mapped[int | None] = mapped_column(IdType)


class BookingLink(IdMixin, TenantMixin, TimestampMixin, LinkMixin, Base):
    __tablename__ = "booking_links"
    # Lists so that one link may offer several types, sites or clinicians; the contract's meta reports
    # them as arrays.
    appointment_type_ids: Mapped[list[Any]] = mapped_column(default=list)
    location_ids: Mapped[list[Any]] = mapped_column(default=list)
    practitioner_ids: Mapped[list[Any]] = mapped_column(default=list)
    from_date: Mapped[date | None] = mapped_column()
    to_date: Mapped[date | None] = mapped_column()
    # openhero: no confirmation message to the patient for bookings made through this link.
    suppress_mail: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class FormLink(IdMixin, TenantMixin, TimestampMixin, LinkMixin, Base):
    """openhero extension: a link to one standalone form."""

    __tablename__ = "form_links"
    form_id: Mapped[int] = mapped_column(IdType, ForeignKey("forms.id", ondelete="CASCADE"), index=True)


class LinkIdentityAttempt(IdMixin, Base):
    """Wrong identity details given on a generic link for one NHS number: ten lock that NHS number on that
    link (as ten wrong dates of birth lock a patient-specific link). The NHS number is kept only as an HMAC
    under the server's secret, so the table does not hold patient identifiers."""

    __tablename__ = "link_identity_attempts"
    __table_args__ = (UniqueConstraint("link_kind", "link_id", "subject"),)
    link_kind: Mapped[str] = mapped_column(String(8))  # booking | form
    link_id: Mapped[int] = mapped_column(IdType)
    subject: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(default=0)
    locked_at: Mapped[datetime | None] = mapped_column()
