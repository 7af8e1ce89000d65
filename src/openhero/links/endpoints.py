"""Booking links (and openhero's form links): create, read and change the links a practice sends
patients. Needs the booking_links scope."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from fastapi import APIRouter, Depends

from openhero.core.auth import PrincipalDep, authenticate, require_scope
from openhero.core.deps import ClockDep, ReadSessionDep, SessionDep, SettingsDep
from openhero.core.routing import ApiRoute
from openhero.core.schemas import format_timestamp
from openhero.links import schemas, service
from openhero.links.models import BookingLink, FormLink, LinkMixin
from openhero.links.service import LinkState, local_today, state_of

router = APIRouter(route_class=ApiRoute, dependencies=[Depends(authenticate), Depends(require_scope("booking_links"))])

LIFE = ("`active` is true while the link works: not deactivated, not locked by 10 wrong dates of birth, not past "
        "`expiry_date` (the link works through that whole day, UK time; reported as midnight UTC of the date) "
        "and not used up. `maximum_uses` null with `unlimited_use` true means no limit; a use is counted when "
        "the patient confirms a booking. `open_count` counts openings of the link's first page.")


def _expiry(link: LinkMixin) -> str | None:
    if link.expiry_date is None:
        return None
    return format_timestamp(datetime.combine(link.expiry_date, time(0), UTC))


def _life(link: LinkMixin, today: date) -> dict[str, object]:
    return {"active": state_of(link, today) is LinkState.USABLE,
            "expiry_date": _expiry(link), "maximum_uses": link.maximum_uses, "number_of_uses": link.number_of_uses,
            "open_count": link.open_count, "unlimited_use": link.maximum_uses is None}


def booking_link_out(link: BookingLink, base_url: str, today: date) -> schemas.BookingLinkOut:
    return schemas.BookingLinkOut.model_validate({
        "id": link.id, "practice_group_id": link.practice_group_id,
        "short_link": service.short_link(base_url, "l", link.code), **_life(link, today),
        "meta": {"appointment_type_id": [str(i) for i in link.appointment_type_ids],
                 "location_id": [str(i) for i in link.location_ids],
                 "practitioner_id": [str(i) for i in link.practitioner_ids],
                 "patient_id": str(link.patient_id) if link.patient_id is not None else None,
                 "from_date": link.from_date, "to_date": link.to_date},
        "suppress_mail": link.suppress_mail})


def form_link_out(link: FormLink, base_url: str, today: date) -> schemas.FormLinkOut:
    return schemas.FormLinkOut.model_validate({
        "id": link.id, "practice_group_id": link.practice_group_id, "form_id": link.form_id,
        "patient_id": link.patient_id, "short_link": service.short_link(base_url, "f", link.code),
        **_life(link, today)})


@router.post("/v1/booking_links", operation_id="createBookingLink", tags=["Links"],
             response_model=schemas.BookingLinkOut,
             summary="Generate a shareable self-booking URL for an appointment type at a location, either for a "
                     "named patient (DOB check) or generic (patient logs in).",
             description="openhero completes Hero's partial description as follows. Answers 200 with the "
                         "BookingLink. `appointment_type_id` and `location_id` are required (one id, or a list of "
                         "ids); `patient_id` makes the link patient-specific (the patient confirms their date "
                         "of birth; 10 wrong tries lock the link); without it the patient gives name, date of "
                         "birth, mobile and optionally NHS number and is matched or registered. Every id must "
                         "name a row of the caller's practice group (else **404**, `path` naming the field); an "
                         "inactive appointment type or practitioner, a type not offered at the locations, a "
                         "practitioner not working there, a location with online booking off, an archived "
                         "patient or one without a date of birth is **400**. Dates are YYYY-MM-DD (a date-time "
                         "keeps its date); `to_date` and `expiry_date` may not be in the past and `from_date` "
                         "may not be after `to_date` (**400**). `maximum_use_count` is a whole number >= 1; "
                         "absent or null means unlimited. `short_link` is served by this openhero at "
                         "`/l/{code}` (72-bit random code). " + LIFE)
async def create_booking_link(body: schemas.CreateBookingLinkRequest, session: SessionDep, principal: PrincipalDep,
                              settings: SettingsDep, clock: ClockDep) -> schemas.BookingLinkOut:
    now = clock.now()
    link = await service.create_booking_link(session, principal, body, now)
    return booking_link_out(link, settings.public_base_url, local_today(now))


@router.get("/v1/booking_links/{id}", operation_id="getBookingLink", tags=["Booking", "Links"],
            response_model=schemas.BookingLinkOut,
            summary="Fetch a booking link with its usage counters and the booking constraints stored in meta.",
            description="`meta` holds `appointment_type_id`, `location_id` and `practitioner_id` (arrays of id "
                        "strings, practitioner empty when any may be booked), `patient_id` (null for a generic "
                        "link), `from_date` and `to_date` (YYYY-MM-DD or null). Another practice group's link is "
                        "404. " + LIFE)
async def get_booking_link(id: str, session: ReadSessionDep, principal: PrincipalDep, settings: SettingsDep,
                           clock: ClockDep) -> schemas.BookingLinkOut:
    link = await service.get_booking_link(session, principal, id)
    return booking_link_out(link, settings.public_base_url, local_today(clock.now()))


@router.patch("/v1/booking_links/{id}", operation_id="updateBookingLink", tags=["Links"],
              response_model=schemas.BookingLinkOut,
              summary="Change the constraints (appointment type, location, practitioner, date window, ...) of an "
                      "existing booking link.",
              description="openhero: only the fields sent change and the answer is the updated BookingLink. "
                          "`appointment_type_id`, `location_id`, `practitioner_id`, `from_date`, `to_date` as in "
                          "createBookingLink (the same 404/400 checks on the result); null clears "
                          "`practitioner_id`, `from_date`, `to_date`, and also the openhero extras `expiry_date` "
                          "and `maximum_use_count`. `active: false` deactivates the link (patients see that it no "
                          "longer works); `active: true` reactivates it and clears a date-of-birth lock. The "
                          "patient of a patient-specific link cannot be changed (make a new link). Counters are "
                          "kept. " + LIFE)
async def update_booking_link(id: str, body: schemas.UpdateBookingLinkRequest, session: SessionDep,
                              principal: PrincipalDep, settings: SettingsDep, clock: ClockDep
                              ) -> schemas.BookingLinkOut:
    now = clock.now()
    link = await service.update_booking_link(session, principal, id, body, now)
    return booking_link_out(link, settings.public_base_url, local_today(now))


@router.post("/v1/form_links", operation_id="createFormLink", tags=["Links"], response_model=schemas.FormLinkOut,
             summary="openhero extension: a link to one of the practice's forms.",
             description="**openhero extension** (Hero's docs mention createformlink without its shape). "
                         "`form_id` (required, an active form of the caller's practice group, else 404), optional "
                         "`patient_id` (the patient confirms their date of birth, 10 wrong tries lock the link; "
                         "without it the patient gives name, date of birth and mobile), `expiry_date`, "
                         "`maximum_use_count`, with the same rules as booking links. The patient opens "
                         "`short_link` (`/f/{code}`); each submission is a form response, a task and a "
                         "`form-submission.created` event. " + LIFE)
async def create_form_link(body: schemas.CreateFormLinkRequest, session: SessionDep, principal: PrincipalDep,
                           settings: SettingsDep, clock: ClockDep) -> schemas.FormLinkOut:
    now = clock.now()
    link = await service.create_form_link(session, principal, body, now)
    return form_link_out(link, settings.public_base_url, local_today(now))


@router.get("/v1/form_links/{id}", operation_id="getFormLink", tags=["Links"], response_model=schemas.FormLinkOut,
            summary="openhero extension: a form link with its counters.",
            description="**openhero extension**. Another practice group's link is 404. " + LIFE)
async def get_form_link(id: str, session: ReadSessionDep, principal: PrincipalDep, settings: SettingsDep,
                        clock: ClockDep) -> schemas.FormLinkOut:
    link = await service.get_form_link(session, principal, id)
    return form_link_out(link, settings.public_base_url, local_today(clock.now()))
