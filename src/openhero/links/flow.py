"""What every patient link page shares: opening a link (closed links answer with a clear page), the
request's context and session, CSRF checks, proving who the patient is, "Not you?" and ending the session."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core.ids import is_id
from openhero.core.sandbox import sandbox_state, use_group
from openhero.links import journey, views
from openhero.links.journey import Refusal, Refused
from openhero.links.service import LinkState, find_by_code, local_today, state_of
from openhero.links.web import (
    MAX_COOKIE,
    LinkSession,
    PageProblem,
    csrf_ok,
    load_session,
    redirect,
    render,
    save_session,
    session_value,
)
from openhero.patients.models import Patient
from openhero.settings import Settings

# Every problem page a patient can meet: kind -> (status, title, message, next step path, its label).
# A POST that meets one answers 303 to ``{base}/problem?kind=...`` (post/redirect/get).
PROBLEMS: dict[str, tuple[int, str, str, str | None, str | None]] = {
    "expired": (410, "This link has expired", "The time to use this link has passed.", None, None),
    "inactive": (410, "This link is no longer active", "The practice has switched this link off.", None, None),
    "used_up": (410, "This link has already been used", "This link cannot be used again.", None, None),
    "orphaned": (410, "This link is no longer valid", "This link cannot be used any more.", None, None),
    "locked": (403, "This link has been locked",
               "Details were entered incorrectly too many times, so we have locked this link to keep your "
               "information safe.", None, None),
    "identity_locked": (403, "We could not confirm your details",
                        "Details were entered incorrectly too many times, so we cannot check them online. "
                        "Please contact the practice.", None, None),
    "slot_taken": (409, "Sorry, that time has just been taken",
                   "Someone else chose that time a moment before you. Please choose another time.",
                   "/slots", "Choose a time"),
    "hold_expired": (409, "Your time is no longer being held",
                     "We hold a time for {hold} minutes while you finish booking. Please choose a time again.",
                     "/slots", "Choose a time"),
    "not_offered": (404, "That time is not available", "Please choose one of the times shown.",
                    "/slots", "Choose a time"),
    "session_ended": (403, "Your session has ended", "For your security, please start again from the link.",
                      "", "Start again"),
    "cannot_cancel": (409, "This appointment cannot be cancelled online",
                      "It is too close to the appointment time, or it has already started.", None, None),
}
CLOSED_KIND = {LinkState.EXPIRED: "expired", LinkState.INACTIVE: "inactive", LinkState.USED_UP: "used_up",
               LinkState.ORPHANED: "orphaned", LinkState.LOCKED: "locked"}
REFUSAL_KIND = {Refusal.USED_UP: "used_up", Refusal.SLOT_TAKEN: "slot_taken", Refusal.HOLD_EXPIRED: "hold_expired",
                Refusal.NOT_OFFERED: "not_offered", Refusal.IDENTITY_LOCKED: "identity_locked",
                Refusal.LINK_LOCKED: "locked"}


def short_name(patient: Patient) -> str:
    """"Jane S.": enough for the patient to recognise themselves, little for anyone looking over a shoulder."""
    first = (patient.first_name or "").strip()
    last = (patient.last_name or "").strip()
    return f"{first} {last[:1]}.".strip() if last else first


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

    def fail(self, kind: str) -> PageProblem:
        """A known problem: shown at once on a GET, through a redirect to its own page on a POST."""
        status, title, message, next_path, next_label = PROBLEMS[kind]
        return self.problem(status, title, message.format(hold=self.hold_minutes),
                            next_url=None if next_path is None else self.base + next_path, next_label=next_label,
                            see_other=f"{self.base}/problem?kind={kind}")

    def refused(self, reason: Refusal) -> PageProblem:
        return self.fail(REFUSAL_KIND[reason])

    def page(self, template: str, status: int = 200, **context: Any) -> Response:
        if self.sess is None:
            self.sess = LinkSession.new(self.link.id)
        context.setdefault("who", self.sess.who if self.sess.patient else None)
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

    def again(self, path: str, key: str, **flash: Any) -> Response | None:
        """Rejected answers: 303 to the GET page at ``path``, which shows them with their errors (so Back never
        meets "Confirm Form Resubmission"). None when they are too long for the cookie: then the POST answers
        with the page itself."""
        assert self.sess is not None
        self.sess.flash = {"key": key, **flash}
        if len(session_value(self.settings.secret_key, self.now, self.sess)) > MAX_COOKIE:
            self.sess.flash = None
            return None
        return self.go(path)

    def take(self, key: str) -> dict[str, Any] | None:
        """The rejected answers carried for this page, taken off the session."""
        flash = self.sess.flash if self.sess else None
        if flash is None or flash.get("key") != key:
            return None
        assert self.sess is not None
        self.sess.flash = None
        return flash


async def open_link(request: Request, session: AsyncSession, model: type[Any], code: str, settings: Settings,
                    now: datetime, prefix: str, *, require_usable: bool = True) -> Ctx:
    link = await find_by_code(session, model, code)
    if link is None:
        raise PageProblem(404, "This link is not valid", "Check that you copied the whole link from your message.")
    # The link's practice group acts from here on: in sandbox mode its test clock (and faults) apply.
    use_group(link.practice_group_id)
    state_cache = sandbox_state(request.app.state.clock)
    if state_cache is not None:
        await state_cache.refresh()
        now = request.app.state.clock.now()
    ctx = Ctx(link, await journey.practice_of(session, link), now, settings, prefix)
    ctx.sess = load_session(request, settings.secret_key, now, link.id)
    state = state_of(link, ctx.today)
    if require_usable and state is not LinkState.USABLE:
        raise ctx.fail(CLOSED_KIND[state])
    return ctx


def closed_kind(ctx: Ctx) -> str | None:
    """Why the link cannot be used now (a problem kind), or None."""
    state = state_of(ctx.link, ctx.today)
    return None if state is LinkState.USABLE else CLOSED_KIND[state]


def problem_page(ctx: Ctx, kind: str) -> Response:
    """GET ``{base}/problem?kind=...``: where a POST that met a problem sends the browser."""
    if kind not in PROBLEMS:
        raise ctx.problem(404, "Page not found", "Open the link from your message to start again.")
    failure = ctx.fail(kind)
    return ctx.page("problem.html", failure.status, title=failure.title, message=failure.message,
                    next_url=failure.next_url, next_label=failure.next_label)


async def posted(request: Request, ctx: Ctx) -> Any:
    data = await request.form()
    if not csrf_ok(ctx.sess, views.text(data, "csrf_token")):
        raise ctx.fail("session_ended")
    return data


def verified_patient(ctx: Ctx) -> int:
    if ctx.sess is None or ctx.sess.patient is None:
        raise ctx.fail("session_ended")
    return ctx.sess.patient


# --- identity: shared with form links ----------------------------------------------------------------

MISMATCH = ("We could not confirm your details. Check that they are the same as the practice has for you. "
            "If you are new to the practice, give your mobile number too so they can register you.")


def identity_page(ctx: Ctx, heading: str, summary: dict[str, str] | None) -> Response:
    template = "verify_dob.html" if ctx.link.patient_specific else "identify.html"
    return ctx.page(template, heading=heading, offer=summary, errors={}, values={})


def identity_again(ctx: Ctx, heading: str, summary: dict[str, str] | None) -> Response:
    """GET ``{base}/verify``: the identity form with the answers just rejected and why."""
    flash = ctx.take("identity")
    if flash is None:
        return ctx.go("")
    template = "verify_dob.html" if ctx.link.patient_specific else "identify.html"
    return ctx.page(template, 400, heading=heading, offer=summary, values=flash.get("values") or {},
                    errors=flash.get("errors") or {}, extra_check=bool(flash.get("extra_check")))


def answers_flash(values: dict[int, list[str]], errors: dict[int, str]) -> dict[str, Any]:
    return {"values": {str(k): v for k, v in values.items()}, "errors": {str(k): v for k, v in errors.items()}}


def answers_from(flash: dict[str, Any]) -> tuple[dict[int, list[str]], dict[int, str]]:
    """A form's rejected answers back from the session (JSON keys are strings)."""
    def ints(d: Any) -> dict[int, Any]:
        return {int(k): v for k, v in (d or {}).items() if is_id(str(k))}

    return ints(flash.get("values")), ints(flash.get("errors"))


