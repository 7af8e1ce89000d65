"""Booking schemas."""

from __future__ import annotations

from typing import Literal

from openhero.core.schemas import ApiModel, Id, Timestamp


class AppointmentTypeOut(ApiModel):
    id: Id
    name: str
    partner_slot_name: str
    next_available_at: Timestamp | None
    slot_count: int
    price: float
    assignee_id: Id | None
    assignee_type: Literal["Admin", "AdminTeam"] | None
    sector: Literal["nhs", "paid"]
    duration: int
    video: bool
    in_person: bool
    telephone: bool
    use_partner_bookable_slots: bool
    admin_booking_invoice_required: bool
    form_id: Id | None
    practitioner_type: str
    location_ids: list[Id]
