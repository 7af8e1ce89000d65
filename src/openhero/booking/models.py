"""Booking data: appointment types, schedules, the concrete slots they generate, and appointments.

A slot's state lives in two columns that are only ever changed by conditional UPDATEs:

- ``appointment_id`` NULL: free;
- ``appointment_id`` set and ``held_until`` in the future: held by that (unconfirmed) reservation;
- ``appointment_id`` set and ``held_until`` in the past: the hold lapsed, the slot is free again;
- ``appointment_id`` set and ``held_until`` NULL: booked.

Because ``appointment_id`` is one column, a slot can never belong to two appointments at once; the
unique partial index on ``appointments.slot_id`` additionally refuses two live confirmed bookings of one
slot, so even a bug in the claiming code cannot double book.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
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


class Schedule(IdMixin, TenantMixin, TimestampMixin, Base):
    """A recurring session of one practitioner at one location (e.g. Mon-Fri 08:30-12:00, 10-minute
    slots of one appointment type), in the practice's local time; generated into concrete slots."""

    __tablename__ = "schedules"
    practitioner_id: Mapped[int] = mapped_column(IdType, ForeignKey("practitioners.id", ondelete="CASCADE"),
                                                 index=True)
    location_id: Mapped[int] = mapped_column(IdType, ForeignKey("locations.id", ondelete="CASCADE"))
    appointment_type_id: Mapped[int] = mapped_column(IdType, ForeignKey("appointment_types.id",
                                                                        ondelete="CASCADE"))
    weekdays: Mapped[str] = mapped_column(String(7), default="01234")  # Monday=0 ... Sunday=6
    start_local: Mapped[str] = mapped_column(String(5))  # "08:30"
    end_local: Mapped[str] = mapped_column(String(5))  # "12:00"
    slot_minutes: Mapped[int] = mapped_column(default=10)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    valid_from: Mapped[date | None] = mapped_column()
    valid_until: Mapped[date | None] = mapped_column()
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# What a free-slot search reads besides its filter and order columns: the free test and the page's times.
_FREE_AND_SHOWN = ("published", "appointment_id", "held_until", "finish_time")


class Slot(IdMixin, Base):
    __tablename__ = "slots"
    __table_args__ = (
        # One slot per practitioner start time; doubles as the index for practitioner filters and the
        # overlap check of bookings outside published slots.
        UniqueConstraint("practitioner_id", "start_time"),
        # The free-slot searches (booking/repository.py), one index per filter shape, each *covering*: the
        # filter columns, the order (start_time, id), then what decides "free" and what a page shows. A page
        # and its total are then read from the index alone: at 1M slots a week's page of one location and
        # type costs SQLite 97 µs instead of 197, a day of all slots 316 instead of 1,112 (docs/booking.md).
        Index("ix_slots_free_location_type", "practice_group_id", "location_id", "appointment_type_id",
              "start_time", "id", *_FREE_AND_SHOWN, "practitioner_id"),
        Index("ix_slots_free_type", "practice_group_id", "appointment_type_id", "start_time", "id",
              *_FREE_AND_SHOWN, "location_id", "practitioner_id"),
        Index("ix_slots_free_start", "practice_group_id", "start_time", "id", *_FREE_AND_SHOWN, "location_id",
              "appointment_type_id", "practitioner_id"),
        Index("ix_slots_appointment", "appointment_id"),
        # Only the few currently held rows, for the tidy-up poller.
        Index("ix_slots_held_until", "held_until", sqlite_where=text("held_until IS NOT NULL"),
              postgresql_where=text("held_until IS NOT NULL")),
    )
    # No standalone practice_group_id index: every slot query leads with it in a composite index.
    practice_group_id: Mapped[int] = mapped_column(IdType, ForeignKey("practice_groups.id", ondelete="CASCADE"))
    schedule_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("schedules.id", ondelete="SET NULL"))
    practitioner_id: Mapped[int] = mapped_column(IdType, ForeignKey("practitioners.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(IdType, ForeignKey("locations.id", ondelete="CASCADE"))
    appointment_type_id: Mapped[int] = mapped_column(IdType, ForeignKey("appointment_types.id",
                                                                        ondelete="CASCADE"))
    start_time: Mapped[datetime] = mapped_column()
    finish_time: Mapped[datetime] = mapped_column()
    # False for the private slot made for a booking outside published slots (never listed).
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    # The appointment holding or booking this slot (no FK: appointments already reference slots).
    appointment_id: Mapped[int | None] = mapped_column(IdType)
    held_until: Mapped[datetime | None] = mapped_column()


_LIVE_CONFIRMED = "booking_confirmed_at IS NOT NULL AND cancelled_at IS NULL AND slot_id IS NOT NULL"


class Appointment(IdMixin, TenantMixin, TimestampMixin, Base):
    """A reservation (``reserved_until`` set, not confirmed) or a booking (``booking_confirmed_at`` set).

    No status column: state is derived from the timestamps, as the contract describes."""

    __tablename__ = "appointments"
    __table_args__ = (
        Index("uq_appointments_live_slot", "slot_id", unique=True,
              sqlite_where=text(_LIVE_CONFIRMED), postgresql_where=text(_LIVE_CONFIRMED)),
        Index("ix_appointments_practitioner_start", "practitioner_id", "start_time"),
    )
    # Named patient_id: a patient merge moves rows by this column name.
    patient_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("patients.id", ondelete="SET NULL"),
                                                   index=True)
    practitioner_id: Mapped[int] = mapped_column(IdType, ForeignKey("practitioners.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(IdType, ForeignKey("locations.id", ondelete="CASCADE"))
    appointment_type_id: Mapped[int] = mapped_column(IdType, ForeignKey("appointment_types.id",
                                                                        ondelete="CASCADE"))
    slot_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("slots.id", ondelete="SET NULL"))
    start_time: Mapped[datetime] = mapped_column()
    duration: Mapped[int] = mapped_column()
    video: Mapped[bool] = mapped_column(Boolean, default=False)
    in_person: Mapped[bool] = mapped_column(Boolean, default=False)
    telephone: Mapped[bool] = mapped_column(Boolean, default=False)
    video_url: Mapped[str | None] = mapped_column(String(500))
    link_id: Mapped[int | None] = mapped_column(IdType)  # the booking link it came through, if any
    billpayer_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    suppress_mail: Mapped[bool] = mapped_column(Boolean, default=False)
    availability_check_suppressed: Mapped[bool] = mapped_column(Boolean, default=False)
    reserved_until: Mapped[datetime | None] = mapped_column()
    booking_confirmed_at: Mapped[datetime | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()
    cancellation_policy_suppressed: Mapped[bool] = mapped_column(Boolean, default=False)
    rescheduled_at: Mapped[datetime | None] = mapped_column()
    previous_start_time: Mapped[datetime | None] = mapped_column()
    created_by_key_id: Mapped[int | None] = mapped_column(IdType)
