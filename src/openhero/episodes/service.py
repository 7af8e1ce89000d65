"""Episode rules: listing, reading, updating status/priority/assignees, notes, and filing tasks.

How tasks reach episodes (openhero): the tasks domain creates tasks without knowing about episodes.
The ``file_new_tasks`` poller puts each new task that has a patient into that patient's latest
episode that is not closed, opening a new episode (titled after the task) when there is none, and
raises the episode's priority to the task's when the task is more urgent. The link lives in
``episode_tasks``; a task belongs to at most one episode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core import audit
from openhero.core.auth import Principal
from openhero.core.errors import ValidationFailed
from openhero.core.pagination import PageParams, paginate
from openhero.core.tenancy import get_owned
from openhero.episodes import repository
from openhero.episodes.models import PRIORITY_RANK, Episode, EpisodeNote
from openhero.practice.models import Admin, AdminTeam

# Tasks older than this when the poller first sees them are left alone (no backfill of history).
FILING_WINDOW = timedelta(days=7)
FILING_BATCH = 500
# Ids below the cursor re-read each poll, for tasks whose transactions committed out of id order.
FILING_LOOKBACK_IDS = 1000

_ASSIGNEE_TYPES = {"admin": "admin", "adminteam": "admin_team", "admin_team": "admin_team",
                   "unassigned": "unassigned"}


def assignee_type(raw: str) -> str | None:
    """``Admin``/``AdminTeam``/``Unassigned`` as in the contract; task spellings accepted too."""
    return _ASSIGNEE_TYPES.get(raw.strip().lower())


@dataclass(frozen=True)
class EpisodeFilter:
    statuses: list[str] = field(default_factory=list)
    priorities: list[str] = field(default_factory=list)
    assignee_ids: list[int] = field(default_factory=list)
    assignee_types: list[str] = field(default_factory=list)  # admin | admin_team | unassigned
    patient_ids: list[int] = field(default_factory=list)
    order_by: list[str] = field(default_factory=lambda: ["created_at"])
    descending: list[bool] = field(default_factory=lambda: [True])


_ORDER_COLUMNS = {"created_at": Episode.created_at, "priority": Episode.priority_rank,
                  "updated_at": Episode.updated_at}


async def list_episodes(session: AsyncSession, principal: Principal, flt: EpisodeFilter,
                        page: PageParams) -> tuple[list[Episode], int]:
    stmt = repository.filtered(principal, statuses=flt.statuses, priorities=flt.priorities,
                               assignee_ids=flt.assignee_ids, assignee_types=flt.assignee_types,
                               patient_ids=flt.patient_ids)
    order = []
    for i, name in enumerate(flt.order_by):
        desc = flt.descending[i] if i < len(flt.descending) else flt.descending[-1]
        col = _ORDER_COLUMNS[name]
        order.append(col.desc() if desc else col.asc())
    first_desc = flt.descending[0]
    if "created_at" not in flt.order_by:  # ties by age, then id: follows the (group, priority, created_at) index
        order.append(Episode.created_at.desc() if first_desc else Episode.created_at.asc())
    order.append(Episode.id.desc() if first_desc else Episode.id.asc())
    return await paginate(session, stmt.order_by(*order), page)


async def get_episode(session: AsyncSession, principal: Principal, episode_id: str | int) -> Episode:
    return await get_owned(session, Episode, episode_id, principal, "Episode")


async def _resolve_assignees(session: AsyncSession, group_id: int, raw: list[dict[str, Any]]
                             ) -> list[tuple[str, int]]:
    wanted: list[tuple[str, int]] = []
    for i, item in enumerate(raw):
        kind = assignee_type(item.get("type") or "")
        if kind is None:
            raise ValidationFailed("assignee type must be Admin, AdminTeam or Unassigned", code="invalid_enum_value",
                                   expected="'Admin' | 'AdminTeam' | 'Unassigned'", path=["assignees", i, "type"])
        if kind == "unassigned":
            continue
        if item.get("id") is None:
            raise ValidationFailed("assignee id is required for Admin and AdminTeam", code="invalid_type",
                                   expected="a numeric id string", path=["assignees", i, "id"])
        model = Admin if kind == "admin" else AdminTeam
        found = (await session.execute(select(model.id).where(
            model.id == int(item["id"]), model.practice_group_id == group_id))).scalar_one_or_none()
        if found is None:
            what = "admin" if kind == "admin" else "admin team"
            raise ValidationFailed(f"No {what} {item['id']} in this practice group", code="invalid_assignee",
                                   expected=f"an {what} of this practice group", path=["assignees", i, "id"])
        if (kind, found) not in wanted:
            wanted.append((kind, found))
    return wanted


async def update_episode(session: AsyncSession, principal: Principal, episode_id: str, changes: dict[str, Any],
                         now: datetime) -> Episode:
    episode = await get_episode(session, principal, episode_id)
    if changes.get("assignees") is not None:
        wanted = await _resolve_assignees(session, principal.practice_group_id, changes["assignees"])
        await repository.replace_assignees(session, episode.id, wanted)
    if changes.get("status") is not None and changes["status"] != episode.status:
        episode.closed_at = now if changes["status"] == "closed" else None
        episode.status = changes["status"]
    if changes.get("priority") is not None:
        episode.priority = changes["priority"]
        episode.priority_rank = PRIORITY_RANK[episode.priority]
    episode.updated_at = now
    await audit.record(session, principal, "episode.updated", "Episode", episode.id,
                       details={k: v for k, v in changes.items() if v is not None}, now=now)
    await session.flush()
    return episode


async def create_note(session: AsyncSession, principal: Principal, *, episode_id: str, description: str,
                      admin_id: str | None, now: datetime) -> tuple[EpisodeNote, Admin | None]:
    episode = await get_episode(session, principal, episode_id)
    admin = None
    if admin_id is not None:
        admin = (await session.execute(select(Admin).where(
            Admin.id == int(admin_id), Admin.practice_group_id == principal.practice_group_id))).scalar_one_or_none()
        if admin is None:
            raise ValidationFailed(f"No admin {admin_id} in this practice group", code="invalid_admin",
                                   expected="an admin of this practice group", path=["admin_id"])
    note = EpisodeNote(practice_group_id=principal.practice_group_id, episode_id=episode.id,
                       admin_id=admin.id if admin else None, description=description, created_at=now)
    session.add(note)
    episode.updated_at = now
    await session.flush()
    await audit.record(session, principal, "episode.note_created", "Episode", episode.id,
                       details={"note_id": note.id}, now=now)
    return note, admin


async def open_episode(session: AsyncSession, *, practice_group_id: int, patient_id: int | None, title: str,
                       priority: str = "medium", episode_type: str = "general", now: datetime) -> Episode:
    episode = Episode(practice_group_id=practice_group_id, patient_id=patient_id, title=title[:200],
                      episode_type=episode_type[:40], status="open", priority=priority,
                      priority_rank=PRIORITY_RANK[priority], created_at=now, updated_at=now)
    session.add(episode)
    await session.flush()
    return episode


async def file_new_tasks(session: AsyncSession, now: datetime, *, postgres: bool,
                         limit: int = FILING_BATCH) -> int:
    """File recent unfiled tasks into their patients' episodes; returns how many were filed."""
    cursor = await repository.filing_cursor(session)
    above = None if cursor is None else max(cursor - FILING_LOOKBACK_IDS, 0)
    tasks = await repository.unfiled_tasks(session, since=now - FILING_WINDOW, above_id=above, limit=limit,
                                           postgres=postgres)
    for task in tasks:
        assert task.patient_id is not None
        episode = await repository.open_episode_for(session, task.practice_group_id, task.patient_id)
        if episode is None:
            episode = await open_episode(session, practice_group_id=task.practice_group_id,
                                         patient_id=task.patient_id, title=task.type_label, priority=task.priority,
                                         episode_type=task.category, now=task.created_at)
        elif PRIORITY_RANK.get(task.priority, 0) > episode.priority_rank:
            episode.priority, episode.priority_rank = task.priority, PRIORITY_RANK[task.priority]
        if task.created_at > episode.updated_at:
            episode.updated_at = task.created_at
        await repository.link_task(session, episode.id, task.id, now)
    # A full batch may leave more behind: stop at its last id. Otherwise everything up to the newest task
    # has been seen (later commits of lower ids are caught by the look-back window).
    last = tasks[-1].id if len(tasks) == limit else await repository.max_task_id(session)
    if last is not None and (cursor is None or last > cursor):
        await repository.advance_filing_cursor(session, last)
    await session.flush()
    return len(tasks)
