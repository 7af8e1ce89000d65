"""The pages a patient sees after opening a booking link (``/l/{code}``); form links (``/f/{code}``) are in
``form_pages``. Plain HTML forms, no JavaScript; every POST carries the session's CSRF token and answers
with a redirect (post/redirect/get), so reload and Back never submit twice.

Journey: open (counted) -> date of birth, or name/date of birth/mobile for a generic link -> the type, when
the link offers several -> free times -> hold one (15 minutes) -> check, answer the type's form if it has one
-> confirm (a use counted, the confirmation queued, the session ended) -> confirmed (reference, how to
cancel) -> cancel, if the practice's cancellation policy allows.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.booking.appointments import can_be_cancelled
from openhero.booking.models import Appointment
from openhero.booking.states import AppointmentState, state_of
from openhero.core.deps import ClockDep, SettingsDep
from openhero.core.ids import is_id
from openhero.core.ratelimit import limit_by_client
from openhero.forms import service as forms
from openhero.links import confirmation, form_pages, journey, views, web
from openhero.links.flow import (
    Ctx,
    answers_flash,
    answers_from,
    closed_kind,
    end_session,
    identity_again,
    identity_page,
    not_you,
    open_link,
    posted,
    problem_page,
    verified_patient,
    verify_identity,
)
from openhero.links.journey import Refused
from openhero.links.models import BookingLink
from openhero.links.web import CountingSessionDep, PageProblem, PageRoute, PageSessionDep
from openhero.patients.models import Patient

router = APIRouter(include_in_schema=False, route_class=PageRoute, dependencies=[Depends(limit_by_client)])
SLOTS_PER_PAGE = 30


async def offer(session: AsyncSession, link: BookingLink, type_id: int | None = None) -> dict[str, str | None]:
    types = [type_id] if type_id is not None else link.appointment_type_ids
    return await views.link_offer(session, types, link.location_ids, link.practitioner_ids)


async def _open(request: Request, session: AsyncSession, code: str, settings: SettingsDep, clock: ClockDep,
                **kw: bool) -> Ctx:
    return await open_link(request, session, BookingLink, code, settings, clock.now(), "l", **kw)


def _chosen_type(ctx: Ctx) -> int | None:
    link: BookingLink = ctx.link
    if len(link.appointment_type_ids) == 1:
        return link.appointment_type_ids[0]
    chosen = ctx.sess.type if ctx.sess else None
    return chosen if chosen in link.appointment_type_ids else None


# --- booking link pages -------------------------------------------------------------------------------

HEADING = "Book your appointment"


@router.get("/l/{code}")
async def booking_start(code: str, request: Request, session: CountingSessionDep, settings: SettingsDep,
                        clock: ClockDep) -> Response:
    ctx = await _open(request, session, code, settings, clock)
    await journey.record_open(session, ctx.link)
    if ctx.sess is not None and ctx.sess.patient is not None:
        return ctx.go("/slots")
    ctx.sess = None  # opening the link again after booking starts a new journey
    return identity_page(ctx, HEADING, await offer(session, ctx.link))


@router.post("/l/{code}/verify")
async def booking_verify(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                         clock: ClockDep) -> Response:
    ctx = await _open(request, session, code, settings, clock)
    return await verify_identity(request, session, ctx, HEADING, await offer(session, ctx.link), "/slots")


@router.get("/l/{code}/verify")
async def booking_verify_again(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                               clock: ClockDep) -> Response:
    ctx = await _open(request, session, code, settings, clock)
    return identity_again(ctx, HEADING, await offer(session, ctx.link))


@router.post("/l/{code}/not-you")
async def booking_not_you(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                          clock: ClockDep) -> Response:
    ctx = await _open(request, session, code, settings, clock, require_usable=False)
    return await not_you(request, session, ctx)


@router.get("/l/{code}/problem")
async def booking_problem(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                          clock: ClockDep, kind: str = "") -> Response:
    ctx = await _open(request, session, code, settings, clock, require_usable=False)
    return problem_page(ctx, kind)


@router.get("/l/{code}/type")
async def booking_types(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                        clock: ClockDep) -> Response:
    ctx = await _open(request, session, code, settings, clock, require_usable=False)
    if ctx.sess is not None and ctx.sess.done:
        return ctx.go("/confirmed")
    if (kind := closed_kind(ctx)) is not None:
        raise ctx.fail(kind)
    verified_patient(ctx)
    errors = (ctx.take("type") or {}).get("errors") or {}
    return ctx.page("types.html", 400 if errors else 200,
                    types=await views.type_choices(session, ctx.link.appointment_type_ids),
                    chosen=None if errors else _chosen_type(ctx), errors=errors)


@router.post("/l/{code}/type")
async def booking_choose_type(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                              clock: ClockDep) -> Response:
    ctx = await _open(request, session, code, settings, clock)
    data = await posted(request, ctx)
    verified_patient(ctx)
    raw = views.text(data, "type_id")
    choices = await views.type_choices(session, ctx.link.appointment_type_ids)
    if not is_id(raw) or int(raw) not in {c["id"] for c in choices}:
        errors = {"type_id": "Select what your appointment is for"}
        return (ctx.again("/type", "type", errors=errors)
                or ctx.page("types.html", 400, types=choices, chosen=None, errors=errors))
    assert ctx.sess is not None
    ctx.sess.type = int(raw)
    return ctx.go("/slots")


@router.get("/l/{code}/slots")
async def booking_slots(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                        clock: ClockDep, page_raw: Annotated[str, Query(alias="page", max_length=8)] = "0",
                        start_raw: Annotated[str, Query(alias="from", max_length=10)] = "") -> Response:
    ctx = await _open(request, session, code, settings, clock, require_usable=False)
    if ctx.sess is not None and ctx.sess.done:
        return ctx.go("/confirmed")  # Back after booking: the booking, not another one
    if (kind := closed_kind(ctx)) is not None:
        raise ctx.fail(kind)
    verified_patient(ctx)
    link: BookingLink = ctx.link
    type_id = _chosen_type(ctx)
    if type_id is None:
        return ctx.go("/type")
    # Hand-typed or stale query strings get the first page, not the API's JSON error.
    page = min(int(page_raw), 1000) if page_raw.isascii() and page_raw.isdigit() else 0
    try:
        start: date | None = date.fromisoformat(start_raw) if start_raw else None
    except ValueError:
        start = None
    first = max(ctx.today, link.from_date or ctx.today)
    if start is not None and (start < first or (link.to_date and start > link.to_date)):
        start = None
    rows, more = await journey.free_slots(session, link, ctx.zone, ctx.now, limit=SLOTS_PER_PAGE,
                                          offset=page * SLOTS_PER_PAGE, type_id=type_id, from_day=start)
    days = await views.slot_days(session, rows, ctx.zone, show_what=False,
                                 show_who=len(link.practitioner_ids) != 1, show_where=len(link.location_ids) > 1)
    return ctx.page("slots.html", offer=await offer(session, link, type_id), days=days, page=page, more=more,
                    weeks=views.week_choices(first, link.to_date), start=start.isoformat() if start else "",
                    several_types=len(link.appointment_type_ids) > 1)


@router.post("/l/{code}/slots")
async def booking_pick(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                       clock: ClockDep) -> Response:
    ctx = await _open(request, session, code, settings, clock, require_usable=False)
    if ctx.sess is not None and ctx.sess.done:
        return ctx.go("/confirmed")  # a page from before the booking, resubmitted: the booking
    if (kind := closed_kind(ctx)) is not None:
        raise ctx.fail(kind)
    data = await posted(request, ctx)
    assert ctx.sess is not None
    patient_id = verified_patient(ctx)
    raw = views.text(data, "slot_id")
    if not is_id(raw):
        raise ctx.fail("not_offered")
    try:
        appt = await journey.hold(session, ctx.link, ctx.zone, patient_id=patient_id, slot_id=int(raw),
                                  previous_appointment_id=ctx.sess.appointment, now=ctx.now)
    except Refused as refused:
        raise ctx.refused(refused.reason) from None
    ctx.sess.appointment = appt.id
    return ctx.go("/confirm")


async def _confirm_page(session: AsyncSession, ctx: Ctx, status: int = 200, values: dict[int, list[str]] | None = None,
                        errors: dict[int, str] | None = None) -> Response:
    patient_id = verified_patient(ctx)
    assert ctx.sess is not None
    try:
        appt = await journey.held_appointment(session, ctx.link, patient_id, ctx.sess.appointment, ctx.now)
    except Refused as refused:
        raise ctx.refused(refused.reason) from None
    form = await journey.form_for(session, appt)
    fields = views.form_fields(form, values, errors) if form else []
    return ctx.page("confirm.html", status, appointment=await views.appointment_view(session, appt, ctx.zone),
                    form=form, fields=fields, errors=views.field_errors(fields),
                    several_types=len(ctx.link.appointment_type_ids) > 1)


@router.get("/l/{code}/confirm")
async def booking_review(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                         clock: ClockDep) -> Response:
    ctx = await _open(request, session, code, settings, clock, require_usable=False)
    if ctx.sess is not None and ctx.sess.done:
        return ctx.go("/confirmed")  # Back after booking lands on the booking
    if (kind := closed_kind(ctx)) is not None:
        raise ctx.fail(kind)
    flash = ctx.take("answers")
    if flash is not None:
        values, errors = answers_from(flash)
        return await _confirm_page(session, ctx, 400, values, errors)
    return await _confirm_page(session, ctx)


@router.post("/l/{code}/confirm")
async def booking_confirm(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                          clock: ClockDep) -> Response:
    ctx = await _open(request, session, code, settings, clock, require_usable=False)
    if ctx.sess is not None and ctx.sess.done:
        return ctx.go("/confirmed")  # Back after booking and Confirm again: the booking, not another one
    data = await posted(request, ctx)
    assert ctx.sess is not None
    patient_id = verified_patient(ctx)
    # A second Confirm for a booking already made (double click: the first request's answer never reached
    # the browser) shows that booking.
    already = await journey.booked_through(session, ctx.link, patient_id, ctx.sess.appointment)
    if already is not None:
        end_session(ctx, done=already.id)
        return ctx.go("/confirmed")
    link: BookingLink = ctx.link
    if (kind := closed_kind(ctx)) is not None:
        raise ctx.fail(kind)
    try:
        appt = await journey.held_appointment(session, link, patient_id, ctx.sess.appointment, ctx.now)
        form = await journey.form_for(session, appt)
        checked = None
        if form is not None:
            values = views.submitted_answers(form, data)
            checked = forms.check_answers(form, values)
            if not checked.ok:
                return (ctx.again("/confirm", "answers", **answers_flash(values, checked.errors))
                        or await _confirm_page(session, ctx, 400, values, checked.errors))
        booked = await journey.confirm(session, link, patient_id=patient_id, appointment=appt, form=form,
                                       answers=checked, now=ctx.now)
    except Refused as refused:
        raise ctx.refused(refused.reason) from None
    view = await views.appointment_view(session, booked, ctx.zone)
    await confirmation.send_confirmation(session, link, booked, view, ctx.practice, settings=settings, now=ctx.now)
    end_session(ctx, done=booked.id, urgent=bool(checked and checked.escalate))
    return ctx.go("/confirmed")


async def _contact_channel(session: AsyncSession, link: BookingLink, appt: Appointment) -> str | None:
    if link.suppress_mail or appt.suppress_mail or appt.patient_id is None:
        return None
    patient = await session.get(Patient, appt.patient_id)
    if patient is None:
        return None
    return "text message" if patient.mobile else "email" if patient.email else None


@router.get("/l/{code}/confirmed")
async def booking_done(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                       clock: ClockDep) -> Response:
    # Shown even when that booking used the link's last use.
    ctx = await _open(request, session, code, settings, clock, require_usable=False)
    appt = await session.get(Appointment, ctx.sess.done) if ctx.sess and ctx.sess.done else None
    if appt is None or appt.link_id != ctx.link.id:
        raise ctx.problem(404, "Page not found", "Open the link from your message to book an appointment.")
    assert ctx.sess is not None
    return ctx.page("confirmed.html", appointment=await views.appointment_view(session, appt, ctx.zone),
                    reference=confirmation.reference(appt.id), urgent=ctx.sess.urgent,
                    cancelled=state_of(appt, ctx.now) is AppointmentState.CANCELLED,
                    cancel_url=confirmation.cancel_path(ctx.link, settings.secret_key, appt.id),
                    sent_by=await _contact_channel(session, ctx.link, appt))


async def _cancellable(session: AsyncSession, ctx: Ctx, raw_id: str, token: str) -> Appointment:
    ok = raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18
    appt = await session.get(Appointment, int(raw_id)) if ok else None
    if (appt is None or appt.link_id != ctx.link.id
            or not confirmation.token_ok(ctx.settings.secret_key, appt.id, token)):
        raise ctx.problem(404, "Page not found", "Check that you copied the whole link from your message.")
    return appt


@router.get("/l/{code}/cancel/{appointment_id}/{token}")
async def booking_cancel_page(code: str, appointment_id: str, token: str, request: Request,
                              session: PageSessionDep, settings: SettingsDep, clock: ClockDep) -> Response:
    ctx = await _open(request, session, code, settings, clock, require_usable=False)
    appt = await _cancellable(session, ctx, appointment_id, token)
    group = ctx.group
    state = state_of(appt, ctx.now)
    allowed = can_be_cancelled(appt, group.cancellation_policy_hours, ctx.now) and state is AppointmentState.BOOKED
    return ctx.page("cancel.html", appointment=await views.appointment_view(session, appt, ctx.zone),
                    reference=confirmation.reference(appt.id), cancelled=state is AppointmentState.CANCELLED,
                    allowed=allowed, policy_hours=group.cancellation_policy_hours, errors={})


@router.post("/l/{code}/cancel/{appointment_id}/{token}")
async def booking_cancel(code: str, appointment_id: str, token: str, request: Request,
                         session: PageSessionDep, settings: SettingsDep, clock: ClockDep) -> Response:
    ctx = await _open(request, session, code, settings, clock, require_usable=False)
    appt = await _cancellable(session, ctx, appointment_id, token)
    back = f"/cancel/{appointment_id}/{token}"
    if state_of(appt, ctx.now) is AppointmentState.CANCELLED:
        return ctx.go(back)  # cancelling twice shows it cancelled
    await posted(request, ctx)
    if not await confirmation.cancel_booking(session, ctx.link, appt, ctx.now):
        raise ctx.fail("cannot_cancel")
    return ctx.go(back)


@router.get("/patient-pages/style.css")
async def stylesheet() -> Response:
    return Response(web.STYLESHEET, media_type="text/css", headers={
        "Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"})


@router.api_route("/l/{code}/{rest:path}", methods=["GET", "POST"])
async def booking_unknown(code: str, rest: str) -> Response:
    """Anything else under a link answers the HTML "not found" page, not the API's JSON."""
    raise PageProblem(404, "Page not found", "Open the link from your message to start again.")


router.include_router(form_pages.router)
