"""The sandbox console at ``/sandbox`` (sandbox mode only): see what the patient and the practice see.

Sign in by pasting an API key and a practice group id; the console keeps a signed session in an HttpOnly,
SameSite=Strict cookie scoped to ``/sandbox`` (never in a URL) and checks the key again on every page, so a
revoked key signs the console out. Pages: Messages (every SMS, email and NHS App message as the patient gets
it, links clickable, with its status history), Webhooks (each delivery: event, payload, signature headers,
attempts and answers, with Replay), Tasks (the practice's inbox), Clock and faults. Server-rendered, no
JavaScript; every form posts with a CSRF token and answers with a redirect (post/redirect/get).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core import tokens
from openhero.core.auth import KeyState, key_cache
from openhero.core.clock import Clock
from openhero.core.ids import is_id
from openhero.core.sandbox import FAULTS, SandboxClock, SandboxState, sandbox_state, use_group
from openhero.sandbox import queries

SANDBOX_ONLY = True
router = APIRouter(include_in_schema=False)

COOKIE = "openhero_console"
PURPOSE = "sandbox-console"
SESSION_TTL = timedelta(hours=8)
ADVANCE_CHOICES = ((15 * 60, "15 minutes"), (3600, "1 hour"), (86400, "1 day"), (7 * 86400, "1 week"))
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
_URL = re.compile(r"https?://[^\s<>\"']+")

# The console's own templates first, then the patient pages' (their style sheet is shared).
_HERE = Path(__file__).resolve().parent
env = Environment(loader=FileSystemLoader([_HERE / "templates", _HERE.parent / "links" / "templates"]),
                  autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def linkify(text: str | None) -> Markup:
    """Escape ``text`` and make its http(s) links clickable (a message's booking or form link)."""
    if not text:
        return Markup("")
    out, last = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:)")
        out.append(escape(text[last:match.start()]))
        out.append(Markup('<a href="{0}">{0}</a>').format(url))
        last = match.start() + len(url)
    out.append(escape(text[last:]))
    return Markup("").join(out)


def pretty_json(raw: str) -> str:
    try:
        return json.dumps(json.loads(raw), indent=2, sort_keys=True)
    except ValueError:
        return raw


env.filters["linkify"] = linkify
env.filters["pretty_json"] = pretty_json
env.filters["ts"] = lambda value: value.strftime("%d %b %Y %H:%M:%S UTC") if value else ""


