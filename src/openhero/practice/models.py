"""The tenancy root: networks, practice groups, their staff and places, and partner API keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from openhero.core.apikeys import ApiKey  # noqa: F401  (defined in core: authentication reads it)
from openhero.core.db import Base, IdType
from openhero.core.models import IdMixin, TenantMixin, TimestampMixin


class Network(IdMixin, Base):
    """Practice groups in one network (a PCN or hub) may act for each other."""

    __tablename__ = "networks"
    name: Mapped[str] = mapped_column(String(200))


class PracticeGroup(IdMixin, TimestampMixin, Base):
    __tablename__ = "practice_groups"
    name: Mapped[str] = mapped_column(String(200))
    ods_code: Mapped[str | None] = mapped_column(String(20))
    sector: Mapped[str] = mapped_column(String(20), default="nhs")
    network_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("networks.id"), index=True)
    address: Mapped[dict[str, Any]] = mapped_column(default=dict)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    reservation_hold_minutes: Mapped[int] = mapped_column(default=15)
    cancellation_policy_hours: Mapped[int] = mapped_column(default=24)
    prescription_partner_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    prescription_partner: Mapped[str | None] = mapped_column(String(64))
    # Only the login email is kept readable; the password is never returned by the API.
    prescription_partner_credentials: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Feature switches reported by GET /v1/me/capabilities.
    capabilities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The group's own email sender ("Name <address>") and Reply-To; unset: OPENHERO_SMTP_FROM, no Reply-To.
    email_from: Mapped[str | None] = mapped_column(String(320))
    email_reply_to: Mapped[str | None] = mapped_column(String(320))


class Location(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "locations"
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[dict[str, Any]] = mapped_column(default=dict)
    phone: Mapped[str | None] = mapped_column(String(40))
    online_booking_enabled: Mapped[bool] = mapped_column(Boolean, default=True)


practitioner_locations = Table(
    "practitioner_locations",
    Base.metadata,
    Column("practitioner_id", IdType, ForeignKey("practitioners.id", ondelete="CASCADE"), primary_key=True),
    Column("location_id", IdType, ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True),
)


class Practitioner(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "practitioners"
    title: Mapped[str | None] = mapped_column(String(20))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    practitioner_type: Mapped[str] = mapped_column(String(64))
    gender: Mapped[str | None] = mapped_column(String(20))
    gmc_number: Mapped[str | None] = mapped_column(String(20))
    bio: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locations: Mapped[list[Location]] = relationship(secondary=practitioner_locations, lazy="selectin")


admin_team_members = Table(
    "admin_team_members",
    Base.metadata,
    Column("admin_team_id", IdType, ForeignKey("admin_teams.id", ondelete="CASCADE"), primary_key=True),
    Column("admin_id", IdType, ForeignKey("admins.id", ondelete="CASCADE"), primary_key=True),
)


class Admin(IdMixin, TenantMixin, TimestampMixin, Base):
    """A practice staff user (receptionist, practice manager, clinician with an admin login)."""

    __tablename__ = "admins"
    __table_args__ = (UniqueConstraint("practice_group_id", "email"),)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(64))
    external_prescriber_id: Mapped[str | None] = mapped_column(String(100))
    prescriber_details: Mapped[dict[str, Any] | None] = mapped_column()
    signature: Mapped[str | None] = mapped_column(Text)


class AdminTeam(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "admin_teams"
    name: Mapped[str] = mapped_column(String(200))
    members: Mapped[list[Admin]] = relationship(secondary=admin_team_members, lazy="selectin")
