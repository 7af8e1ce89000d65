"""Booking operations: appointment types, slots and appointments (reserve, edit, book, cancel, reschedule)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Query, Response

from openhero.booking import appointments, schemas, service
from openhero.booking.appointments import Placement, ReserveCommand
from openhero.booking.models import Appointment, AppointmentType
from openhero.booking.params import SlotFilterDep
from openhero.core.auth import PrincipalDep, authenticate, require_any_scope, require_scope
from openhero.core.deps import ClockDep, ReadSessionDep, SessionDep
from openhero.core.errors import ValidationFailed, error_item
from openhero.core.ids import parse_ids
from openhero.core.pagination import PageDep, array_filter, from_query, parse_bool
from openhero.core.routing import ApiRoute
from openhero.core.schemas import ListResponse, format_timestamp

router = APIRouter(route_class=ApiRoute, dependencies=[Depends(authenticate)])
BookingScope = Depends(require_scope("booking"))


def type_out(t: AppointmentType, *, next_available_at: datetime | None = None, slot_count: int = 0
             ) -> schemas.AppointmentTypeOut:
    return schemas.AppointmentTypeOut.model_validate({
        **{n: getattr(t, n) for n in ("id", "name", "partner_slot_name", "assignee_id", "assignee_type", "sector",
                                      "duration", "video", "in_person", "telephone", "use_partner_bookable_slots",
                                      "admin_booking_invoice_required", "form_id", "practitioner_type")},
        "price": float(t.price), "next_available_at": next_available_at, "slot_count": slot_count,
        "location_ids": [loc.id for loc in t.locations]})


@from_query
async def _type_filters(
    location_ids: Annotated[list[str], Depends(array_filter("location_ids"))],
    has_availability: Annotated[str | None, Query()] = None,
) -> tuple[list[str], str | None]:
    return location_ids, has_availability


@router.get("/v1/appointment_types", operation_id="listAppointmentTypes", tags=["Practice Group"],
            response_model=ListResponse[schemas.AppointmentTypeOut],
            dependencies=[Depends(require_any_scope("booking", "booking_links"))],
            summary="List the appointment types configured for the practice group.",
            description="`location_ids` narrows to types offered at any of the locations; `has_availability=true` "
                        "to types with at least one free future slot. `next_available_at` and `slot_count` are "
                        "computed from free future slots (at the given locations when narrowed). Needs the "
                        "booking or booking_links scope.")
async def list_appointment_types(
    session: ReadSessionDep, principal: PrincipalDep, clock: ClockDep,
    filters: Annotated[tuple[list[str], str | None], Depends(_type_filters)],
) -> ListResponse[schemas.AppointmentTypeOut]:
    location_ids, has_availability = filters
    only_available = parse_bool("has_availability", has_availability)
    locations = parse_ids("location_ids", location_ids)
    if location_ids and not locations:
        return ListResponse(data=[], count=0)
    rows = await service.appointment_types_with_availability(
        session, principal, location_ids=locations, now=clock.now(), only_available=only_available)
    data = [type_out(t, slot_count=count, next_available_at=first) for t, count, first in rows]
    return ListResponse(data=data, count=len(data))


# ---- slots ---------------------------------------------------------------------------------------------

def _slot_dict(row: Any) -> dict[str, str]:
    slot_id, practitioner_id, type_id, location_id, start, finish = row[:6]
    return {"id": str(slot_id), "practitioner_id": str(practitioner_id), "appointment_type_id": str(type_id),
            "location_id": str(location_id), "start_time": format_timestamp(start),
            "finish_time": format_timestamp(finish)}


@router.get("/v1/slots", operation_id="listSlots", tags=["Booking"],
            response_model=ListResponse[schemas.SlotOut], dependencies=[BookingScope],
            summary="Search bookable slots, narrowed by appointment type, location, practitioner and a date window.",
            description="Only free future slots (not held by an unexpired reservation, not booked), in start "
                        "order. openhero's choices where Hero's docs were cut off: the response is `{data, count}` "
                        "(count = all matching); paging `page_index`/`page_size`; every id filter may be repeated "
                        "(`location_id=1&location_id=2`, `location_id[]=`) or comma-separated; `start_date`/"
                        "`end_date` take a date (a whole UK day, Europe/London) or an ISO date-time (UTC without "
                        "an offset). Needs the booking scope.")
async def list_slots(session: ReadSessionDep, principal: PrincipalDep, clock: ClockDep, flt: SlotFilterDep,
                     page: PageDep) -> Response:
    rows, count = await service.list_slots(session, principal, flt, page, clock.now())
    # Hot path: rows are serialised straight to JSON (no per-row model validation).
    body = orjson.dumps({"data": [_slot_dict(r) for r in rows], "count": count})
    return Response(body, media_type="application/json")


@router.get("/v1/slots/count", operation_id="countSlots", tags=["Booking"], response_model=schemas.SlotCount,
            dependencies=[BookingScope],
            summary="Count the bookable slots matching the filters.",
            description="Same filters and the same notion of bookable as GET /v1/slots. Response `{count}` "
                        "(openhero: the body was not visible in Hero's docs). Needs the booking scope.")
async def count_slots(session: ReadSessionDep, principal: PrincipalDep, clock: ClockDep, flt: SlotFilterDep
                      ) -> schemas.SlotCount:
    return schemas.SlotCount(count=await service.count_slots(session, principal, flt, clock.now()))


@router.get("/v1/slots/{id}", operation_id="getSlot", tags=["Booking"], response_model=schemas.SlotOut,
            dependencies=[BookingScope], summary="Fetch one slot by id.",
            description="Any published slot of the practice group, whether free or not; another group's or an "
                        "unknown id is 404. Needs the booking scope.")
async def get_slot(id: str, session: ReadSessionDep, principal: PrincipalDep) -> schemas.SlotOut:
    return schemas.SlotOut.model_validate(await service.get_slot(session, principal, id))


# ---- appointments --------------------------------------------------------------------------------------

async def appointment_out(session: SessionDep, principal: PrincipalDep, appt: Appointment, now: datetime
                          ) -> schemas.AppointmentOut:
    policy = (await appointments.practice_group(session, principal)).cancellation_policy_hours
    return schemas.AppointmentOut.model_validate({
        **{n: getattr(appt, n) for n in (
            "id", "patient_id", "practitioner_id", "location_id", "appointment_type_id", "duration", "start_time",
            "video", "in_person", "telephone", "video_url", "link_id", "reserved_until", "booking_confirmed_at",
            "suppress_mail", "cancelled_at", "rescheduled_at", "reason", "billpayer_id")},
        "can_be_cancelled": appointments.can_be_cancelled(appt, policy, now),
        "can_be_rescheduled": appointments.can_be_rescheduled(appt, policy, now),
        "cancellation_policy_hours": policy})


@router.post("/v1/appointments", operation_id="createAppointment", tags=["Booking"],
             response_model=schemas.AppointmentReservation, dependencies=[BookingScope],
             summary="Reserve a slot: a temporary hold answered with the appointment id and when the hold lapses.",
             description="Claims the published slot(s) of the practitioner starting at `start_time` for the "
                         "appointment type at the location, atomically: a slot already held by an unexpired "
                         "reservation or booked is **409** `slot_unavailable`; no such slot is **409** "
                         "`slot_not_found`. The hold lasts the practice group's reservation hold (default 15 "
                         "minutes, openhero). `suppress_availability_check` allows a time outside published slots "
                         "but never over a live booking or hold of the same practitioner (**409**). A duration "
                         "longer than one slot claims back-to-back slots. `start_time` without an offset is UTC. "
                         "Unknown or another group's type/location/practitioner/patient: **404**. Needs the "
                         "booking scope.")
async def create_appointment(session: SessionDep, principal: PrincipalDep, clock: ClockDep,
                             body: schemas.CreateAppointmentRequest) -> schemas.AppointmentReservation:
    placement = Placement(practitioner_id=int(body.practitioner_id), location_id=int(body.location_id),
                          appointment_type_id=int(body.appointment_type_id), start_time=body.start_time,  # type: ignore[arg-type]
                          duration=body.duration)
    cmd = ReserveCommand(placement=placement, patient_id=int(body.patient_id) if body.patient_id else None,
                         billpayer_id=body.billpayer_id, reason=body.reason, suppress_mail=body.suppress_mail,
                         suppress_availability_check=body.suppress_availability_check)
    appt = await appointments.reserve(session, principal, cmd, clock.now())
    return schemas.AppointmentReservation(id=str(appt.id), reserved_until=appt.reserved_until)


@router.get("/v1/appointments/{id}", operation_id="getAppointment", tags=["Booking"],
            response_model=schemas.AppointmentOut, dependencies=[BookingScope],
            summary="Fetch a reservation or booking.",
            description="`can_be_cancelled`: an unexpired reservation, or a booking at least "
                        "`cancellation_policy_hours` (practice setting, default 24) before its start; "
                        "`can_be_rescheduled`: a booking outside that window. Both say whether the action would "
                        "succeed without `suppress_cancellation_policy`. openhero adds `cancelled_at`, "
                        "`rescheduled_at`, `reason`, `billpayer_id`. Needs the booking scope.")
async def get_appointment(id: str, session: ReadSessionDep, principal: PrincipalDep, clock: ClockDep
                          ) -> schemas.AppointmentOut:
    appt = await appointments.get_appointment(session, principal, id)
    return await appointment_out(session, principal, appt, clock.now())


@router.put("/v1/appointments/{id}", operation_id="editAppointment", tags=["Booking"],
            response_model=schemas.AppointmentOut, dependencies=[BookingScope],
            summary="Change the time, length or practitioner of an unconfirmed reservation.",
            description="Only an unconfirmed, unexpired reservation can be edited (booked → **409** "
                        "`already_booked`, expired → **409** `reservation_expired`, cancelled → **409** "
                        "`appointment_cancelled`). Availability is checked again exactly as for a reserve; on "
                        "refusal the original hold is kept. The hold keeps its original `reserved_until`. "
                        "Response: the appointment (openhero; Hero's body was not visible). Needs the booking "
                        "scope.")
async def edit_appointment(id: str, session: SessionDep, principal: PrincipalDep, clock: ClockDep,
                           body: schemas.EditAppointmentRequest) -> schemas.AppointmentOut:
    now = clock.now()
    appt = await appointments.edit(session, principal, id, start_time=body.start_time,  # type: ignore[arg-type]
                                   duration=body.duration, practitioner_id=int(body.practitioner_id),
                                   suppress_availability_check=body.suppress_availability_check,
                                   suppress_mail=body.suppress_mail, now=now)
    return await appointment_out(session, principal, appt, now)


@router.patch("/v1/appointments/{id}/book", operation_id="bookAppointment", tags=["Booking"],
              response_model=schemas.AppointmentOut, dependencies=[BookingScope],
              summary="Confirm (book) a reservation.",
              description="Path and method as the contract infers them. No request body. Sets "
                          "`booking_confirmed_at` (and clears `reserved_until`), writes the "
                          "`appointment.confirmed` event and a practice task in the same transaction. An expired "
                          "reservation → **409** `reservation_expired`; already booked → **409** `already_booked`; "
                          "cancelled → **409** `appointment_cancelled`. Response: the appointment (openhero). "
                          "Needs the booking scope.")
async def book_appointment(id: str, session: SessionDep, principal: PrincipalDep, clock: ClockDep
                           ) -> schemas.AppointmentOut:
    now = clock.now()
    appt = await appointments.book(session, principal, id, now)
    return await appointment_out(session, principal, appt, now)


@router.patch("/v1/appointments/{id}/cancel", operation_id="cancelAppointment", tags=["Booking"],
              response_model=schemas.AppointmentOut, dependencies=[BookingScope],
              summary="Cancel a booking or release a reservation.",
              description="A booking inside the practice's cancellation window (`cancellation_policy_hours`, "
                          "default 24) → **409** `cancellation_policy` unless `suppress_cancellation_policy` is "
                          "true; a booking that has started → **409** `appointment_started`; already cancelled → "
                          "**409** `appointment_cancelled`; an expired reservation → **409** `reservation_expired`. "
                          "The slot becomes free at once. Cancelling a booking writes `appointment.cancelled`; "
                          "releasing an unconfirmed reservation writes no event (openhero). The body is optional. "
                          "Response: the appointment (openhero). Needs the booking scope.")
async def cancel_appointment(id: str, session: SessionDep, principal: PrincipalDep, clock: ClockDep,
                             body: Annotated[schemas.CancelAppointmentRequest | None, Body()] = None
                             ) -> schemas.AppointmentOut:
    now = clock.now()
    body = body or schemas.CancelAppointmentRequest()
    appt = await appointments.cancel(session, principal, id,
                                     suppress_cancellation_policy=body.suppress_cancellation_policy,
                                     suppress_mail=body.suppress_mail, now=now)
    return await appointment_out(session, principal, appt, now)


@router.patch("/v1/appointments/{id}/reschedule", operation_id="rescheduleAppointment", tags=["Booking"],
              response_model=schemas.AppointmentOut, dependencies=[BookingScope],
              summary="Move a booking to another free time (and possibly practitioner).",
              description="Method as the contract infers it; the body was not visible in Hero's docs, so openhero "
                          "takes the edit body: `start_time` (or openhero's `slot_id`), optional `duration`, "
                          "`practitioner_id`, `location_id` (default: unchanged), `suppress_availability_check`, "
                          "`suppress_cancellation_policy`, `suppress_mail`. The new slot is claimed and the old one "
                          "freed in one transaction: either both happen or neither (**409** `slot_unavailable` "
                          "leaves the booking where it was). Only a booking outside the cancellation window can "
                          "move (**409** `cancellation_policy` unless suppressed; a reservation → **409** "
                          "`not_booked`). Writes `appointment.rescheduled`. Response: the appointment. Needs the "
                          "booking scope.")
async def reschedule_appointment(id: str, session: SessionDep, principal: PrincipalDep, clock: ClockDep,
                                 body: schemas.RescheduleAppointmentRequest) -> schemas.AppointmentOut:
    if body.start_time is None and body.slot_id is None:
        raise ValidationFailed("start_time or slot_id is required", items=[error_item(
            "invalid_type", "a date-time (required unless slot_id is given)", ["start_time"], "Required")])
    now = clock.now()
    appt = await appointments.reschedule(
        session, principal, id, start_time=body.start_time,  # type: ignore[arg-type]
        slot_id=int(body.slot_id) if body.slot_id else None, duration=body.duration,
        practitioner_id=int(body.practitioner_id) if body.practitioner_id else None,
        location_id=int(body.location_id) if body.location_id else None,
        suppress_availability_check=body.suppress_availability_check,
        suppress_cancellation_policy=body.suppress_cancellation_policy, suppress_mail=body.suppress_mail, now=now)
    return await appointment_out(session, principal, appt, now)
