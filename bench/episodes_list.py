"""GET /v1/episodes, /v2/episodes and /v1/episodes/{id} under load, and the filing poller's throughput.

Seeds one practice group with N episodes (default 50k; 5k patients, two linked tasks each, two thirds
assigned), then drives each query with wrk (page of 20) and prints req/s and p50/p99. Then inserts
fresh tasks and times ``file_new_tasks`` batches (tasks filed per second).

    .venv/bin/python bench/episodes_list.py [--backend sqlite|postgres|both] [--episodes 50000] [--duration 5]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

from bench._common import fresh_database, postgres_answers, server, table, wrk  # noqa: E402
from openhero.core.auth import SCOPES  # noqa: E402
from openhero.core.db import Database  # noqa: E402
from openhero.episodes import service  # noqa: E402
from openhero.episodes.models import PRIORITY_RANK, Episode, EpisodeAssignee, EpisodeFilingCursor, episode_tasks  # noqa: E402
from openhero.patients.models import Patient  # noqa: E402
from openhero.practice.keys import create_key  # noqa: E402
from openhero.practice.models import Admin, PracticeGroup  # noqa: E402
from openhero.tasks.models import Task  # noqa: E402

PRIORITIES = list(PRIORITY_RANK)
STATUSES = ["open", "in_progress", "closed"]


async def _bulk(s, model, rows):  # type: ignore[no-untyped-def]
    for i in range(0, len(rows), 5000):
        await s.execute(insert(model), rows[i:i + 5000])


async def seed(url: str, total: int) -> tuple[int, str, int, int]:
    db = Database(url)
    rng = random.Random(5)
    now = datetime.now(UTC)
    async with db.session() as s:
        group = PracticeGroup(name="Bench Surgery", address={}, created_at=now, updated_at=now)
        s.add(group)
        await s.flush()
        _, raw = await create_key(s, practice_group_id=group.id, scopes=list(SCOPES))
        admins = [Admin(practice_group_id=group.id, first_name=f"Admin{i}", last_name="Bench", email=f"a{i}@x.test",
                        created_at=now, updated_at=now) for i in range(6)]
        s.add_all(admins)
        await s.flush()
        patients = max(total // 10, 1)
        await _bulk(s, Patient, [{"practice_group_id": group.id, "uid": f"00000000-0000-4000-8000-{i:012d}",
                                  "first_name": "Pat", "last_name": f"P{i}", "data_source": "hero",
                                  "status": "unarchived", "created_at": now, "updated_at": now}
                                 for i in range(patients)])
        first_patient = (await s.execute(select(func.min(Patient.id)))).scalar_one()
        episodes = []
        for i in range(total):
            priority = PRIORITIES[rng.randrange(5)]
            created = now - timedelta(minutes=i)
            episodes.append({"practice_group_id": group.id, "patient_id": first_patient + i % patients,
                             "title": "Patient reply", "episode_type": "message", "status": STATUSES[i % 3],
                             "priority": priority, "priority_rank": PRIORITY_RANK[priority],
                             "created_at": created, "updated_at": created})
        await _bulk(s, Episode, episodes)
        first_episode = (await s.execute(select(func.min(Episode.id)))).scalar_one()
        await _bulk(s, EpisodeAssignee, [{"episode_id": first_episode + i, "assignee_type": "admin",
                                          "assignee_id": admins[i % 6].id} for i in range(total) if i % 3])
        tasks = [{"practice_group_id": group.id, "type_label": "Patient reply", "category": "message",
                  "status": "open", "priority": "medium", "priority_rank": 2, "details": "Bench task",
                  "patient_id": first_patient + (i // 2) % patients, "created_at": now - timedelta(days=30),
                  "updated_at": now} for i in range(total * 2)]
        await _bulk(s, Task, tasks)
        first_task = (await s.execute(select(func.min(Task.id)))).scalar_one()
        await _bulk(s, episode_tasks, [{"task_id": first_task + i, "episode_id": first_episode + i // 2,
                                        "linked_at": now} for i in range(total * 2)])
        await s.execute(insert(EpisodeFilingCursor).values(id=1, last_task_id=first_task + total * 2))
        await s.commit()
        await s.execute(text("ANALYZE"))
        await s.commit()
    await db.dispose()
    return group.id, raw, admins[1].id, first_episode + total // 2


async def filing(url: str, group_id: int, count: int) -> tuple[float, float]:
    """Insert ``count`` new tasks for existing patients; time the poller filing them all."""
    db = Database(url)
    now = datetime.now(UTC)
    async with db.session() as s:
        patients = list((await s.execute(select(Patient.id).limit(count // 3 + 1))).scalars())
        await _bulk(s, Task, [{"practice_group_id": group_id, "type_label": "Booked appointment",
                               "category": "appointment", "status": "open", "priority": "low", "priority_rank": 1,
                               "patient_id": patients[i % len(patients)], "created_at": now, "updated_at": now}
                              for i in range(count)])
        await s.commit()
    start, filed, idle = time.perf_counter(), 0, 0.0
    while True:
        async with db.session() as s:
            n = await service.file_new_tasks(s, now, postgres=db.is_postgres)
            await s.commit()
        if n == 0:
            break
        filed += n
    elapsed = time.perf_counter() - start
    t0 = time.perf_counter()
    async with db.session() as s:  # an idle poll: what every poll interval costs when nothing is new
        await service.file_new_tasks(s, now, postgres=db.is_postgres)
        await s.commit()
    idle = (time.perf_counter() - t0) * 1000
    await db.dispose()
    assert filed == count, (filed, count)
    return filed / elapsed, idle


def run(backend: str, total: int, duration: int) -> tuple[list[list[object]], list[object]]:
    rows: list[list[object]] = []
    with fresh_database(backend) as url:
        t0 = time.perf_counter()
        group_id, key, admin_id, one = asyncio.run(seed(url, total))
        print(f"[{backend}] seeded {total:,} episodes in {time.perf_counter() - t0:.0f}s")
        headers = {"x-api-key": key, "x-practice-group-id": str(group_id)}
        paths = [("v1 default (newest first)", "/v1/episodes"),
                 ("v1 status[]=open", "/v1/episodes?status[]=open"),
                 ("v1 assignee_id[] one admin", f"/v1/episodes?assignee_id[]={admin_id}"),
                 ("v1 order_by[]=priority", "/v1/episodes?order_by[]=priority&order_descending[]=true"),
                 ("v1 Unassigned, page 50", "/v1/episodes?assignee_type[]=Unassigned&page_index=50"),
                 ("v2 status[]=open", "/v2/episodes?status[]=open"),
                 ("GET /v1/episodes/{id}", f"/v1/episodes/{one}")]
        with server("openhero.app:create_app", {"OPENHERO_DATABASE_URL": url}) as base:
            for label, path in paths:
                r = httpx.get(base + path, headers=headers)
                assert r.status_code == 200, r.text
                wrk(base + path, headers, duration=1, connections=8)
                res = wrk(base + path, headers, duration=duration, connections=8)
                rows.append([backend, label, res.requests_per_second, res.p50_ms, res.p99_ms,
                             res.non_2xx + res.errors])
        per_second, idle_ms = asyncio.run(filing(url, group_id, 10_000))
    return rows, [backend, "10,000 new tasks", per_second, idle_ms]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--episodes", type=int, default=50_000)
    parser.add_argument("--duration", type=int, default=5)
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if "postgres" in backends and not postgres_answers():
        backends.remove("postgres")
    all_rows, filing_rows = [], []
    for backend in backends:
        rows, filed = run(backend, args.episodes, args.duration)
        all_rows += rows
        filing_rows.append(filed)
    print(f"\nEpisode lists, {args.episodes:,} episodes in one group, page of 20, wrk 8 connections:")
    print(table(all_rows, ["backend", "query", "req/s", "p50 ms", "p99 ms", "errors"]))
    print("\nFiling poller:")
    print(table(filing_rows, ["backend", "load", "tasks filed/s", "idle poll ms"]))


if __name__ == "__main__":
    main()
