"""GET /v2/tasks under load: 100k tasks, page of 20, filtered by status, ordered by created_at.

Prints req/s and p50/p99 for openhero and for a minimal FastAPI route returning the same prebuilt page
(the ceiling) in the same run, their ratio, p99 at 1k vs 100k tasks, and the query plan.

    .venv/bin/python bench/tasks_list.py [--backend sqlite|postgres|both] [--tasks 100000] [--duration 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from bench._common import fresh_database, postgres_answers, server, table, wrk  # noqa: E402
from openhero.core.auth import SCOPES  # noqa: E402
from openhero.core.db import Database  # noqa: E402
from openhero.practice.keys import create_key  # noqa: E402
from openhero.practice.models import Admin, PracticeGroup  # noqa: E402
from openhero.tasks.models import PRIORITY_RANK, TASK_PRIORITIES, TASK_STATUSES, Task  # noqa: E402

QUERY = "/v2/tasks?status[]=open&page_size=20&order_by[]=created_at&order_descending[]=true"


async def seed(url: str, sizes: list[int]) -> list[tuple[int, str]]:
    """One practice group per size, each with that many tasks. Returns (group id, raw key) pairs."""
    db = Database(url)
    out = []
    rng = random.Random(7)
    now = datetime.now(UTC)
    async with db.session() as s:
        for size in sizes:
            group = PracticeGroup(name=f"Bench {size}", address={}, created_at=now, updated_at=now)
            s.add(group)
            await s.flush()
            admins = [Admin(practice_group_id=group.id, first_name=f"A{i}", last_name="B", email=f"a{i}@x.test",
                            created_at=now, updated_at=now) for i in range(5)]
            s.add_all(admins)
            await s.flush()
            _, raw = await create_key(s, practice_group_id=group.id, scopes=list(SCOPES))
            rows = []
            for i in range(size):
                priority = TASK_PRIORITIES[rng.randrange(5)]
                created = now - timedelta(minutes=i)
                rows.append({"practice_group_id": group.id, "type_label": "Patient reply", "category": "communication",
                             "status": TASK_STATUSES[rng.randrange(3)], "priority": priority,
                             "priority_rank": PRIORITY_RANK[priority], "details": f"Task {i}",
                             "assignee_type": "admin", "assignee_id": admins[i % 5].id,
                             "created_at": created, "updated_at": created})
                if len(rows) == 5000:
                    await s.execute(insert(Task), rows)
                    rows = []
            if rows:
                await s.execute(insert(Task), rows)
            out.append((group.id, raw))
        await s.commit()
        if not db.is_postgres:
            await s.execute(text("ANALYZE"))
        await s.commit()
    if db.is_postgres:
        # What autovacuum does for a live table: statistics and the visibility map, so counts can be
        # answered from the index alone.
        async with db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("VACUUM ANALYZE tasks")
    await db.dispose()
    return out


async def plan(url: str, group_id: int) -> str:
    db = Database(url)
    sql = ("SELECT * FROM tasks WHERE practice_group_id = :g AND status IN ('open') "
           "ORDER BY created_at DESC, id DESC LIMIT 20")
    prefix = "EXPLAIN " if db.is_postgres else "EXPLAIN QUERY PLAN "
    async with db.session(write=False) as s:
        rows = (await s.execute(text(prefix + sql), {"g": group_id})).all()
    await db.dispose()
    return "\n".join("    " + " ".join(str(c) for c in r) for r in rows)


def run(backend: str, total: int, duration: int, connections: int) -> list[list[object]]:
    rows: list[list[object]] = []
    with fresh_database(backend) as url:
        (small_group, small_key), (big_group, big_key) = asyncio.run(seed(url, [1000, total]))
        print(f"\n[{backend}] query plan for the page query:\n{asyncio.run(plan(url, big_group))}")
        with server("openhero.app:create_app", {"OPENHERO_DATABASE_URL": url}) as base:
            big = {"x-api-key": big_key, "x-practice-group-id": str(big_group)}
            small = {"x-api-key": small_key, "x-practice-group-id": str(small_group)}
            page = httpx.get(base + QUERY, headers=big)
            assert page.status_code == 200 and len(page.json()["data"]) == 20, page.text
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
                json.dump(page.json(), f)
            wrk(base + QUERY, big, duration=2, connections=connections)  # warm-up
            r_big = wrk(base + QUERY, big, duration=duration, connections=connections)
            r_small = wrk(base + QUERY, small, duration=duration, connections=connections)
        with server("bench.ceiling_app:app", {"OPENHERO_CEILING_ITEMS": f.name}, factory=False) as base:
            wrk(base + "/page", duration=2, connections=connections)
            r_ceiling = wrk(base + "/page", duration=duration, connections=connections)
        Path(f.name).unlink()
        rows.append([backend, f"openhero GET /v2/tasks ({total:,} tasks)", r_big.requests_per_second, r_big.p50_ms,
                     r_big.p99_ms, r_big.non_2xx])
        rows.append([backend, "openhero GET /v2/tasks (1,000 tasks)", r_small.requests_per_second, r_small.p50_ms,
                     r_small.p99_ms, r_small.non_2xx])
        rows.append([backend, "ceiling: minimal FastAPI route, same page", r_ceiling.requests_per_second,
                     r_ceiling.p50_ms, r_ceiling.p99_ms, r_ceiling.non_2xx])
        print(f"[{backend}] ratio to ceiling (req/s): {r_big.requests_per_second / r_ceiling.requests_per_second:.2f}; "
              f"p99 {total:,} vs 1k tasks: {r_big.p99_ms / max(r_small.p99_ms, 0.001):.2f}x")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if "postgres" in backends and not postgres_answers():
        print("PostgreSQL does not answer; skipping it")
        backends.remove("postgres")
    rows = []
    for backend in backends:
        rows += run(backend, args.tasks, args.duration, args.connections)
    print("\n" + table(rows, ["db", "route", "req/s", "p50 ms", "p99 ms", "non-2xx"]))


if __name__ == "__main__":
    main()
