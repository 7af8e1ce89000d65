"""Pages of a form link (``/f/{code}``, an openhero extension): the patient proves who they are, answers
the form and sends it; each submission is a form response, a practice task and an event."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core.deps import ClockDep, SettingsDep
from openhero.forms import service as forms
from openhero.forms.models import Form
from openhero.links import journey, views
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
from openhero.links.models import FormLink
from openhero.links.web import CountingSessionDep, PageProblem, PageRoute, PageSessionDep

router = APIRouter(include_in_schema=False, route_class=PageRoute)


async def _form(session: AsyncSession, ctx: Ctx) -> Form:
    form = await forms.form_of_group(session, ctx.link.practice_group_id, ctx.link.form_id)
    if form is None:
        raise ctx.problem(410, "This form is no longer available", "The practice has withdrawn this form.")
    return form


def _summary(form: Form) -> dict[str, str]:
    return {"type": form.patient_title or form.title, "where": "", "with": ""}


@router.get("/f/{code}")
async def form_start(code: str, request: Request, session: CountingSessionDep, settings: SettingsDep,
                     clock: ClockDep) -> Response:
    ctx = await open_link(request, session, FormLink, code, settings, clock.now(), "f")
    form = await _form(session, ctx)
    await journey.record_open(session, ctx.link)
    if ctx.sess is not None and ctx.sess.patient is not None:
        return ctx.go("/form")
    ctx.sess = None  # opening the link again after sending starts afresh
    return identity_page(ctx, form.patient_title or form.title, None)


@router.post("/f/{code}/verify")
async def form_verify(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                      clock: ClockDep) -> Response:
    ctx = await open_link(request, session, FormLink, code, settings, clock.now(), "f")
    form = await _form(session, ctx)
    return await verify_identity(request, session, ctx, form.patient_title or form.title, None, "/form")


@router.get("/f/{code}/verify")
async def form_verify_again(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                            clock: ClockDep) -> Response:
    ctx = await open_link(request, session, FormLink, code, settings, clock.now(), "f")
    form = await _form(session, ctx)
    return identity_again(ctx, form.patient_title or form.title, None)


@router.post("/f/{code}/not-you")
async def form_not_you(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                       clock: ClockDep) -> Response:
    ctx = await open_link(request, session, FormLink, code, settings, clock.now(), "f", require_usable=False)
    return await not_you(request, session, ctx)


@router.get("/f/{code}/problem")
async def form_problem(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                       clock: ClockDep, kind: str = "") -> Response:
    ctx = await open_link(request, session, FormLink, code, settings, clock.now(), "f", require_usable=False)
    return problem_page(ctx, kind)


def _form_page(ctx: Ctx, form: Form, status: int = 200, values: dict[int, list[str]] | None = None,
               errors: dict[int, str] | None = None) -> Response:
    fields = views.form_fields(form, values, errors)
    return ctx.page("form.html", status, form=form, fields=fields, errors=views.field_errors(fields))


@router.get("/f/{code}/form")
async def form_show(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                    clock: ClockDep) -> Response:
    ctx = await open_link(request, session, FormLink, code, settings, clock.now(), "f", require_usable=False)
    if ctx.sess is not None and ctx.sess.done:
        return ctx.go("/sent")  # Back after sending: what was sent, not a second submission
    if (kind := closed_kind(ctx)) is not None:
        raise ctx.fail(kind)
    verified_patient(ctx)
    flash = ctx.take("answers")
    if flash is not None:
        values, errors = answers_from(flash)
        return _form_page(ctx, await _form(session, ctx), 400, values, errors)
    return _form_page(ctx, await _form(session, ctx))


@router.post("/f/{code}/form")
async def form_submit(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                      clock: ClockDep) -> Response:
    ctx = await open_link(request, session, FormLink, code, settings, clock.now(), "f", require_usable=False)
    if ctx.sess is not None and ctx.sess.done:
        return ctx.go("/sent")
    data = await posted(request, ctx)
    patient_id = verified_patient(ctx)
    if (kind := closed_kind(ctx)) is not None:
        raise ctx.fail(kind)
    form = await _form(session, ctx)
    values = views.submitted_answers(form, data)
    checked = forms.check_answers(form, values)
    if not checked.ok:
        return (ctx.again("/form", "answers", **answers_flash(values, checked.errors))
                or _form_page(ctx, form, 400, values, checked.errors))
    try:
        response_id = await journey.submit_form(session, ctx.link, form, patient_id=patient_id, answers=checked,
                                                now=ctx.now)
    except Refused as refused:
        raise ctx.refused(refused.reason) from None
    end_session(ctx, done=response_id, urgent=checked.escalate)
    return ctx.go("/sent")


@router.get("/f/{code}/sent")
async def form_sent(code: str, request: Request, session: PageSessionDep, settings: SettingsDep,
                    clock: ClockDep) -> Response:
    ctx = await open_link(request, session, FormLink, code, settings, clock.now(), "f", require_usable=False)
    if ctx.sess is None or ctx.sess.done is None:
        raise ctx.problem(404, "Page not found", "Open the link from your message to fill in the form.")
    form = await session.get(Form, ctx.link.form_id)
    return ctx.page("form_sent.html", form=form, urgent=ctx.sess.urgent)


@router.api_route("/f/{code}/{rest:path}", methods=["GET", "POST"])
async def form_unknown(code: str, rest: str) -> Response:
    raise PageProblem(404, "Page not found", "Open the link from your message to start again.")
