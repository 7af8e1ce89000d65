"""Booking-link shapes (field names exactly as the contract's) and openhero's form-link extension."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, WithJsonSchema

from openhero.core.dates import bounded_day
from openhero.core.ids import to_id
from openhero.core.schemas import ApiModel, Id, RequestModel, Timestamp

MAX_IDS = 50
MAX_USES = 1_000_000


def _ids(value: Any) -> list[int]:
    """One id or a list of ids, as digit strings or numbers, to a de-duplicated list of ints."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("at least one id is required")
    if len(items) > MAX_IDS:
        raise ValueError(f"at most {MAX_IDS} ids")
    out: list[int] = []
    for item in items:
        number = to_id(item)
        if number is None:
            raise ValueError("ids are decimal digit strings such as \"5\"")
        if number not in out:
            out.append(number)
    return out


def _one_id(value: Any) -> int:
    if isinstance(value, list):
        raise ValueError("one id (a decimal digit string), not a list")
    return _ids(value)[0]


def _day(value: Any) -> Any:
    """A calendar date from YYYY-MM-DD or an ISO date-time (its date as written, no timezone shift)."""
    if value is None or isinstance(value, date):
        return value
    text = str(value).strip()
    if len(text) > 10 and text[10] in "Tt ":
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")).date()
        except ValueError:
            raise ValueError("a date must be YYYY-MM-DD or an ISO 8601 date-time") from None
    return text


IdList = Annotated[list[int], BeforeValidator(_ids),
                   WithJsonSchema({"oneOf": [{"type": "string", "pattern": r"^\d+$"},
                                             {"type": "array", "items": {"type": "string", "pattern": r"^\d+$"}}]})]
OneId = Annotated[int, BeforeValidator(_one_id), WithJsonSchema({"type": "string", "pattern": r"^\d+$"})]
Day = Annotated[date, BeforeValidator(_day), AfterValidator(bounded_day),
                WithJsonSchema({"type": "string", "format": "date"})]
UseCount = Annotated[int, Field(ge=1, le=MAX_USES)]


class CreateBookingLinkRequest(RequestModel):
    appointment_type_id: IdList = Field(description="Required. One id, or (openhero) a list of ids.")
    location_id: IdList = Field(description="Required. One id, or (openhero) a list of ids.")
    patient_id: OneId | None = Field(None, description="Supply for a patient-specific invite (the patient "
                                                       "verifies with their date of birth); omit for a generic "
                                                       "link.")
    practitioner_id: IdList | None = Field(None, description="Optional pre-selected practitioner(s).")
    from_date: Day | None = Field(None, description="Only offer slots on or after this date.")
    to_date: Day | None = Field(None, description="Only offer slots on or before this date.")
    expiry_date: Day | None = Field(None, description="The link works through this whole day (UK time).")
    maximum_use_count: UseCount | None = Field(None, description="Bookings allowed through the link; absent "
                                                                 "or null: unlimited.")
    suppress_mail: bool = Field(False, description="openhero: send the patient no confirmation message for "
                                                   "bookings made through this link.")


class UpdateBookingLinkRequest(RequestModel):
    """Only the fields sent change; null clears an optional constraint."""

    appointment_type_id: IdList | None = None
    location_id: IdList | None = None
    practitioner_id: IdList | None = None
    from_date: Day | None = None
    to_date: Day | None = None
    expiry_date: Day | None = Field(None, description="openhero: change or (null) remove the expiry.")
    maximum_use_count: UseCount | None = Field(None, description="openhero: change or (null) remove the limit.")
    active: bool | None = Field(None, description="openhero: false deactivates the link; true reactivates it and "
                                                  "clears a date-of-birth lock.")
    suppress_mail: bool | None = Field(None, description="openhero: no confirmation message for bookings made "
                                                         "through this link.")


DateOut = Annotated[date, PlainSerializer(lambda d: d.isoformat(), return_type=str)]


class BookingLinkMeta(ApiModel):
    appointment_type_id: list[str]
    location_id: list[str]
    practitioner_id: list[str]
    patient_id: str | None
    from_date: DateOut | None
    to_date: DateOut | None


class BookingLinkOut(ApiModel):
    id: Id
    practice_group_id: Id
    short_link: str
    active: bool
    expiry_date: Timestamp | None
    maximum_uses: int | None
    number_of_uses: int
    open_count: int
    unlimited_use: bool
    meta: BookingLinkMeta
    suppress_mail: bool = Field(False, description="openhero: bookings through this link send no confirmation.")


class CreateFormLinkRequest(RequestModel):
    form_id: OneId
    patient_id: OneId | None = None
    expiry_date: Day | None = None
    maximum_use_count: UseCount | None = None


class FormLinkOut(ApiModel):
    id: Id
    practice_group_id: Id
    form_id: Id
    patient_id: Id | None
    short_link: str
    active: bool
    expiry_date: Timestamp | None
    maximum_uses: int | None
    number_of_uses: int
    open_count: int
    unlimited_use: bool