def _refuse_identity(ctx: Ctx, heading: str, summary: dict[str, str] | None, values: dict[str, str],
                     errors: dict[str, str], extra_check: bool = False) -> Response:
    again = ctx.again("/verify", "identity", values=values, errors=errors, extra_check=extra_check)
    if again is not None:
        return again
    template = "verify_dob.html" if ctx.link.patient_specific else "identify.html"
    return ctx.page(template, 400, heading=heading, offer=summary, values=values, errors=errors,
                    extra_check=extra_check)


async def verify_identity(request: Request, session: AsyncSession, ctx: Ctx, heading: str,
                          summary: dict[str, str] | None, next_path: str) -> Response:
    data = await posted(request, ctx)
    assert ctx.sess is not None
    if ctx.link.patient_specific:
        values = {k: views.text(data, k) for k in ("dob-day", "dob-month", "dob-year")}
        dob = views.parse_date_parts(values["dob-day"], values["dob-month"], values["dob-year"])
        if dob is None:
            return _refuse_identity(ctx, heading, summary, values,
                                    {"dob": "Enter your date of birth as a real date, for example 15 3 1984"})
        result = await journey.check_dob(session, ctx.link, dob, ctx.now)
        if result.locked:  # the lock is stored (committed): the link's own page now says so
            return ctx.go("")
        if not result.matched:
            return _refuse_identity(ctx, heading, summary, values, {
                "dob": f"The date of birth does not match our records. You have {result.tries_left} "
                       f"{'try' if result.tries_left == 1 else 'tries'} left."})
        patient = await session.get(Patient, ctx.link.patient_id)
        assert patient is not None  # an orphaned link is not usable
        return verified(ctx, patient, next_path)
    values = {k: views.text(data, k) for k in (*views.IDENTITY_FIELDS, "postcode", "dob-day", "dob-month",
                                               "dob-year")}
    who, errors = views.identity_from_form(data, ctx.today)
    if who is None:
        return _refuse_identity(ctx, heading, summary, values, errors, extra_check="postcode" in data)
    try:
        patient = await journey.identify(session, ctx.link, who, ctx.now, secret=ctx.settings.secret_key)
    except Refused as refused:
        # The failure counts are stored (this transaction commits); locks answer with their own page.
        if refused.reason is Refusal.LINK_LOCKED:
            return ctx.go("")
        if refused.reason is Refusal.IDENTITY_LOCKED:
            return ctx.go("/problem?kind=identity_locked")
        if refused.reason is Refusal.NEED_IDENTITY_CHECK:
            return _refuse_identity(ctx, heading, summary, values, {
                "nhs_number": "We need one more detail to find your record: enter your NHS number or your postcode"},
                extra_check=True)
        return _refuse_identity(ctx, heading, summary, values, {"form": MISMATCH}, extra_check="postcode" in data)
    return verified(ctx, patient, next_path)


def verified(ctx: Ctx, patient: Patient, next_path: str) -> Response:
    """The patient is known: a fresh session (new CSRF token) carries their id from here on."""
    ctx.sess = LinkSession.new(ctx.link.id)
    ctx.sess.patient, ctx.sess.who = patient.id, short_name(patient)
    return ctx.go(next_path)


def end_session(ctx: Ctx, *, done: int | None = None, urgent: bool = False) -> None:
    """After booking or sending, the patient's identity leaves the session (a shared phone reopening the link
    starts again); what was done stays so the confirmation can still be shown."""
    ctx.sess = LinkSession.new(ctx.link.id)
    ctx.sess.done, ctx.sess.urgent = done, urgent


async def not_you(request: Request, session: AsyncSession, ctx: Ctx) -> Response:
    """"Not you?": give up any held time and forget who was verified."""
    await posted(request, ctx)
    assert ctx.sess is not None
    if ctx.sess.patient is not None and ctx.sess.appointment is not None and hasattr(ctx.link, "location_ids"):
        await journey.release_hold(session, ctx.link, ctx.sess.patient, ctx.sess.appointment, ctx.now)
    end_session(ctx)
    return ctx.go("")
