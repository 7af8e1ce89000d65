"""Episode queries. Every list query starts from ``owned(Episode, principal)``; the batch loaders take
episode ids that came from such a query, so nothing crosses practice groups."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, and_, case, delete, exists, func, insert, not_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload

from openhero.core.auth import Principal
from openhero.core.tenancy import owned
from openhero.episodes.models import Episode, EpisodeAssignee, EpisodeFilingCursor, EpisodeNote, episode_tasks
from openhero.patients.models import Patient
from openhero.practice.models import Admin, AdminTeam
from openhero.tasks.models import Task

# (api type, assignee id, display name)
AssigneeRow = tuple[str, int, str | None]


def filtered(principal: Principal, *, statuses: Sequence[str], priorities: Sequence[str],
             assignee_ids: Sequence[int], assignee_types: Sequence[str],
             patient_ids: Sequence[int] = ()) -> Select[tuple[Episode]]:
    stmt = owned(Episode, principal)
    if statuses:
        stmt = stmt.where(Episode.status.in_(statuses))
    if priorities:
        stmt = stmt.where(Episode.priority.in_(priorities))
    if patient_ids:
        stmt = stmt.where(Episode.patient_id.in_(patient_ids))
    a = EpisodeAssignee
    typed = [t for t in assignee_types if t != "unassigned"]
    conds = []
    # IN (subquery) rather than a correlated EXISTS: the planner starts from the (type, id) index on
    # the few matching assignments instead of probing once per episode of the group.
    if assignee_ids:
        # Ids name admins unless assignee_type[] says admin_team (as on GET /v2/tasks).
        conds.append(Episode.id.in_(select(a.episode_id).where(a.assignee_type.in_(typed or ["admin"]),
                                                               a.assignee_id.in_(assignee_ids))))
    elif typed:
        conds.append(Episode.id.in_(select(a.episode_id).where(a.assignee_type.in_(typed))))
    if "unassigned" in assignee_types:
        conds.append(not_(exists().where(a.episode_id == Episode.id)))
    if conds:
        stmt = stmt.where(or_(*conds))
    return stmt


async def assignees_of(session: AsyncSession, episode_ids: Sequence[int]) -> dict[int, list[AssigneeRow]]:
    out: dict[int, list[AssigneeRow]] = defaultdict(list)
    if not episode_ids:
        return out
    rows = (await session.execute(
        select(EpisodeAssignee.episode_id, EpisodeAssignee.assignee_type, EpisodeAssignee.assignee_id,
               Admin.first_name, Admin.last_name, AdminTeam.name)
        .outerjoin(Admin, and_(EpisodeAssignee.assignee_type == "admin", Admin.id == EpisodeAssignee.assignee_id))
        .outerjoin(AdminTeam, and_(EpisodeAssignee.assignee_type == "admin_team",
                                   AdminTeam.id == EpisodeAssignee.assignee_id))
        .where(EpisodeAssignee.episode_id.in_(episode_ids))
        .order_by(EpisodeAssignee.id)
    )).all()
    for episode_id, kind, who, first, last, team in rows:
        if kind == "admin":
            name = " ".join(p for p in (first, last) if p) or None
            out[episode_id].append(("Admin", who, name))
        else:
            out[episode_id].append(("AdminTeam", who, team))
    return out


async def tasks_of(session: AsyncSession, episode_ids: Sequence[int]) -> dict[int, list[Task]]:
    out: dict[int, list[Task]] = defaultdict(list)
    if not episode_ids:
        return out
    rows = (await session.execute(
        select(episode_tasks.c.episode_id, Task).join(Task, Task.id == episode_tasks.c.task_id)
        .where(episode_tasks.c.episode_id.in_(episode_ids)).order_by(Task.created_at, Task.id)
        .options(lazyload(Task.patient))  # patients are batch-loaded once with the episodes' own
    )).all()
    for episode_id, task in rows:
        out[episode_id].append(task)
    return out


async def patients_by_id(session: AsyncSession, patient_ids: Sequence[int]) -> dict[int, Patient]:
    ids = sorted({p for p in patient_ids if p is not None})
    if not ids:
        return {}
    rows = (await session.execute(select(Patient).where(Patient.id.in_(ids)))).scalars().all()
    return {p.id: p for p in rows}


async def counts_of(session: AsyncSession, episode_ids: Sequence[int]) -> dict[int, tuple[int, int, int]]:
    """(tasks, open tasks, live notes) per episode."""
    if not episode_ids:
        return {}
    task_rows = (await session.execute(
        select(episode_tasks.c.episode_id, func.count(),
               func.sum(case((Task.status != "closed", 1), else_=0)))
        .join(Task, Task.id == episode_tasks.c.task_id)
        .where(episode_tasks.c.episode_id.in_(episode_ids)).group_by(episode_tasks.c.episode_id)
    )).all()
    note_rows = (await session.execute(
        select(EpisodeNote.episode_id, func.count())
        .where(EpisodeNote.episode_id.in_(episode_ids), EpisodeNote.archived_at.is_(None))
        .group_by(EpisodeNote.episode_id)
    )).all()
    notes = {eid: int(n) for eid, n in note_rows}
    out = {eid: (0, 0, notes.get(eid, 0)) for eid in episode_ids}
    for eid, total, still_open in task_rows:
        out[eid] = (int(total), int(still_open or 0), notes.get(eid, 0))
    return out


async def notes_of(session: AsyncSession, episode_id: int) -> list[tuple[EpisodeNote, Admin | None]]:
    rows = (await session.execute(
        select(EpisodeNote, Admin).outerjoin(Admin, Admin.id == EpisodeNote.admin_id)
        .where(EpisodeNote.episode_id == episode_id, EpisodeNote.archived_at.is_(None))
        .order_by(EpisodeNote.created_at, EpisodeNote.id)
    )).all()
    return [(note, admin) for note, admin in rows]


async def replace_assignees(session: AsyncSession, episode_id: int, assignees: Sequence[tuple[str, int]]) -> None:
    await session.execute(delete(EpisodeAssignee).where(EpisodeAssignee.episode_id == episode_id))
    for kind, who in assignees:
        session.add(EpisodeAssignee(episode_id=episode_id, assignee_type=kind, assignee_id=who))
    await session.flush()


async def link_task(session: AsyncSession, episode_id: int, task_id: int, now: datetime) -> None:
    await session.execute(insert(episode_tasks).values(episode_id=episode_id, task_id=task_id, linked_at=now))


async def filing_cursor(session: AsyncSession) -> int | None:
    return (await session.execute(
        select(EpisodeFilingCursor.last_task_id).where(EpisodeFilingCursor.id == 1))).scalar_one_or_none()


async def advance_filing_cursor(session: AsyncSession, last_task_id: int) -> None:
    dialect = session.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(EpisodeFilingCursor)
    await session.execute(ins.values(id=1, last_task_id=last_task_id).on_conflict_do_nothing())
    # Never moves back (two workers may finish in either order).
    await session.execute(update(EpisodeFilingCursor).where(
        EpisodeFilingCursor.id == 1, EpisodeFilingCursor.last_task_id < last_task_id).values(
        last_task_id=last_task_id))


async def max_task_id(session: AsyncSession) -> int | None:
    return (await session.execute(select(func.max(Task.id)))).scalar_one_or_none()


async def unfiled_tasks(session: AsyncSession, *, since: datetime, above_id: int | None, limit: int,
                        postgres: bool) -> list[Task]:
    """Recent tasks with a patient that no episode holds yet (oldest first). ``above_id`` bounds the scan
    to an id range (the primary key), so each poll reads a few rows, not the whole tasks table."""
    stmt = (select(Task).outerjoin(episode_tasks, episode_tasks.c.task_id == Task.id)
            .where(episode_tasks.c.task_id.is_(None), Task.patient_id.is_not(None), Task.created_at >= since)
            .order_by(Task.id).limit(limit).options(lazyload(Task.patient)))
    if above_id is not None:
        stmt = stmt.where(Task.id > above_id)
    if postgres:  # two workers never file the same task
        stmt = stmt.with_for_update(of=Task, skip_locked=True)
    return list((await session.execute(stmt)).unique().scalars().all())


async def open_episode_for(session: AsyncSession, practice_group_id: int, patient_id: int) -> Episode | None:
    return (await session.execute(
        select(Episode).where(Episode.practice_group_id == practice_group_id, Episode.patient_id == patient_id,
                              Episode.status != "closed")
        .order_by(Episode.created_at.desc(), Episode.id.desc()).limit(1)
    )).scalar_one_or_none()
