"""The pages a patient sees after opening a booking link (``/l/{code}``); form links (``/f/{code}``) are in
``form_pages``. Plain HTML forms, no JavaScript; every POST carries the session's CSRF token.

Journey: open (counted) -> date of birth, or name/date of birth/mobile for a generic link -> free times
-> hold one (15 minutes) -> answer the appointment type's form if it has one -> confirm (a use counted).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.booking.models import Appointment
from openhero.core.deps import ClockDep, SettingsDep
from openhero.core.ids import is_id
from openhero.core.ratelimit import limit_by_client
from openhero.forms import service as forms
from openhero.links import form_pages, journey, views
from openhero.links.flow import Ctx, identity_page, open_link, posted, verified_patient, verify_identity
from openhero.links.journey import Refusal, Refused
from openhero.links.models import BookingLink
from openhero.links.web import CountingSessionDep, PageRoute, PageSessionDep

router = APIRouter(include_in_schema=False, route_class=PageRoute, dependencies=[Depends(limit_by_client)])
SLOTS_PER_PAGE = 30


async def offer(session: AsyncSession, link: BookingLink) -> dict[str, str]:
    return await views.link_offer(session, link.appointment_type_ids, link.location_ids, link.practitioner_ids)


# --- booking link pages -------------------------------------------------------------------------------

HEADING = "Book your appointment"


@router.get("/l/{code}")
async def booking_start(code: str, request: Request, session: CountingSessionDep, settings: SettingsDep,
                        clock: ClockDep) -> Response:
    ctx = await open_link(request, session, BookingLink, code, settings, clock.now(), "l")
    await journey.record_open(session, ctx.link)
    if ctx.sess is not None and ctx.sess.patient is not None:
        return ctx.go("/slots")
    return identity_page(ctx, HEADING, await offer(session, ctx.link))


@router.post("/l/{code}/verify")
async def booking_verify(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                         clock: ClockDep) -> Response:
    ctx = await open_link(request, session, BookingLink, code, settings, clock.now(), "l")
    return await verify_identity(request, session, ctx, HEADING, await offer(session, ctx.link), "/slots")


@router.get("/l/{code}/slots")
async def booking_slots(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                        clock: ClockDep, page: Annotated[int, Query(ge=0, le=1000)] = 0) -> Response:
    ctx = await open_link(request, session, BookingLink, code, settings, clock.now(), "l")
    verified_patient(ctx)
    link: BookingLink = ctx.link
    rows, more = await journey.free_slots(session, link, ctx.zone, ctx.now, limit=SLOTS_PER_PAGE,
                                          offset=page * SLOTS_PER_PAGE)
    days = await views.slot_days(session, rows, ctx.zone, show_what=len(link.appointment_type_ids) > 1,
                                 show_who=len(link.practitioner_ids) != 1, show_where=len(link.location_ids) > 1)
    return ctx.page("slots.html", offer=await offer(session, link), days=days, page=page,
                    more=more)


@router.post("/l/{code}/slots")
async def booking_pick(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                       clock: ClockDep) -> Response:
    ctx = await open_link(request, session, BookingLink, code, settings, clock.now(), "l")
    data = await posted(request, ctx)
    patient_id = verified_patient(ctx)
    raw = views.text(data, "slot_id")
    if not is_id(raw):
        raise ctx.refused(Refusal.NOT_OFFERED, ctx.base + "/slots")
    assert ctx.sess is not None
    try:
        appt = await journey.hold(session, ctx.link, ctx.zone, patient_id=patient_id, slot_id=int(raw),
                                  previous_appointment_id=ctx.sess.appointment, now=ctx.now)
    except Refused as refused:
        raise ctx.refused(refused.reason, ctx.base + "/slots") from None
    ctx.sess.appointment = appt.id
    return ctx.go("/confirm")


async def _confirm_page(session: AsyncSession, ctx: Ctx, status: int = 200, values: dict[int, list[str]] | None = None,
                        errors: dict[int, str] | None = None) -> Response:
    patient_id = verified_patient(ctx)
    assert ctx.sess is not None
    try:
        appt = await journey.held_appointment(session, ctx.link, patient_id, ctx.sess.appointment, ctx.now)
    except Refused as refused:
        raise ctx.refused(refused.reason, ctx.base + "/slots") from None
    form = await journey.form_for(session, appt)
    return ctx.page("confirm.html", status, appointment=await views.appointment_view(session, appt, ctx.zone),
                    form=form, fields=views.form_fields(form, values, errors) if form else [],
                    error_count=len(errors or {}))


@router.get("/l/{code}/confirm")
async def booking_review(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                         clock: ClockDep) -> Response:
    ctx = await open_link(request, session, BookingLink, code, settings, clock.now(), "l")
    return await _confirm_page(session, ctx)


@router.post("/l/{code}/confirm")
async def booking_confirm(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                          clock: ClockDep) -> Response:
    ctx = await open_link(request, session, BookingLink, code, settings, clock.now(), "l")
    data = await posted(request, ctx)
    patient_id = verified_patient(ctx)
    assert ctx.sess is not None
    try:
        appt = await journey.held_appointment(session, ctx.link, patient_id, ctx.sess.appointment, ctx.now)
        form = await journey.form_for(session, appt)
        checked = None
        if form is not None:
            values = views.submitted_answers(form, data)
            checked = forms.check_answers(form, values)
            if not checked.ok:
                return await _confirm_page(session, ctx, 400, values, checked.errors)
        booked = await journey.confirm(session, ctx.link, patient_id=patient_id, appointment=appt, form=form,
                                       answers=checked, now=ctx.now)
    except Refused as refused:
        raise ctx.refused(refused.reason, ctx.base + "/slots") from None
    ctx.sess.appointment, ctx.sess.done = None, booked.id
    return ctx.go("/confirmed")


@router.get("/l/{code}/confirmed")
async def booking_done(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                       clock: ClockDep) -> Response:
    # Shown even when that booking used the link's last use.
    ctx = await open_link(request, session, BookingLink, code, settings, clock.now(), "l", require_usable=False)
    appt = await session.get(Appointment, ctx.sess.done) if ctx.sess and ctx.sess.done else None
    if appt is None or appt.link_id != ctx.link.id:
        raise ctx.problem(404, "Page not found", "Open the link from your message to book an appointment.")
    return ctx.page("confirmed.html", appointment=await views.appointment_view(session, appt, ctx.zone))


router.include_router(form_pages.router)
