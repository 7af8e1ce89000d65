"""Pages opened from links rather than called by partners: approving a write-to-record (the
``confirm_write_to_record_url`` of a send response) and downloading an attachment link."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import HTMLResponse, Response

from openhero.core import tokens
from openhero.core.deps import ClockDep, ReadSessionDep, SessionDep, SettingsDep
from openhero.core.errors import NotFound, Unauthorised
from openhero.core.ratelimit import limit_by_client
from openhero.messaging import attachments, service

router = APIRouter(include_in_schema=False, dependencies=[Depends(limit_by_client)])

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto">{body}</body></html>"""


@router.get("/messages/{id}/confirm_write_to_record", response_class=HTMLResponse)
async def confirm_page(
    id: str, settings: SettingsDep, clock: ClockDep, auth_token: Annotated[str, Query()] = ""
) -> HTMLResponse:
    """Shows the approval form; the write happens only on POST (a GET must not change anything)."""
    try:
        tokens.verify(settings.secret_key, auth_token, purpose=service.WTR_TOKEN_PURPOSE, now=clock.now())
    except tokens.TokenError:
        raise Unauthorised(
            "This approval link is invalid or has expired", expected="a valid auth_token", path=["auth_token"]
        ) from None
    body = (
        f"<h1>Write message {escape(id)} to the patient's record?</h1>"
        f"<form method='post'><input type='hidden' name='auth_token' value='{escape(auth_token)}'>"
        "<button type='submit'>Approve and file to record</button></form>"
    )
    return HTMLResponse(_PAGE.format(title="Approve write to record", body=body))


@router.post("/messages/{id}/confirm_write_to_record")
async def confirm(
    id: str,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    auth_token: Annotated[str | None, Form()] = None,
    token_query: Annotated[str | None, Query(alias="auth_token")] = None,
) -> dict[str, str]:
    """Approve: form field or query parameter ``auth_token``. Answers the write-to-record status."""
    message = await service.confirm_write_to_record(
        session, id, auth_token or token_query or "", settings=settings, now=clock.now()
    )
    return {"message_id": str(message.id), "write_to_record_status": message.wtr_status}


@router.get("/attachments/{uuid}")
async def download(uuid: str, session: ReadSessionDep, clock: ClockDep) -> Response:
    """The file: inline only when its bytes are PDF, PNG or JPEG, otherwise a download; always nosniff
    and a sandboxing CSP (see ``attachments.served_file``)."""
    link = await attachments.open_attachment(session, uuid, today=clock.now().date())
    if link is None:
        raise NotFound("Attachment link", path=["uuid"])
    if link.data is None:
        text = f"{attachments.safe_file_name(link.file_name)} is held in your GP record; ask the practice for a copy."
        return Response(text, media_type="text/plain", headers=attachments.FILE_HEADERS)
    media_type, headers = attachments.served_file(link)
    return Response(link.data, media_type=media_type, headers=headers)
