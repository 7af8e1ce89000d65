"""Booking schemas: appointment types, slots, appointments and the request bodies that change them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StrictBool

from openhero.core.dates import bounded_utc
from openhero.core.schemas import ApiModel, Id, RequestModel, Timestamp

MAX_DURATION_MINUTES = 480


def _id_in(value: object) -> object:
    """Ids arrive as decimal strings ("156"); numbers are accepted too."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


# An id in a request body: a decimal digit string (a JSON number is accepted).
IdIn = Annotated[str, BeforeValidator(_id_in), Field(pattern=r"^[0-9]{1,18}$")]
Minutes = Annotated[int, Field(ge=1, le=MAX_DURATION_MINUTES)]


def _utc(value: datetime) -> datetime:
    """A time without an offset is UTC (openhero); a bare date (the docs' example) means its midnight."""
    bounded_utc(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


StartTime = Annotated[datetime, AfterValidator(_utc)]


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


class SlotOut(ApiModel):
    id: Id
    practitioner_id: Id
    appointment_type_id: Id
    location_id: Id
    start_time: Timestamp
    finish_time: Timestamp


class SlotCount(ApiModel):
    count: int


class CreateAppointmentRequest(RequestModel):
    appointment_type_id: IdIn
    location_id: IdIn
    practitioner_id: IdIn
    duration: Minutes
    start_time: StartTime
    patient_id: IdIn | None = None
    billpayer_id: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=5000)
    suppress_mail: StrictBool = False
    suppress_availability_check: StrictBool = False


class EditAppointmentRequest(RequestModel):
    start_time: StartTime
    duration: Minutes
    practitioner_id: IdIn
    suppress_availability_check: StrictBool = False
    suppress_mail: StrictBool | None = None


class CancelAppointmentRequest(RequestModel):
    suppress_mail: StrictBool | None = None
    suppress_cancellation_policy: StrictBool = False


class RescheduleAppointmentRequest(RequestModel):
    """Not visible in Hero's docs (openhero): the new time as in the edit body, or a slot id."""

    start_time: StartTime | None = None
    slot_id: IdIn | None = None
    duration: Minutes | None = None
    practitioner_id: IdIn | None = None
    location_id: IdIn | None = None
    suppress_availability_check: StrictBool = False
    suppress_cancellation_policy: StrictBool = False
    suppress_mail: StrictBool | None = None


class AppointmentReservation(ApiModel):
    id: Id
    reserved_until: Timestamp | None


class AppointmentOut(ApiModel):
    id: Id
    patient_id: Id | None
    practitioner_id: Id
    location_id: Id
    appointment_type_id: Id
    duration: int
    start_time: Timestamp | None
    video: bool
    in_person: bool
    telephone: bool
    video_url: str | None
    link_id: Id | None
    reserved_until: Timestamp | None
    booking_confirmed_at: Timestamp | None
    can_be_cancelled: bool
    can_be_rescheduled: bool
    cancellation_policy_hours: int
    suppress_mail: bool
    # openhero additions: the rest of the state the contract says lives in timestamps.
    cancelled_at: Timestamp | None
    rescheduled_at: Timestamp | None
    reason: str | None
    billpayer_id: str | None
