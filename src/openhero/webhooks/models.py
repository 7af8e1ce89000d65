"""Webhook subscriptions, the deliveries fanned out from outbox events, and each delivery attempt.

A delivery row is its own durable queue entry: it carries the next attempt time and a lease
(``locked_by``/``locked_until``), so deliveries are claimed in batches straight from this table
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional UPDATE on SQLite) without a second job row
per delivery. The body is frozen at fan-out so every retry sends identical bytes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openhero.core.db import Base, IdType
from openhero.core.models import IdMixin, TenantMixin, TimestampMixin


class DeliveryStatus:
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # claimed by a worker (leased)
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the retry window
    CANCELLED = "cancelled"  # its subscription was deleted before it could be sent

    ALL = (PENDING, SENDING, DELIVERED, FAILED, CANCELLED)


class Webhook(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_group_event", "practice_group_id", "event_type"),)

    event_type: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    # Fernet token of the signing key (key derived from OPENHERO_SECRET_KEY); never returned.
    signing_key_encrypted: Mapped[str | None] = mapped_column(Text)
    # What the API shows instead of the key, e.g. "****c0de".
    signing_key_hint: Mapped[str | None] = mapped_column(String(16))
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Soft delete keeps the delivery history readable; a deleted subscription gets nothing more.
    deleted_at: Mapped[datetime | None] = mapped_column()


class WebhookDelivery(IdMixin, Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id"),  # fan-out is idempotent per (subscription, event)
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_lease", "status", "locked_until"),
        Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
    )

    practice_group_id: Mapped[int] = mapped_column(IdType, ForeignKey("practice_groups.id", ondelete="CASCADE"))
    webhook_id: Mapped[int] = mapped_column(IdType, ForeignKey("webhooks.id", ondelete="CASCADE"))
    # The outbox event (null for sandbox test deliveries). No foreign key: events may be pruned.
    event_id: Mapped[int | None] = mapped_column(IdType)
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    retry_until: Mapped[datetime] = mapped_column()
    locked_by: Mapped[str | None] = mapped_column(String(64))
    locked_until: Mapped[datetime | None] = mapped_column()
    last_status_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    event_created_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class WebhookAttempt(IdMixin, Base):
    __tablename__ = "webhook_delivery_attempts"

    delivery_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column()
    worker_id: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column()
    latency_ms: Mapped[int] = mapped_column()
    status_code: Mapped[int | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    response_snippet: Mapped[str | None] = mapped_column(Text)
