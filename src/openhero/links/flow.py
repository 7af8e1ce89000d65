"""What every patient link page shares: opening a link (closed links answer with a clear page), the
request's context and session, CSRF checks, and proving who the patient is."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.links import journey, views
from openhero.links.journey import Refusal, Refused
from openhero.links.service import LinkState, find_by_code, local_today, state_of
from openhero.links.web import (
    LinkSession,
    PageProblem,
    csrf_ok,
    load_session,
    redirect,
    render,
    save_session,
)
from openhero.settings import Settings

CLOSED: dict[LinkState, tuple[int, str, str]] = {
    LinkState.EXPIRED: (410, "This link has expired", "The time to use this link has passed."),
    LinkState.INACTIVE: (410, "This link is no longer active", "The practice has switched this link off."),
    LinkState.USED_UP: (410, "This link has already been used", "This link cannot be used again."),
    LinkState.ORPHANED: (410, "This link is no longer valid", "This link cannot be used any more."),
    LinkState.LOCKED: (403, "This link has been locked",
                       "The date of birth was entered incorrectly too many times, so we have locked this link to "
                       "keep your information safe."),
}
REFUSALS: dict[Refusal, tuple[int, str, str]] = {
    Refusal.USED_UP: CLOSED[LinkState.USED_UP],
    Refusal.SLOT_TAKEN: (409, "Sorry, that time has just been taken",
                         "Someone else chose that time a moment before you. Please choose another time."),
    Refusal.HOLD_EXPIRED: (409, "Your time is no longer being held",
                           "We hold a time for {hold} minutes while you finish booking. Please choose a time again."),
    Refusal.NOT_OFFERED: (404, "That time is not available", "Please choose one of the times shown."),
}


class Ctx:
    """One page request's link, practice and session."""

    def __init__(self, link: Any, group: Any, now: datetime, settings: Settings, prefix: str) -> None:
        self.link, self.group, self.now, self.settings = link, group, now, settings
        self.zone = ZoneInfo(group.timezone or "Europe/London")
        self.practice = views.practice_view(group)
        self.base = f"/{prefix}/{link.code}"
        self.sess: LinkSession | None = None
        self.today = local_today(now, group.timezone or "Europe/London")
        self.hold_minutes = group.reservation_hold_minutes

    def problem(self, status: int, title: str, message: str, **kw: Any) -> PageProblem:
        return PageProblem(status, title, message, practice=self.practice, **kw)

    def refused(self, reason: Refusal, next_url: str | None = None) -> PageProblem:
        status, title, message = REFUSALS[reason]
        return self.problem(status, title, message.format(hold=self.hold_minutes), next_url=next_url,
                            next_label="Choose a time")

    def page(self, template: str, status: int = 200, **context: Any) -> Response:
        if self.sess is None:
            self.sess = LinkSession.new(self.link.id)
        response = render(template, status, practice=self.practice, base=self.base, csrf=self.sess.csrf,
                          hold_minutes=self.hold_minutes, **context)
        return self.keep(response)

    def keep(self, response: Response) -> Response:
        if self.sess is None:
            self.sess = LinkSession.new(self.link.id)
        return save_session(response, self.settings.secret_key, self.now, self.sess, path=self.base,
                            secure=self.settings.public_base_url.startswith("https"))

    def go(self, path: str) -> Response:
        return self.keep(redirect(self.base + path))


async def open_link(request: Request, session: AsyncSession, model: type[Any], code: str, settings: Settings,
                    now: datetime, prefix: str, *, require_usable: bool = True) -> Ctx:
    link = await find_by_code(session, model, code)
    if link is None:
        raise PageProblem(404, "This link is not valid", "Check that you copied the whole link from your message.")
    ctx = Ctx(link, await journey.practice_of(session, link), now, settings, prefix)
    ctx.sess = load_session(request, settings.secret_key, now, link.id)
    state = state_of(link, ctx.today)
    if require_usable and state is not LinkState.USABLE:
        status, title, message = CLOSED[state]
        raise ctx.problem(status, title, message)
    return ctx


async def posted(request: Request, ctx: Ctx) -> Any:
    data = await request.form()
    if not csrf_ok(ctx.sess, views.text(data, "csrf_token")):
        raise ctx.problem(403, "Your session has ended", "For your security, please start again from the link.",
                          next_url=ctx.base, next_label="Start again")
    return data


def verified_patient(ctx: Ctx) -> int:
    if ctx.sess is None or ctx.sess.patient is None:
        raise ctx.problem(403, "Your session has ended", "For your security, please start again from the link.",
                          next_url=ctx.base, next_label="Start again")
    return ctx.sess.patient


# --- identity: shared with form links ----------------------------------------------------------------

def identity_page(ctx: Ctx, heading: str, summary: dict[str, str] | None) -> Response:
    template = "verify_dob.html" if ctx.link.patient_specific else "identify.html"
    return ctx.page(template, heading=heading, offer=summary, errors={}, values={})


async def verify_identity(request: Request, session: AsyncSession, ctx: Ctx, heading: str,
                          summary: dict[str, str] | None, next_path: str) -> Response:
    data = await posted(request, ctx)
    assert ctx.sess is not None
    if ctx.link.patient_specific:
        values = {k: views.text(data, k) for k in ("dob-day", "dob-month", "dob-year")}
        dob = views.parse_date_parts(values["dob-day"], values["dob-month"], values["dob-year"])
        if dob is None:
            return ctx.page("verify_dob.html", 400, heading=heading, offer=summary, values=values,
                            errors={"dob": "Enter your date of birth as a real date, for example 15 3 1984"})
        result = await journey.check_dob(session, ctx.link, dob, ctx.now)
        if result.locked:  # the lock is stored: answer with a page, not a rollback
            status, title, message = CLOSED[LinkState.LOCKED]
            return ctx.page("problem.html", status, title=title, message=message)
        if not result.matched:
            return ctx.page("verify_dob.html", 400, heading=heading, offer=summary, values=values, errors={
                "dob": f"The date of birth does not match our records. You have {result.tries_left} "
                       f"{'try' if result.tries_left == 1 else 'tries'} left."})
        return verified(ctx, ctx.link.patient_id, next_path)
    values = {k: views.text(data, k) for k in (*views.IDENTITY_FIELDS, "dob-day", "dob-month", "dob-year")}
    who, errors = views.identity_from_form(data, ctx.today)
    if who is None:
        return ctx.page("identify.html", 400, heading=heading, offer=summary, values=values, errors=errors)
    try:
        patient = await journey.identify(session, ctx.link, who, ctx.now)
    except Refused as refused:
        message = ("We could not find you from your NHS number. Enter your mobile number too, so the practice "
                   "can contact you." if refused.reason is Refusal.NEED_MOBILE else
                   "These details do not match the practice's records. Check them, or contact the practice.")
        return ctx.page("identify.html", 400, heading=heading, offer=summary, values=values,
                        errors={"form": message})
    return verified(ctx, patient.id, next_path)


def verified(ctx: Ctx, patient_id: int | None, next_path: str) -> Response:
    """The patient is known: a fresh session (new CSRF token) carries their id from here on."""
    ctx.sess = LinkSession.new(ctx.link.id)
    ctx.sess.patient = patient_id
    return ctx.go(next_path)


