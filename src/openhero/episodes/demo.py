"""Demo episodes for a practice group: a few patients' inbox cases with their tasks, assignees and notes.

Uses the group's existing patients, admins and admin teams (seed patients first). Safe to call again:
does nothing when the group already has episodes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.episodes import repository
from openhero.episodes.models import PRIORITY_RANK, Episode, EpisodeAssignee, EpisodeNote
from openhero.patients.models import Patient
from openhero.practice.models import Admin, AdminTeam
from openhero.tasks.service import create_task

# title, type, status, priority, assignee ("admin"/"team"/None), hours ago, tasks, notes
DEMO_EPISODES: list[dict[str, Any]] = [
    {"title": "Repeat prescription request", "type": "prescription", "status": "open", "priority": "medium",
     "assignee": "team", "hours_ago": 3,
     "tasks": [("Repeat prescription request", "prescription", "Ramipril 5mg capsules, 28 days", "medium")],
     "notes": ["Medication review due next month; issued 28 days only."]},
    {"title": "Blood test results to review", "type": "results", "status": "in_progress", "priority": "high",
     "assignee": "admin", "hours_ago": 26,
     "tasks": [("Results received", "results", "HbA1c 58 mmol/mol (raised)", "high"),
               ("Patient reply", "message", "Can I discuss my results by phone?", "medium")],
     "notes": ["GP asked for a telephone appointment this week.", "Left voicemail, will try again tomorrow."]},
    {"title": "Booked appointment", "type": "appointment", "status": "open", "priority": "low", "assignee": None,
     "hours_ago": 5, "tasks": [("Booked appointment", "appointment", "Asthma review booked online", "low")],
     "notes": []},
    {"title": "Fit note request", "type": "form", "status": "closed", "priority": "medium", "assignee": "admin",
     "hours_ago": 72, "tasks": [("Form submission", "form", "Fit note extension: back pain", "medium")],
     "notes": ["Fit note issued for 2 weeks and sent to the NHS App."]},
    {"title": "Care navigation: chest pain", "type": "form", "status": "open", "priority": "highest",
     "assignee": "admin", "hours_ago": 1,
     "tasks": [("Care navigation", "form", "Red flag answered: chest pain on exertion", "highest")],
     "notes": ["Called patient: advised 999 if pain returns; duty GP call-back booked."]},
]


async def seed_demo_episodes(session: AsyncSession, practice_group_id: int, now: datetime) -> list[Episode]:
    existing = (await session.execute(select(func.count()).select_from(Episode).where(
        Episode.practice_group_id == practice_group_id))).scalar_one()
    if existing:
        return []
    patients = list((await session.execute(select(Patient).where(Patient.practice_group_id == practice_group_id)
                                            .order_by(Patient.id).limit(len(DEMO_EPISODES)))).scalars())
    admin = (await session.execute(select(Admin).where(Admin.practice_group_id == practice_group_id)
                                   .order_by(Admin.id).limit(1))).scalar_one_or_none()
    team = (await session.execute(select(AdminTeam).where(AdminTeam.practice_group_id == practice_group_id)
                                  .order_by(AdminTeam.id).limit(1))).scalar_one_or_none()
    episodes = []
    for spec, patient in zip(DEMO_EPISODES, patients, strict=False):
        opened = now - timedelta(hours=spec["hours_ago"])
        episode = Episode(practice_group_id=practice_group_id, patient_id=patient.id, title=spec["title"],
                          episode_type=spec["type"], status=spec["status"], priority=spec["priority"],
                          priority_rank=PRIORITY_RANK[spec["priority"]], created_at=opened, updated_at=opened,
                          closed_at=now - timedelta(hours=1) if spec["status"] == "closed" else None)
        session.add(episode)
        await session.flush()
        who = {"admin": ("admin", admin), "team": ("admin_team", team)}.get(spec["assignee"] or "")
        if who and who[1] is not None:
            session.add(EpisodeAssignee(episode_id=episode.id, assignee_type=who[0], assignee_id=who[1].id))
        for i, (label, category, details, priority) in enumerate(spec["tasks"]):
            task = await create_task(session, practice_group_id=practice_group_id, type_label=label,
                                     category=category, patient_id=patient.id, priority=priority, details=details,
                                     now=opened + timedelta(minutes=10 * i))
            await repository.link_task(session, episode.id, task.id, now)
        for i, text in enumerate(spec["notes"]):
            session.add(EpisodeNote(practice_group_id=practice_group_id, episode_id=episode.id,
                                    admin_id=admin.id if admin else None, description=text,
                                    created_at=opened + timedelta(minutes=30 * (i + 1))))
        episodes.append(episode)
    await session.flush()
    return episodes
