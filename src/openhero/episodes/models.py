"""Episodes: the inbox case around one patient that groups tasks and notes.

Tasks are linked through ``episode_tasks`` (one episode per task), so the tasks domain is untouched.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openhero.core.db import Base, IdType, UTCDateTime
from openhero.core.models import IdMixin, TenantMixin, TimestampMixin, utcnow

EPISODE_STATUSES = ("open", "closed", "in_progress")
EPISODE_PRIORITIES = ("lowest", "low", "medium", "high", "highest")
PRIORITY_RANK = {name: rank for rank, name in enumerate(EPISODE_PRIORITIES)}


class Episode(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "episodes"
    __table_args__ = (
        Index("ix_episodes_group_created", "practice_group_id", "created_at", "id"),
        Index("ix_episodes_group_status_created", "practice_group_id", "status", "created_at"),
        Index("ix_episodes_group_priority", "practice_group_id", "priority_rank", "created_at"),
        Index("ix_episodes_group_patient", "practice_group_id", "patient_id", "status"),
    )
    patient_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("patients.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200), default="")
    episode_type: Mapped[str] = mapped_column(String(40), default="general")
    status: Mapped[str] = mapped_column(String(16), default="open")
    priority: Mapped[str] = mapped_column(String(16), default="medium")
    # Ordinal of ``priority`` (lowest=0 ... highest=4) so sorting by priority is by urgency, not alphabet.
    priority_rank: Mapped[int] = mapped_column(default=2)
    closed_at: Mapped[datetime | None] = mapped_column()


class EpisodeAssignee(IdMixin, Base):
    """An episode may have several assignees (admins and/or admin teams); none means unassigned."""

    __tablename__ = "episode_assignees"
    __table_args__ = (
        UniqueConstraint("episode_id", "assignee_type", "assignee_id"),
        Index("ix_episode_assignees_who", "assignee_type", "assignee_id"),
    )
    episode_id: Mapped[int] = mapped_column(IdType, ForeignKey("episodes.id", ondelete="CASCADE"), index=True)
    assignee_type: Mapped[str] = mapped_column(String(16))  # admin | admin_team
    assignee_id: Mapped[int] = mapped_column(IdType)


# A task belongs to at most one episode: task_id is the primary key.
episode_tasks = Table(
    "episode_tasks",
    Base.metadata,
    Column("task_id", IdType, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("episode_id", IdType, ForeignKey("episodes.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("linked_at", UTCDateTime(), nullable=False, default=utcnow),
)


class EpisodeNote(IdMixin, TenantMixin, Base):
    __tablename__ = "episode_notes"
    episode_id: Mapped[int] = mapped_column(IdType, ForeignKey("episodes.id", ondelete="CASCADE"), index=True)
    admin_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("admins.id", ondelete="SET NULL"))
    description: Mapped[str] = mapped_column(Text)
    archived_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EpisodeFilingCursor(Base):
    """The highest task id the filing poller has looked at (one row, id 1). The poller re-reads a window
    of ids below it, so a task whose transaction commits after a later id's is still filed."""

    __tablename__ = "episode_filing_cursor"
    id: Mapped[int] = mapped_column(primary_key=True)
    last_task_id: Mapped[int] = mapped_column(IdType)