def _render(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(env.get_template(template).render(**context), status_code=status, headers=HEADERS)


def _redirect(url: str, cookie: str | None = None, *, clear: bool = False, secure: bool = False) -> Response:
    response = Response(status_code=303, headers={"Location": url, **HEADERS})
    if cookie is not None:
        response.set_cookie(COOKIE, cookie, max_age=int(SESSION_TTL.total_seconds()), path="/sandbox",
                            httponly=True, samesite="strict", secure=secure)
    if clear:
        response.delete_cookie(COOKIE, path="/sandbox", httponly=True, samesite="strict", secure=secure)
    return response


def _real_now(clock: Clock) -> datetime:
    """Console sessions run on real time: moving a group's sandbox clock must not sign its partner out."""
    return clock.real_now() if isinstance(clock, SandboxClock) else clock.now()


class Console:
    """The signed-in partner: key id, acting group, and the page's CSRF token."""

    def __init__(self, key_id: int, group_id: int, csrf: str) -> None:
        self.key_id, self.group_id, self.csrf = key_id, group_id, csrf


def _csrf(secret: str, cookie: str) -> str:
    return hmac.new(secret.encode(), f"console-csrf:{cookie}".encode(), hashlib.sha256).hexdigest()[:32]


def _secure(request: Request) -> bool:
    return str(request.app.state.settings.public_base_url).startswith("https://")


async def _console(request: Request) -> Console | None:
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    settings, clock = request.app.state.settings, request.app.state.clock
    try:
        claims = tokens.verify(settings.secret_key, cookie, purpose=PURPOSE, now=_real_now(clock))
        key_id, group_id = int(claims["sub"]), int(claims["practice_group_id"])
    except (tokens.TokenError, KeyError, TypeError, ValueError):
        return None
    key = await _key(request, key_id=key_id)
    if key is None or not await _may_act_for(request, key, group_id):
        return None
    use_group(group_id)
    state = sandbox_state(clock)
    if state is not None:
        await state.refresh()
    return Console(key_id, group_id, _csrf(settings.secret_key, cookie))


async def _key(request: Request, *, secret: str | None = None, key_id: int | None = None) -> KeyState | None:
    """The key, through the API's own key cache (a revoke is seen on the next page in this process)."""
    cache = key_cache(request)
    await cache.fresh()
    return await cache.by_secret(secret) if secret is not None else await cache.by_id(key_id or 0)


async def _may_act_for(request: Request, key: KeyState, group_id: int) -> bool:
    """The API's rule: a live key acts for its own group or one in its network."""
    if key.revoked:
        return False
    return key.home_group == group_id or await key_cache(request).same_network(key.home_group, group_id)


async def _posted(request: Request, console: Console | None) -> dict[str, str] | None:
    """The form of a console POST, or None when the session or its CSRF token is missing or wrong."""
    if console is None:
        return None
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    if not hmac.compare_digest(form.get("csrf_token", ""), console.csrf):
        return None
    return form


async def _page(request: Request, console: Console, template: str, **context: Any) -> HTMLResponse:
    async with request.app.state.db.session(write=False) as session:
        group = await queries.group(session, console.group_id)
    return _render(template, console=console, group=group, now=request.app.state.clock.now(),
                   active=template.removesuffix(".html"), **context)


@router.get("/sandbox")
async def home(request: Request) -> Response:
    if await _console(request) is not None:
        return _redirect("/sandbox/messages")
    return _render("signin.html", errors={}, values={})


@router.post("/sandbox/sign-in")
async def sign_in(request: Request) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    raw_key, raw_group = form.get("api_key", "").strip(), form.get("practice_group_id", "").strip()
    errors: dict[str, str] = {}
    if not raw_key:
        errors["api_key"] = "Enter your API key"
    if not is_id(raw_group):
        errors["practice_group_id"] = "Enter the practice group id, a number like 12"
    key = None
    if not errors:
        key = await _key(request, secret=raw_key)
        if key is None or not await _may_act_for(request, key, int(raw_group)):
            errors["api_key"] = "The API key is not valid for that practice group"
    if errors or key is None:
        return _render("signin.html", status=400, errors=errors, values={"practice_group_id": raw_group})
    settings = request.app.state.settings
    cookie = tokens.mint(settings.secret_key, purpose=PURPOSE, now=_real_now(request.app.state.clock),
                         ttl=SESSION_TTL, sub=str(key.key_id),
                         practice_group_id=str(int(raw_group)))
    return _redirect("/sandbox/messages", cookie, secure=_secure(request))


@router.post("/sandbox/sign-out")
async def sign_out(request: Request) -> Response:
    await _posted(request, await _console(request))
    return _redirect("/sandbox", clear=True, secure=_secure(request))


async def _list_page(request: Request, template: str, name: str,
                     query: Callable[[AsyncSession, int], Awaitable[Any]]) -> Response:
    """A console page listing what ``query`` finds for the signed-in group (or the sign-in page)."""
    console = await _console(request)
    if console is None:
        return _redirect("/sandbox")
    async with request.app.state.db.session(write=False) as session:
        rows = await query(session, console.group_id)
    return await _page(request, console, template, **{name: rows})


@router.get("/sandbox/messages")
async def messages_page(request: Request) -> Response:
    return await _list_page(request, "messages.html", "messages", queries.messages)


@router.get("/sandbox/webhooks")
async def webhooks_page(request: Request) -> Response:
    return await _list_page(request, "webhooks.html", "deliveries", queries.deliveries)


@router.post("/sandbox/webhooks/{delivery_id}/replay")
async def replay(request: Request, delivery_id: str) -> Response:
    from openhero.webhooks import service as webhooks

    console = await _console(request)
    if await _posted(request, console) is None or console is None:
        return _redirect("/sandbox")
    if is_id(delivery_id):
        async with request.app.state.db.session(write=True) as session:
            if await queries.delivery_group(session, int(delivery_id)) == console.group_id:
                try:
                    await webhooks.replay(session, int(delivery_id), now=request.app.state.clock.now())
                    await session.commit()
                except Exception:  # in flight or subscription deleted: the page shows the delivery as it is
                    await session.rollback()
    return _redirect("/sandbox/webhooks")


@router.get("/sandbox/tasks")
async def tasks_page(request: Request) -> Response:
    return await _list_page(request, "tasks.html", "tasks", queries.tasks)


def _state(request: Request) -> SandboxState:
    state = sandbox_state(request.app.state.clock)
    assert state is not None  # the console is mounted in sandbox mode only
    return state


@router.get("/sandbox/clock")
async def clock_page(request: Request) -> Response:
    console = await _console(request)
    if console is None:
        return _redirect("/sandbox")
    state = _state(request)
    active = {f["name"]: f for f in state.active_faults(console.group_id)}
    return await _page(request, console, "clock.html", offset=int(state.offset(console.group_id).total_seconds()),
                       choices=ADVANCE_CHOICES, faults=FAULTS, active_faults=active)


@router.post("/sandbox/clock/advance")
async def advance(request: Request) -> Response:
    console = await _console(request)
    form = await _posted(request, console)
    if form is None or console is None:
        return _redirect("/sandbox")
    seconds = form.get("seconds", "")
    if seconds in {str(s) for s, _ in ADVANCE_CHOICES}:
        async with request.app.state.db.session(write=True) as session:
            await _state(request).advance(session, console.group_id, int(seconds))
            await session.commit()
    return _redirect("/sandbox/clock")


@router.post("/sandbox/clock/reset")
async def reset(request: Request) -> Response:
    console = await _console(request)
    if await _posted(request, console) is None or console is None:
        return _redirect("/sandbox")
    async with request.app.state.db.session(write=True) as session:
        await _state(request).reset_clock(session, console.group_id)
        await session.commit()
    return _redirect("/sandbox/clock")


@router.post("/sandbox/faults/{name}")
async def switch_fault(request: Request, name: str) -> Response:
    console = await _console(request)
    form = await _posted(request, console)
    if form is None or console is None:
        return _redirect("/sandbox")
    mode = form.get("mode", "")
    if name in FAULTS:
        async with request.app.state.db.session(write=True) as session:
            if mode == "off":
                await _state(request).clear_fault(session, console.group_id, name)
            elif mode in FAULTS[name]:
                await _state(request).set_fault(session, console.group_id, name, mode, None)
            await session.commit()
    return _redirect("/sandbox/clock")
