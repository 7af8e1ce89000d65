"""The practice's task inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from openhero.core.db import Base, IdType
from openhero.core.models import IdMixin, TenantMixin, TimestampMixin
from openhero.patients.models import Patient

TASK_STATUSES = ("open", "in_progress", "closed")
TASK_PRIORITIES = ("lowest", "low", "medium", "high", "highest")
PRIORITY_RANK = {name: rank for rank, name in enumerate(TASK_PRIORITIES)}


class Task(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_group_created", "practice_group_id", "created_at", "id"),
        Index("ix_tasks_group_status_created", "practice_group_id", "status", "created_at", "id"),
        Index("ix_tasks_group_priority", "practice_group_id", "priority_rank", "created_at"),
        Index("ix_tasks_group_assignee", "practice_group_id", "assignee_type", "assignee_id"),
    )
    type_label: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="open")
    priority: Mapped[str] = mapped_column(String(16), default="medium")
    # Ordinal of ``priority`` (lowest=0 … highest=4), so sorting by priority uses an index.
    priority_rank: Mapped[int] = mapped_column(default=2)
    details: Mapped[str | None] = mapped_column(Text)
    assignee_type: Mapped[str | None] = mapped_column(String(16))  # admin | admin_team
    assignee_id: Mapped[int | None] = mapped_column(IdType)
    patient_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("patients.id", ondelete="SET NULL"),
                                                   index=True)
    appointment_id: Mapped[int | None] = mapped_column(IdType)
    form_response_id: Mapped[int | None] = mapped_column(IdType)
    message_id: Mapped[int | None] = mapped_column(IdType)
    note: Mapped[str | None] = mapped_column(Text)
    triggered_by: Mapped[dict[str, Any] | None] = mapped_column()
    system_alert_details: Mapped[dict[str, Any] | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()

    patient: Mapped[Patient | None] = relationship(lazy="joined")
