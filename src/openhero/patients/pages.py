"""The page behind register_pds's ``login_url`` (identity check), so the link never dead-ends.

openhero does not host NHS login: in production a partner sends the patient through NHS login
and then calls register_pds again. This page says exactly that.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Verify your identity</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: Arial, sans-serif; max-width: 40em; margin: 2em auto; line-height: 1.5">
<h1>Verify your identity</h1>
<p>Your GP practice needs to confirm who you are before it can register you for online services.</p>
<p>In a live service this is where you would sign in with <strong>NHS login</strong>. This openhero
server does not connect to NHS login, so there is nothing to do here: the practice's software will
ask again once your identity has been confirmed.</p>
<p style="color:#505a5f">Reference: {ref}</p>
</body></html>"""


@router.get("/verify/{ref}", response_class=HTMLResponse)
async def verify_identity(ref: str) -> HTMLResponse:
    safe = "".join(ch for ch in ref if ch.isalnum())[:64]
    return HTMLResponse(_PAGE.replace("{ref}", safe))
