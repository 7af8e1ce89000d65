"""What the sandbox console reads: the acting group's messages, webhook deliveries and tasks, newest first."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.messaging.models import Message
from openhero.practice.models import PracticeGroup
from openhero.tasks.models import Task
from openhero.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery

LIMIT = 50


async def messages(session: AsyncSession, group_id: int) -> list[Message]:
    return list((await session.execute(
        select(Message).where(Message.practice_group_id == group_id).order_by(Message.id.desc()).limit(LIMIT)
    )).scalars())


@dataclass
class DeliveryView:
    delivery: WebhookDelivery
    webhook: Webhook | None
    attempts: list[WebhookAttempt]


async def deliveries(session: AsyncSession, group_id: int) -> list[DeliveryView]:
    rows = list((await session.execute(
        select(WebhookDelivery).where(WebhookDelivery.practice_group_id == group_id)
        .order_by(WebhookDelivery.id.desc()).limit(LIMIT)
    )).scalars())
    if not rows:
        return []
    hooks = {h.id: h for h in (await session.execute(
        select(Webhook).where(Webhook.id.in_({d.webhook_id for d in rows})))).scalars()}
    attempts: dict[int, list[WebhookAttempt]] = {}
    for attempt in (await session.execute(
            select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_([d.id for d in rows]))
            .order_by(WebhookAttempt.number))).scalars():
        attempts.setdefault(attempt.delivery_id, []).append(attempt)
    return [DeliveryView(d, hooks.get(d.webhook_id), attempts.get(d.id, [])) for d in rows]


async def delivery_group(session: AsyncSession, delivery_id: int) -> int | None:
    return (await session.execute(
        select(WebhookDelivery.practice_group_id).where(WebhookDelivery.id == delivery_id))).scalar_one_or_none()


async def tasks(session: AsyncSession, group_id: int) -> list[Task]:
    return list((await session.execute(
        select(Task).where(Task.practice_group_id == group_id).order_by(Task.id.desc()).limit(LIMIT)
    )).unique().scalars())


async def group(session: AsyncSession, group_id: int) -> PracticeGroup | None:
    return await session.get(PracticeGroup, group_id)
