"""Durable work: a job row is written in the same transaction as the change that needs it, and a
worker claims it later. Jobs are claimed with a lease (``locked_until``); a worker that dies mid-job
loses its lease and the job runs again, so handlers must be idempotent (at-least-once)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Index, String, Text, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from openhero.core.db import Base, IdType
from openhero.core.models import IdMixin, utcnow
from openhero.core.wakeup import notify


class JobStatus:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(IdMixin, Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_due", "status", "run_at"),
        Index("ix_jobs_lease", "status", "locked_until"),
    )
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    practice_group_id: Mapped[int | None] = mapped_column(IdType, index=True)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=20)
    locked_until: Mapped[datetime | None] = mapped_column()
    locked_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


async def enqueue(session: AsyncSession, kind: str, payload: dict[str, Any] | None = None, *,
                  run_at: datetime | None = None, practice_group_id: int | None = None,
                  max_attempts: int = 20, now: datetime | None = None) -> Job:
    """Add a job to the caller's transaction (flushed, not committed)."""
    created = now or utcnow()
    job = Job(kind=kind, payload=payload or {}, run_at=run_at or created, practice_group_id=practice_group_id,
              max_attempts=max_attempts, created_at=created)
    session.add(job)
    await session.flush()
    if job.run_at <= created:  # due now: wake a worker at commit (later jobs are found by polling)
        await notify(session)
    return job


async def claim(session: AsyncSession, *, worker_id: str, now: datetime, lease: timedelta, limit: int,
                kinds: list[str] | None = None, postgres: bool,
                group_offsets: dict[int, timedelta] | None = None) -> list[Job]:
    """Claim up to ``limit`` due jobs (queued and due, or running with an expired lease).

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` so concurrent workers never take the same row.
    SQLite: one conditional UPDATE ... RETURNING inside a BEGIN IMMEDIATE transaction (writers are
    serialised, so the update is atomic with respect to other workers).
    """
    queued_due = Job.run_at <= now
    if group_offsets:  # sandbox groups whose clock is ahead: their jobs fall due by their own time
        queued_due = or_(queued_due, *(and_(Job.practice_group_id == group, Job.run_at <= now + offset)
                                       for group, offset in group_offsets.items() if offset > timedelta(0)))
    due = or_(
        and_(Job.status == JobStatus.QUEUED, queued_due),
        and_(Job.status == JobStatus.RUNNING, Job.locked_until < now),
    )
    candidates = select(Job.id).where(due).order_by(Job.run_at).limit(limit)
    if kinds:
        candidates = candidates.where(Job.kind.in_(kinds))
    if postgres:
        candidates = candidates.with_for_update(skip_locked=True)
    stmt = (
        update(Job)
        .where(Job.id.in_(candidates.scalar_subquery()))
        .values(status=JobStatus.RUNNING, locked_by=worker_id, locked_until=now + lease,
                attempts=Job.attempts + 1)
        .returning(Job)
        .execution_options(synchronize_session=False)
    )
    return list((await session.execute(stmt)).scalars().all())


async def finish(session: AsyncSession, job_id: int, worker_id: str, now: datetime) -> None:
    await session.execute(
        update(Job).where(Job.id == job_id, Job.locked_by == worker_id)
        .values(status=JobStatus.DONE, finished_at=now, locked_until=None, last_error=None)
    )


async def finish_many(session: AsyncSession, job_ids: list[int], worker_id: str, now: datetime) -> None:
    """Mark a batch of jobs done in one statement (only those this worker still holds)."""
    if job_ids:
        await session.execute(
            update(Job).where(Job.id.in_(job_ids), Job.locked_by == worker_id)
            .values(status=JobStatus.DONE, finished_at=now, locked_until=None, last_error=None)
            .execution_options(synchronize_session=False)
        )


async def release_many(session: AsyncSession, job_ids: list[int], worker_id: str, now: datetime) -> None:
    """Hand jobs back unfinished (a worker shutting down): due again at once, the attempt not counted."""
    if job_ids:
        await session.execute(
            update(Job).where(Job.id.in_(job_ids), Job.locked_by == worker_id, Job.status == JobStatus.RUNNING)
            .values(status=JobStatus.QUEUED, run_at=now, locked_by=None, locked_until=None,
                    attempts=Job.attempts - 1)
            .execution_options(synchronize_session=False)
        )
        await notify(session)


async def retry_or_fail(session: AsyncSession, job: Job, worker_id: str, now: datetime, error: str,
                        delay: timedelta | None, *, permanent: bool = False) -> str:
    failed = permanent or delay is None or job.attempts >= job.max_attempts
    values: dict[str, Any] = {"last_error": error[:2000], "locked_until": None}
    if failed:
        values.update(status=JobStatus.FAILED, finished_at=now)
    else:
        values.update(status=JobStatus.QUEUED, run_at=now + delay)  # type: ignore[operator]
    await session.execute(update(Job).where(Job.id == job.id, Job.locked_by == worker_id).values(**values))
    return values.get("status", JobStatus.QUEUED)
