"""Builders for episodes: ``make_episode(db, group_id, **overrides)`` and links to tasks and assignees."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert

from openhero.core.db import Database
from openhero.episodes.models import PRIORITY_RANK, Episode, EpisodeAssignee, episode_tasks
from tests.builders import make_row


async def make_episode(db: Database, group_id: int, *, assignees: list[tuple[str, int]] = (),  # type: ignore[assignment]
                       task_ids: list[int] = (), **overrides: Any) -> Episode:  # type: ignore[assignment]
    values: dict[str, Any] = {"practice_group_id": group_id, "title": "Repeat prescription", "status": "open",
                              "priority": "medium"}
    values.update(overrides)
    values["priority_rank"] = PRIORITY_RANK[values["priority"]]
    episode = await make_row(db, Episode, **values)
    async with db.session() as session:
        for kind, who in assignees:
            session.add(EpisodeAssignee(episode_id=episode.id, assignee_type=kind, assignee_id=who))
        for task_id in task_ids:
            await session.execute(insert(episode_tasks).values(episode_id=episode.id, task_id=task_id,
                                                               linked_at=datetime.now(UTC)))
        await session.commit()
    return episode
