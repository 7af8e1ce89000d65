"""Where a request's CPU goes: py-spy samples one openhero process under wrk and sorts them into buckets.

    .venv/bin/python bench/profile_stack.py [--backend sqlite|postgres] [--route slots|tasks|me|404]
                                            [--duration 10] [--rate 200]

Seeds a 1k-slot practice and 1,000 tasks, serves openhero with uvicorn (one process), drives one route
with wrk and records the event-loop thread with py-spy (`pip install py-spy`; it needs ptrace rights,
root in a container). Each sample is assigned to the first bucket whose marker appears in its stack
(innermost frames win), and the table shows the share of the loop's busy time and the microseconds per
request that share stands for (busy CPU seconds / requests served). The collapsed stacks are kept
(`--keep`) for a flame graph (`flamegraph.pl` or speedscope).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import booking_slots, tasks_list  # noqa: E402
from bench._common import SERVER_PIDS, fresh_database, process_tree_cpu_seconds, server, table, wrk  # noqa: E402
from openhero.core.db import Database  # noqa: E402

# (bucket, markers): the first bucket with a marker in the sample's stack, searched from the innermost frame.
BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    ("rate limiter", ("ratelimit.py", "limits/")),
    ("auth: key lookup, group, token", ("core/auth.py",)),
    ("FastAPI telemetry check", ("telemetry/", "opentelemetry/")),
    ("session / transaction / pool", ("deps.py:get_session", "orm/session.py", "pool/", "engine/base.py:_begin",
                                      "engine/base.py:commit", "engine/base.py:close", "engine/base.py:__init__")),
    ("SQL: compile + execute + rows", ("sqlalchemy/",)),
    ("driver (aiosqlite / asyncpg)", ("aiosqlite/", "asyncpg/")),
    ("serialisation / response validation", ("serialize_response", "jsonable_encoder", "json/encoder",
                                             "pydantic/", "orjson", "responses.py:render", "_slot_dict",
                                             "task_out", "_group_out")),
    ("FastAPI dependency solving + params", ("dependencies/utils.py", "pagination.py", "params.py")),
    ("middleware + routing (Starlette)", ("starlette/", "app.py:__call__", "app.py:send_with_id")),
    ("HTTP server (uvicorn/httptools)", ("uvicorn/", "httptools")),
    ("event loop / asyncio", ("asyncio/", "uvloop")),
]


def bucket_of(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for name, markers in BUCKETS:
            if any(m in frame for m in markers):
                return name
    return "other"


async def seed(url: str) -> dict[str, object]:
    from datetime import UTC, datetime, timedelta

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    db = Database(url)
    try:
        small = await booking_slots.make_practice(db, "Small", locations=2, types=5, practitioners=5)
        await booking_slots.bulk_insert(url, db, small, tomorrow, 7)
    finally:
        await db.dispose()
    (group, key), = await tasks_list.seed(url, [1000])
    return {"small": small, "slots": booking_slots.slots_url(small, tomorrow),
            "tasks": {"x-api-key": key, "x-practice-group-id": str(group)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--route", default="slots", choices=["slots", "tasks", "me", "404"])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--keep", help="write the collapsed stacks here")
    parser.add_argument("--source", help="serve the openhero package in this folder instead (e.g. an older commit's "
                        "src, from `git archive <commit> src | tar -x -C /tmp/before`)")
    args = parser.parse_args()
    with fresh_database(args.backend) as url:
        s = asyncio.run(seed(url))
        small = s["small"]
        path, headers = {"slots": (s["slots"], small.headers),  # type: ignore[attr-defined]
                         "tasks": (tasks_list.QUERY, s["tasks"]),
                         "me": ("/v1/me", small.headers),  # type: ignore[attr-defined]
                         "404": ("/v1/slots/abc", small.headers)}[args.route]  # type: ignore[attr-defined]
        with server("openhero.app:create_app", {"OPENHERO_DATABASE_URL": url}, source=args.source) as base:
            wrk(base + str(path), headers, duration=2)  # type: ignore[arg-type]
            pid = SERVER_PIDS[base]
            out = Path(tempfile.mkdtemp()) / "stacks.txt"
            spy_cmd = [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--rate",
                       str(args.rate), "--duration", str(args.duration + 1), "--format", "raw", "--output", str(out),
                       "--nonblocking"]
            spy = subprocess.Popen(spy_cmd,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            cpu_before = process_tree_cpu_seconds(pid)
            result = wrk(base + str(path), headers, duration=args.duration)  # type: ignore[arg-type]
            cpu = process_tree_cpu_seconds(pid) - cpu_before
            spy.wait()
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    lines = out.read_text().splitlines()
    for line in lines:
        stack, _, n = line.rpartition(" ")
        if "threading.py" in stack.split(";")[0]:
            continue  # the driver's worker thread (aiosqlite) runs beside the loop; the loop is the bottleneck
        counts[bucket_of(stack)] += int(n)
        total += int(n)
    requests = result.requests_per_second * args.duration
    per_request = 1e6 * cpu / requests  # the whole process (loop + driver thread), from /proc
    rows = [[name, f"{100 * n / total:.1f}%", f"{per_request * n / total:.0f}"] for name, n in counts.most_common()]
    print(f"\n{args.backend} {args.route}: {result.requests_per_second:.0f} req/s under wrk -c32; "
          f"{per_request:.0f} µs of process CPU per request, split by the loop thread's samples "
          f"(load average {os.getloadavg()[0]:.1f})")
    print(table(rows, ["bucket", "share", "µs/request"]))
    if args.keep:
        Path(args.keep).write_text("\n".join(lines))


if __name__ == "__main__":
    main()
