"""Booking data: appointment types (the booking domain adds schedules, slots and appointments)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, Column, ForeignKey, Numeric, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from openhero.core.db import Base, IdType
from openhero.core.models import IdMixin, TenantMixin, TimestampMixin
from openhero.practice.models import Location

appointment_type_locations = Table(
    "appointment_type_locations",
    Base.metadata,
    Column("appointment_type_id", IdType, ForeignKey("appointment_types.id", ondelete="CASCADE"),
           primary_key=True),
    Column("location_id", IdType, ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True),
)


class AppointmentType(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "appointment_types"
    name: Mapped[str] = mapped_column(String(200))
    partner_slot_name: Mapped[str] = mapped_column(String(200), default="")
    sector: Mapped[str] = mapped_column(String(8), default="nhs")  # nhs | paid
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("0"))
    duration: Mapped[int] = mapped_column(default=10)  # minutes
    video: Mapped[bool] = mapped_column(Boolean, default=False)
    in_person: Mapped[bool] = mapped_column(Boolean, default=False)
    telephone: Mapped[bool] = mapped_column(Boolean, default=False)
    use_partner_bookable_slots: Mapped[bool] = mapped_column(Boolean, default=False)
    admin_booking_invoice_required: Mapped[bool] = mapped_column(Boolean, default=False)
    practitioner_type: Mapped[str] = mapped_column(String(64), default="GP")
    assignee_type: Mapped[str | None] = mapped_column(String(16))  # Admin | AdminTeam
    assignee_id: Mapped[int | None] = mapped_column(IdType)
    form_id: Mapped[int | None] = mapped_column(IdType)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locations: Mapped[list[Location]] = relationship(secondary=appointment_type_locations, lazy="selectin")
