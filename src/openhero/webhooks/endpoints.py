"""Webhook subscriptions (Hero's contract) and openhero's delivery log and test-send extensions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from openhero.core.auth import PrincipalDep, authenticate
from openhero.core.deps import ClockDep, ReadSessionDep, SessionDep, SettingsDep
from openhero.core.pagination import PageDep, PageParams, array_filter, from_query
from openhero.core.routing import ApiRoute
from openhero.core.schemas import ListResponse
from openhero.webhooks import schemas, service
from openhero.webhooks.models import DeliveryStatus, Webhook

# Any valid key may manage its practice group's webhooks (no scope needed).
router = APIRouter(route_class=ApiRoute, dependencies=[Depends(authenticate)])
TAG = ["Webhooks"]
EXTENSION_TAG = ["Webhooks (openhero)"]

SIGNING_NOTE = (
    "With a signing_key every delivery carries X-Herohealth-Timestamp (unix seconds) and "
    'X-Herohealth-Signature = lowercase hex HMAC-SHA256(signing_key, "{timestamp}.{raw body}"); '
    "every delivery also carries X-Openhero-Delivery-Id for deduplication (delivery is at least "
    "once). The key is stored encrypted and never returned: signing_key in responses is a hint "
    "('****' + last four characters for keys of 16+ characters, else '****'; null when unsigned)."
)


def webhook_out(hook: Webhook) -> schemas.WebhookOut:
    return schemas.WebhookOut(
        id=hook.id,
        event_type=hook.event_type,
        url=hook.url,
        description=hook.description,
        signing_key=hook.signing_key_hint,
        headers=hook.headers or {},
        created_at=hook.created_at,
        updated_at=hook.updated_at,
    )


def delivery_out(view: service.DeliveryView) -> schemas.DeliveryOut:
    d = view.delivery
    return schemas.DeliveryOut(
        id=d.id,
        webhook_id=d.webhook_id,
        event_id=d.event_id,
        event_type=d.event_type,
        test=d.is_test,
        status=d.status,
        payload=service.payload_of(d),
        attempt_count=d.attempts,
        next_attempt_at=d.next_attempt_at if d.status == DeliveryStatus.PENDING else None,
        retry_until=d.retry_until,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        created_at=d.created_at,
        delivered_at=d.delivered_at,
        attempts=[schemas.AttemptOut.model_validate(a) for a in view.attempts],
    )


@router.post(
    "/v1/webhooks",
    operation_id="createWebhook",
    tags=TAG,
    response_model=schemas.WebhookOut,
    summary="Subscribe a URL to one event type for the calling practice group, optionally HMAC-signed.",
    description="Hero POSTs compact JSON `{object, id, practice_group_id, event}` to url whenever the "
    "subscribed event happens in this practice group. url must be an absolute http(s) URL; outside "
    "sandbox mode one whose host is or resolves to a loopback, private, link-local, metadata or other "
    "non-public address is a 400 (unless OPENHERO_WEBHOOK_ALLOW_PRIVATE=true), checked again before "
    "every send; redirects are not followed; "
    "headers are sent with every delivery (Content-Type, Host, User-Agent and "
    "X-Herohealth-*/X-Openhero-* are reserved → 400). "
    + SIGNING_NOTE
    + " openhero also accepts event_type `form-submission.created` (shown in Hero's AsyncAPI "
    "docs). 2xx within 10 s is success; otherwise retried with capped exponential backoff "
    "and jitter for 24 hours, then marked failed.",
)
async def create_webhook(
    body: schemas.CreateWebhookRequest,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> schemas.WebhookOut:
    return webhook_out(
        await service.create_webhook(session, principal, body, secret_key=settings.secret_key, now=clock.now(),
                                     allow_private=settings.webhook_private_allowed)
    )


@from_query
async def _webhook_list(
    page: PageDep, event_type: Annotated[str | None, Query()] = None
) -> tuple[PageParams, str | None]:
    return page, event_type


@router.get(
    "/v1/webhooks",
    operation_id="listWebhooks",
    tags=TAG,
    response_model=ListResponse[schemas.WebhookOut],
    summary="List the calling practice group's webhook subscriptions, optionally for one event type.",
    description="openhero completes Hero's partial docs: `{data, count}` (count = all matching), oldest "
    "first, paged with page_index/page_size; an unknown event_type is a 400. Deleted "
    "subscriptions are not listed.",
)
async def list_webhooks(
    session: ReadSessionDep,
    principal: PrincipalDep,
    query: Annotated[tuple[PageParams, str | None], Depends(_webhook_list)],
) -> ListResponse[schemas.WebhookOut]:
    page, event_type = query
    rows, count = await service.list_webhooks(session, principal, event_type=event_type, page=page)
    return ListResponse(data=[webhook_out(r) for r in rows], count=count)


@router.get(
    "/v1/webhooks/{id}",
    operation_id="getWebhook",
    tags=TAG,
    response_model=schemas.WebhookOut,
    summary="Fetch one webhook subscription by id.",
    description="openhero: the same Webhook object create returns; another practice group's or a deleted "
    "subscription is a 404.",
)
async def get_webhook(id: str, session: ReadSessionDep, principal: PrincipalDep) -> schemas.WebhookOut:
    return webhook_out(await service.get_webhook(session, principal, id))


@router.patch(
    "/v1/webhooks/{id}",
    operation_id="updateWebhook",
    tags=TAG,
    response_model=schemas.WebhookOut,
    summary="Change an existing webhook subscription (target URL, event, signing key, headers, description).",
    description="openhero: send any subset of the create body; answers with the updated Webhook. "
    'signing_key null or "" stops signing; headers replaces the whole map (null clears '
    "it). Deliveries already queued use the subscription as it is when they are sent.",
)
async def update_webhook(
    id: str,
    body: schemas.UpdateWebhookRequest,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> schemas.WebhookOut:
    return webhook_out(
        await service.update_webhook(session, principal, id, body, secret_key=settings.secret_key, now=clock.now(),
                                     allow_private=settings.webhook_private_allowed)
    )


@router.delete(
    "/v1/webhooks/{id}",
    operation_id="deleteWebhook",
    tags=TAG,
    response_model=schemas.WebhookOut,
    summary="Remove a webhook subscription so no further events are delivered to it.",
    description="openhero: 200 with the removed Webhook. Nothing more is delivered to it, including "
    "deliveries still queued (they are cancelled); its delivery log stays readable at "
    "/v1/webhooks/{id}/deliveries. A second DELETE is a 404.",
)
async def delete_webhook(id: str, session: SessionDep, principal: PrincipalDep, clock: ClockDep) -> schemas.WebhookOut:
    return webhook_out(await service.delete_webhook(session, principal, id, now=clock.now()))


@router.get(
    "/v1/webhooks/{id}/deliveries",
    operation_id="listWebhookDeliveries",
    tags=EXTENSION_TAG,
    response_model=ListResponse[schemas.DeliveryOut],
    summary="openhero extension: what was sent to this subscription, newest first.",
    description="Not part of Hero's API. Each delivery with its payload, state (pending, sending, "
    "delivered, failed, cancelled) and every attempt (status code, latency, error, the first "
    "500 characters of the response). Filter with status (repeatable).",
)
async def list_deliveries(
    id: str,
    session: ReadSessionDep,
    principal: PrincipalDep,
    page: PageDep,
    statuses: Annotated[
        list[str],
        Depends(array_filter("status", documented_name="status", description=" | ".join(DeliveryStatus.ALL))),
    ],
) -> ListResponse[schemas.DeliveryOut]:
    service.check_statuses(statuses)
    views, count = await service.list_deliveries(session, principal, id, statuses=statuses, page=page)
    return ListResponse(data=[delivery_out(v) for v in views], count=count)


@router.post(
    "/v1/webhooks/{id}/test",
    operation_id="testWebhook",
    tags=EXTENSION_TAG,
    response_model=schemas.DeliveryOut,
    summary="openhero extension: send a signed sample of the subscription's event.",
    description="Not part of Hero's API; for testing receivers without staging a booking. Queues a "
    'delivery of `{object, id: "0", practice_group_id, event}` signed like a real one and '
    "marked with `X-Openhero-Test: true`; the worker sends it within moments. Answers with "
    "the queued delivery; follow it at /v1/webhooks/{id}/deliveries.",
)
async def test_webhook(id: str, session: SessionDep, principal: PrincipalDep, clock: ClockDep) -> schemas.DeliveryOut:
    return delivery_out(await service.send_test(session, principal, id, now=clock.now()))
