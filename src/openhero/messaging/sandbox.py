"""openhero's sandbox-only messaging routes: what the sandbox provider "sent", and a patient opening an NHS
App message. The app mounts this router in sandbox mode only; elsewhere these paths do not exist (404)
and are absent from the OpenAPI document."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from openhero.core.auth import PrincipalDep, require_scope
from openhero.core.deps import ClockDep, ReadSessionDep, SessionDep
from openhero.core.ids import require_id
from openhero.core.pagination import PageDep, PageParams, from_query, paginate
from openhero.core.routing import ApiRoute
from openhero.core.schemas import ListResponse
from openhero.core.tenancy import owned
from openhero.messaging import service
from openhero.messaging.models import SandboxOutboxEntry
from openhero.messaging.schemas import MessageOut, OutboxEntryOut
from openhero.messaging.serializers import message_out

router = APIRouter(route_class=ApiRoute, dependencies=[Depends(require_scope("messaging"))])
EXT = ["openhero extensions"]


@from_query
async def _outbox_query(
    page: PageDep, message_id: Annotated[str | None, Query()] = None
) -> tuple[PageParams, str | None]:
    return page, message_id


@router.get(
    "/openhero/v1/messaging/outbox",
    operation_id="listSandboxOutbox",
    tags=EXT,
    response_model=ListResponse[OutboxEntryOut],
    summary="openhero: what the sandbox provider 'sent' (newest first).",
    description="Every message delivered by the sandbox provider (and every NHS App / Hero message), "
    "with the outcome the magic recipients trigger. Filter by `message_id`.",
)
async def list_outbox(
    session: ReadSessionDep, principal: PrincipalDep,
    query: Annotated[tuple[PageParams, str | None], Depends(_outbox_query)],
) -> ListResponse[OutboxEntryOut]:
    page, message_id = query
    stmt = owned(SandboxOutboxEntry, principal)
    if message_id:
        stmt = stmt.where(SandboxOutboxEntry.message_id == require_id(message_id, ["message_id"]))
    rows, count = await paginate(session, stmt.order_by(SandboxOutboxEntry.id.desc()), page)
    return ListResponse(data=[OutboxEntryOut.model_validate(r) for r in rows], count=count)


@router.post(
    "/openhero/v1/messages/{id}/open",
    operation_id="openSandboxNhsAppMessage",
    tags=EXT,
    response_model=MessageOut,
    summary="openhero sandbox: the patient opens an NHS App message.",
    description="Sets `opened_at`, which cancels the one-hour fallback. Only delivered nhs_app "
    "messages (409 otherwise).",
)
async def open_message(id: str, session: SessionDep, principal: PrincipalDep, clock: ClockDep) -> MessageOut:
    message = await service.mark_opened(session, principal, id, clock.now())
    _, patient = await service.get_message(session, principal, id)
    return message_out(message, patient)
