"""Booking operations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from openhero.booking import schemas, service
from openhero.core.auth import PrincipalDep, authenticate, require_any_scope
from openhero.core.deps import SessionDep
from openhero.core.pagination import array_filter, parse_bool
from openhero.core.schemas import ListResponse

router = APIRouter(dependencies=[Depends(authenticate)])


def type_out(t, *, next_available_at=None, slot_count: int = 0) -> schemas.AppointmentTypeOut:  # type: ignore[no-untyped-def]
    return schemas.AppointmentTypeOut.model_validate({
        **{n: getattr(t, n) for n in ("id", "name", "partner_slot_name", "assignee_id", "assignee_type", "sector",
                                      "duration", "video", "in_person", "telephone", "use_partner_bookable_slots",
                                      "admin_booking_invoice_required", "form_id", "practitioner_type")},
        "price": float(t.price), "next_available_at": next_available_at, "slot_count": slot_count,
        "location_ids": [loc.id for loc in t.locations]})


@router.get("/v1/appointment_types", operation_id="listAppointmentTypes", tags=["Practice Group"],
            response_model=ListResponse[schemas.AppointmentTypeOut],
            dependencies=[Depends(require_any_scope("booking", "booking_links"))],
            summary="List the appointment types configured for the practice group.",
            description="`location_ids` narrows to types offered at any of the locations; `has_availability=true` "
                        "to types with at least one free future slot. `next_available_at` and `slot_count` are "
                        "derived from free future slots. Needs the booking or booking_links scope.")
async def list_appointment_types(
    session: SessionDep, principal: PrincipalDep,
    location_ids: Annotated[list[str], Depends(array_filter("location_ids"))],
    has_availability: Annotated[str | None, Query()] = None,
) -> ListResponse[schemas.AppointmentTypeOut]:
    locations = [int(x) for x in location_ids if x.isdigit()]
    if location_ids and not locations:
        return ListResponse(data=[], count=0)
    rows = await service.list_appointment_types(session, principal, location_ids=locations)
    data = [type_out(t) for t in rows]
    if parse_bool("has_availability", has_availability):
        data = [t for t in data if t.slot_count > 0]
    return ListResponse(data=data, count=len(data))
