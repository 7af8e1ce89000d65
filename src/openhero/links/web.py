"""Plumbing for the patient-facing pages: Jinja2 rendering, a page's database transaction, the signed
per-link session cookie and its CSRF token.

Pages run their own transaction (``PageSessionDep``): committed when the page answers normally, rolled
back when a handler raises ``PageProblem``, which the route class turns into an HTML page (the JSON error
handlers are for partners, not patients).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import ClientDisconnect

from openhero.core.db import Database

TEMPLATES = Path(__file__).resolve().parent / "templates"
SESSION_PURPOSE = "link-session"
SESSION_TTL = timedelta(minutes=30)
COOKIE_NAME = "openhero_link"
MAX_COOKIE = 3800  # browsers keep at least 4096 bytes a cookie, name and attributes included
log = logging.getLogger("openhero.links")

env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                  trim_blocks=True, lstrip_blocks=True)

# The pages' one stylesheet, served as a file (no inline style, so a CSP of 'self' suffices); its URL carries
# a hash of its content so browsers may cache it for good.
STYLESHEET = (TEMPLATES / "style.css").read_bytes()
STYLESHEET_URL = f"/patient-pages/style.css?v={hashlib.sha256(STYLESHEET).hexdigest()[:12]}"

# No scripts, no framing, no third-party anything; the link code must not leak through Referer.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def render(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = env.get_template(template).render(stylesheet=STYLESHEET_URL, **context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def redirect(url: str) -> Response:
    # 303: after a POST the browser fetches the next page with GET (no resubmission on reload).
    return Response(status_code=303, headers={"Location": url, **SECURITY_HEADERS})


class PageProblem(Exception):
    """Stop, undo this request's writes and show the patient what happened.

    ``see_other``: for a POST, the GET page that shows the same problem. The POST then answers 303 there
    (post/redirect/get), so Back and reload never meet the browser's "Confirm Form Resubmission"."""

    def __init__(self, status: int, title: str, message: str, *, next_url: str | None = None,
                 next_label: str | None = None, practice: Any = None, see_other: str | None = None) -> None:
        super().__init__(title)
        self.status, self.title, self.message = status, title, message
        self.next_url, self.next_label, self.practice = next_url, next_label, practice
        self.see_other = see_other


def problem_page(problem: PageProblem) -> HTMLResponse:
    return render("problem.html", problem.status, title=problem.title, message=problem.message,
                  next_url=problem.next_url, next_label=problem.next_label, practice=problem.practice)


class PageRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except PageProblem as problem:
                request.state.page_rollback = True
                if request.method == "POST" and problem.see_other:
                    return redirect(problem.see_other)
                return problem_page(problem)
            except ClientDisconnect:
                # The browser gave up on the request (a double click cancels the first one): nothing to
                # answer and nothing wrong on our side.
                request.state.page_rollback = True
                log.info("client disconnected before sending its form: %s %s", request.method, request.url.path)
                return Response(status_code=400)

        return page_handler


@asynccontextmanager
async def _transaction(request: Request, *, write: bool) -> AsyncIterator[AsyncSession]:
    db: Database = request.app.state.db
    async with db.session(write=write) as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        if getattr(request.state, "page_rollback", False):
            await session.rollback()
        else:
            await session.commit()


async def page_session(request: Request) -> AsyncIterator[AsyncSession]:
    """POSTs write; GETs read (on SQLite a read transaction never waits for the write lock)."""
    async with _transaction(request, write=request.method == "POST") as session:
        yield session


async def counting_session(request: Request) -> AsyncIterator[AsyncSession]:
    """For a GET that also writes (a link's first page counts the opening): on SQLite a transaction that
    reads and then writes must start as a writer (BEGIN IMMEDIATE) or it may fail to upgrade its lock."""
    async with _transaction(request, write=True) as session:
        yield session


PageSessionDep = Annotated[AsyncSession, Depends(page_session, scope="function")]
CountingSessionDep = Annotated[AsyncSession, Depends(counting_session, scope="function")]


# --- the per-link session --------------------------------------------------------------------------

@dataclass
class LinkSession:
    """What the patient has done so far on one link, kept in a signed cookie scoped to the link's path."""

    link: int
    csrf: str
    patient: int | None = None  # set once the date of birth (or identity) is confirmed
    who: str | None = None  # "Jane S.": shown on every step after identity
    appointment: int | None = None  # the reservation being confirmed
    done: int | None = None  # the confirmed appointment or submitted form response
    urgent: bool = False  # the submitted answers call for urgent care advice
    type: int | None = None  # the appointment type chosen, when the link offers several
    # A form's rejected answers and their errors, carried from the POST to the GET that shows them again
    # (post/redirect/get for validation errors too); taken off by that GET.
    flash: dict[str, Any] | None = None

    @classmethod
    def new(cls, link_id: int) -> LinkSession:
        return cls(link=link_id, csrf=secrets.token_urlsafe(24))


# The cookie is signed here rather than with core.tokens: PyJWT checks ``iat`` against the wall clock,
# which refuses tokens minted by an injected clock that runs ahead (the sandbox's and tests' clocks).
def _mac(secret: str, body: str) -> str:
    return hmac.new(f"{SESSION_PURPOSE}:{secret}".encode(), body.encode(), hashlib.sha256).hexdigest()


def _sign(secret: str, claims: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{body}.{_mac(secret, body)}"


def _unsign(secret: str, raw: str, now: datetime) -> dict[str, Any] | None:
    body, _, mac = raw.partition(".")
    if not body or not hmac.compare_digest(mac, _mac(secret, body)):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int) or claims["exp"] <= now.timestamp():
        return None
    return claims


def load_session(request: Request, secret: str, now: datetime, link_id: int) -> LinkSession | None:
    raw = request.cookies.get(COOKIE_NAME)
    claims = _unsign(secret, raw, now) if raw and len(raw) <= MAX_COOKIE else None
    if claims is None or claims.get("link") != link_id:
        return None
    def number(name: str) -> int | None:
        value = claims.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    who, flash = claims.get("who"), claims.get("flash")
    return LinkSession(link=link_id, csrf=str(claims.get("csrf", "")), patient=number("patient"),
                       who=who if isinstance(who, str) else None, appointment=number("appointment"),
                       done=number("done"), urgent=claims.get("urgent") is True, type=number("type"),
                       flash=flash if isinstance(flash, dict) else None)


def session_value(secret: str, now: datetime, sess: LinkSession) -> str:
    return _sign(secret, {**asdict(sess), "exp": int((now + SESSION_TTL).timestamp())})


def save_session(response: Response, secret: str, now: datetime, sess: LinkSession, *, path: str,
                 secure: bool) -> Response:
    value = session_value(secret, now, sess)
    response.set_cookie(COOKIE_NAME, value, max_age=int(SESSION_TTL.total_seconds()), path=path, httponly=True,
                        samesite="lax", secure=secure)
    return response


def csrf_ok(sess: LinkSession | None, submitted: str | None) -> bool:
    return bool(sess and sess.csrf and submitted and hmac.compare_digest(sess.csrf, submitted))
