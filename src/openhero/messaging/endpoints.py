"""The Messages operations (and POST /v1/attachment_links); the sandbox-only extensions are in sandbox.py.

Every route needs the ``messaging`` scope (403 without).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from openhero.core.auth import PrincipalDep, require_scope
from openhero.core.deps import ClockDep, ReadSessionDep, SessionDep, SettingsDep
from openhero.core.pagination import PageDep, PageParams, from_query, parse_bool
from openhero.core.routing import ApiRoute
from openhero.core.schemas import ListResponse
from openhero.messaging import attachments, batch, service, short_links
from openhero.messaging.schemas import (
    AutomatedMessageOut,
    BatchMessageListOut,
    BatchMessageOut,
    BatchRecipientOut,
    CreateAttachmentLinkRequest,
    CreateAttachmentLinkResponse,
    CreateBatchMessageRequest,
    MessageOut,
    SendMessageRequest,
    SendMessageResponse,
    TemplateOut,
)
from openhero.messaging.serializers import automated_out, batch_out, message_out, recipient_out, template_out
from openhero.patients.models import Patient

router = APIRouter(route_class=ApiRoute, dependencies=[Depends(require_scope("messaging"))])
TAG = ["Messages"]
StatusQuery = Annotated[str | None, Query(description="Status filter (see the operation description).")]
Paged = tuple[PageParams, str | None]  # a page and one filter's raw value


@from_query
async def _paged_by_status(page: PageDep, status: StatusQuery = None) -> Paged:
    return page, status


@from_query
async def _paged_by_follow_up(page: PageDep, has_follow_up: Annotated[str | None, Query()] = None) -> Paged:
    return page, has_follow_up


@router.post(
    "/v1/messages/send",
    operation_id="sendMessage",
    tags=TAG,
    response_model=SendMessageResponse,
    summary="Queue a message to one Hero patient over a chosen channel, optionally scheduling it, "
    "assigning it and writing it to the GP record.",
    description=(
        "Stores the message and its send job in one transaction and answers at once with status "
        "`queued`; a worker sends it and `GET /v1/messages/{id}` shows `sent`, then `delivered` or "
        "`failed` with `failure_reason`.\n\n"
        "openhero completes the partial contract as follows:\n"
        "- contact: `recipient_contact_detail`, else the patient's mobile (sms), email (email), NHS "
        "number (nhs_app, which always addresses the patient's NHS App), mobile-or-email (hero); none on "
        "record → 400 `missing_contact_detail`. Unknown `patient_id` → 404.\n"
        "- `send_at`: ISO 8601 date-time with Z or an offset; in the future it schedules, otherwise the "
        "message sends now.\n"
        "- `fallback_message_type`/`fallback_contact_detail` apply to `nhs_app` only (ignored "
        "otherwise): unopened one hour after sending (or not delivered) → sent again on the fallback "
        "channel to `fallback_contact_detail` or the record's contact (checked up front: none → 400).\n"
        "- `task_id`, `attachment_uuid` (from POST /v1/attachment_links; its link is appended to the "
        "text), `assignee_type` (`Admin`|`AdminTeam`) + `assignee_id` must name rows of this practice "
        "group (400 otherwise). `short_link_id` names a booking link (else a form link) of this "
        "practice group (400 `invalid_short_link` otherwise); its URL is appended to the text and "
        "getMessage reports `short_link` {id, type booking_link|form_link, status}.\n"
        "- `write_to_record`: SNOMED defaults sms 279991000000102, email/nhs_app/hero 401271004. With "
        "`auto_write_to_record` and the key's `auto_write_to_record` permission the message is filed "
        "to the local EHR once sent; otherwise (flag silently ignored without the permission) the "
        "response carries `auth_token` and `confirm_write_to_record_url` (valid 7 days) and the write "
        "waits until someone opens that URL and approves. Outcomes emit "
        "`write-to-record.succeeded|failed`; a failure also opens a system_alert task.\n"
        "- `submitted_by` is the API key's name; `status` and `message_type` are openhero additions."
    ),
)
async def send_message(
    body: SendMessageRequest, session: SessionDep, principal: PrincipalDep, settings: SettingsDep, clock: ClockDep
) -> SendMessageResponse:
    message, token = await service.send_message(session, principal, body, settings=settings, now=clock.now())
    return SendMessageResponse(
        message_id=message.id,
        content=message.content,
        created_at=message.created_at,
        snomed_code=message.snomed_code,
        write_to_record=message.write_to_record,
        auth_token=token,
        confirm_write_to_record_url=service.confirm_url(settings, message.id, token) if token else None,
        submitted_by=message.submitted_by,
        send_at=message.scheduled_at,
        status=message.status,
        message_type=message.message_type,
    )


@router.get(
    "/v1/messages/{id}",
    operation_id="getMessage",
    tags=TAG,
    response_model=MessageOut,
    summary="Look up a single sent or scheduled message, including its delivery status and write-to-record outcome.",
    description="`status`: queued → sent → delivered | failed (`failure_reason` says why). "
    "`write_to_record.status`: not_requested | awaiting_approval | approved | succeeded | "
    "failed. `sent_by_admin` is null for messages sent through the API. openhero adds "
    "message_type, content, recipient_contact_detail, delivered_at, opened_at (NHS App) and "
    "the fallback links.",
)
async def get_message(
    id: str, session: ReadSessionDep, principal: PrincipalDep, settings: SettingsDep, clock: ClockDep
) -> MessageOut:
    message, patient = await service.get_message(session, principal, id)
    campaign = await batch.get_batch(session, principal, str(message.batch_id)) if message.batch_id else None
    link = None
    if message.short_link_id:
        link = await short_links.resolve(
            session,
            message.practice_group_id,
            message.short_link_id,
            base_url=settings.public_base_url,
            today=clock.now().date(),
        )
    return message_out(message, patient, campaign, link)


@router.post(
    "/v1/batch_message",
    operation_id="createBatchMessage",
    tags=TAG,
    response_model=BatchMessageOut,
    summary="Create a bulk message (one content body, many recipients identified by NHS number and "
    "date of birth) without sending it yet.",
    description="`recipients` is an array of `{nhs_number, dob}` (a single object is accepted as a "
    "batch of one; at most 200,000). `subject` is required for EMAIL. Recipients with a "
    "malformed NHS number or dob are stored as INVALID_PAYLOAD (the batch is still "
    "created); the rest are enriched in the background: the practice's own patient with "
    "that NHS number and dob, otherwise a PDS trace that registers the patient. Not "
    "traced, deceased, identity check needed, dob mismatch or no contact for the channel "
    "→ ENRICHMENT_ERROR (with `error`).",
)
async def create_batch(
    body: CreateBatchMessageRequest, session: SessionDep, principal: PrincipalDep, clock: ClockDep
) -> BatchMessageOut:
    return batch_out(await batch.create_batch(session, principal, body, now=clock.now()))


@router.get(
    "/v1/batch_message",
    operation_id="listBatchMessages",
    tags=TAG,
    response_model=BatchMessageListOut,
    summary="Page through the practice group's batch messages, optionally filtered by status.",
    description="openhero answers the `{data, count}` list envelope every other list uses, newest first. "
    "Hero's docs show a single BatchMessage here, so the page's first batch is also given at the top level "
    "(`id`, `name`, `status`, `channel`, `subject`, `content`; null on an empty page): a client written "
    "against either reading works unchanged. `status` takes a batch status (CREATED, PENDING, SENDING, COMPLETED) or a "
    "recipient status from the docs' enum (ENRICHMENT_ERROR, ENRICHED, INVALID_PAYLOAD, "
    "QUEUED: batches with at least one such recipient).",
)
async def list_batches(
    session: ReadSessionDep, principal: PrincipalDep, query: Annotated[Paged, Depends(_paged_by_status)]
) -> BatchMessageListOut:
    page, status = query
    rows, count = await batch.list_batches(session, principal, status, page)
    return BatchMessageListOut.of([batch_out(b) for b in rows], count)


@router.patch(
    "/v1/batch_message/{id}/send",
    operation_id="sendBatchMessage",
    tags=TAG,
    response_model=BatchMessageOut,
    summary="Start delivery of a previously created batch message.",
    description="CREATED → PENDING; recipients are queued as they are enriched (SENDING), and the "
    "batch is COMPLETED when every recipient has been queued or marked as an error and "
    "every message has been handed to the provider. openhero answers with the batch. "
    "A batch that is not CREATED (already sending or completed) → 409 "
    "`batch_already_sent`.",
)
async def send_batch(id: str, session: SessionDep, principal: PrincipalDep, clock: ClockDep) -> BatchMessageOut:
    return batch_out(await batch.request_send(session, principal, id, now=clock.now()))


@router.get(
    "/v1/batch_message/{id}",
    operation_id="getBatchMessage",
    tags=TAG,
    response_model=BatchMessageOut,
    summary="Fetch one batch message and its current processing status.",
    description="Same shape as the create response; openhero adds recipient_count, created_at, "
    "send_requested_at and completed_at.",
)
async def get_batch(id: str, session: ReadSessionDep, principal: PrincipalDep) -> BatchMessageOut:
    return batch_out(await batch.get_batch(session, principal, id))


@router.get(
    "/v1/batch_message/{id}/recipients",
    operation_id="listBatchMessageRecipients",
    tags=TAG,
    response_model=ListResponse[BatchRecipientOut],
    summary="Page through the recipients of a batch message, optionally filtered by recipient status.",
    description="In submission order. Each recipient (openhero's shape): id, nhs_number (normalised "
    "when valid), dob, status (CREATED, ENRICHMENT_ERROR, ENRICHED, INVALID_PAYLOAD, "
    "QUEUED), error, patient_id, message_id. Another status value → 400.",
)
async def list_recipients(
    id: str, session: ReadSessionDep, principal: PrincipalDep, query: Annotated[Paged, Depends(_paged_by_status)]
) -> ListResponse[BatchRecipientOut]:
    page, status = query
    rows, count = await batch.list_recipients(session, principal, id, status, page)
    return ListResponse(data=[recipient_out(r, m) for r, m in rows], count=count)


@router.get(
    "/v1/batch_message/{id}/messages",
    operation_id="listBatchMessageSends",
    tags=TAG,
    response_model=ListResponse[MessageOut],
    summary="Page through the individual messages generated when a batch message is sent.",
    description="Each item has the GET /v1/messages/{id} shape (campaign = this batch). `status` "
    "filters by delivery status: queued, sent, delivered, failed (any case), or CREATED "
    "(the docs' example: created, not yet sent = queued).",
)
async def list_sends(
    id: str, session: ReadSessionDep, principal: PrincipalDep, query: Annotated[Paged, Depends(_paged_by_status)]
) -> ListResponse[MessageOut]:
    page, status = query
    rows, count = await batch.list_sends(session, principal, id, status, page)
    campaign = await batch.get_batch(session, principal, id)
    ids = {m.patient_id for m in rows if m.patient_id}
    patients = (
        {p.id: p for p in (await session.execute(select(Patient).where(Patient.id.in_(ids)))).scalars()} if ids else {}
    )
    return ListResponse(data=[message_out(m, patients.get(m.patient_id or 0), campaign) for m in rows], count=count)


@router.get(
    "/v1/templates",
    operation_id="listTemplates",
    tags=TAG,
    response_model=ListResponse[TemplateOut],
    summary="List the practice group's message templates, optionally only those that have a follow-up.",
    description="openhero's shape: `{data, count}` of templates (id, name, message_type, subject, "
    "content, has_follow_up, follow_up_template_id, follow_up_after_days, snomed_code), by "
    "name; `has_follow_up=true|false` filters; paged like every list.",
)
async def list_templates(
    session: ReadSessionDep, principal: PrincipalDep, query: Annotated[Paged, Depends(_paged_by_follow_up)]
) -> ListResponse[TemplateOut]:
    page, has_follow_up = query
    flag = None if has_follow_up in (None, "") else parse_bool("has_follow_up", has_follow_up)
    rows, count = await attachments.list_templates(session, principal, flag, page)
    return ListResponse(data=[template_out(t) for t in rows], count=count)


@router.get(
    "/v2/automated_messages/{id}",
    operation_id="getAutomatedMessage",
    tags=TAG,
    response_model=AutomatedMessageOut,
    summary="Fetch one automated (rule-driven) message configuration by its identifier.",
    description="openhero's shape: id, name, trigger (e.g. appointment.booked), message_type, "
    "offset_minutes (relative to the trigger), active, write_to_record and the template.",
)
async def get_automated_message(id: str, session: ReadSessionDep, principal: PrincipalDep) -> AutomatedMessageOut:
    automated, template = await attachments.get_automated_message(session, principal, id)
    return automated_out(automated, template)


@router.post(
    "/v1/attachment_links",
    operation_id="createAttachmentLink",
    tags=["Links"],
    response_model=CreateAttachmentLinkResponse,
    summary="Turn an EHR file or uploaded file data into a patient-shareable attachment link whose "
    "uuid can be attached to a message.",
    description="Exactly one of `ehr_file_id` (an EHR attachment's id or uuid) or `file_data` (base64, "
    "a data: URL is accepted; at most 10 MB) → else 400. `expiry_date` (YYYY-MM-DD, not in "
    "the past) and `maximum_use_count` limit the link; `patient_id` must be this group's "
    "patient (404 otherwise). The link serves the file at `<base>/attachments/<uuid>`.",
)
async def create_attachment_link(
    body: CreateAttachmentLinkRequest,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> CreateAttachmentLinkResponse:
    link = await attachments.create_attachment_link(session, principal, body, now=clock.now())
    return CreateAttachmentLinkResponse(
        attachment_link=service.attachment_url(settings, link), attachment_uuid=link.uuid
    )
