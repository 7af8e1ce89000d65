"""Reserve+book throughput of several openhero source trees side by side, interleaved round by round.

    .venv/bin/python bench/writes_compare.py sqlite|postgres NAME=DIR [NAME=DIR ...] [--rounds 3] [--bookings 150]

Each NAME=DIR serves the openhero package found in DIR (``git archive <commit> src | tar -x -C /tmp/x`` then
``x=/tmp/x/src``; ``current=`` with an empty DIR serves this checkout) on one shared, freshly seeded database
(96 practitioners, 30 days of slots). Every round runs 16 clients reserving and booking ``--bookings`` slots
against each server in turn, alternating the order; it prints bookings/s and the server's CPU per booking.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import booking_slots  # noqa: E402
from bench._common import SERVER_PIDS, fresh_database, process_tree_cpu_seconds, server  # noqa: E402
from openhero.core.db import Database  # noqa: E402


async def prepare(url: str, count: int) -> tuple[booking_slots.Practice, list]:  # type: ignore[type-arg]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    db = Database(url)
    try:
        big = await booking_slots.make_practice(db, "Writes", locations=10, types=5, practitioners=96)
        await booking_slots.bulk_insert(url, db, big, tomorrow, 30)
        return big, await booking_slots.free_slots(db, big, tomorrow + timedelta(days=3), count)
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("backend", choices=["sqlite", "postgres"])
    parser.add_argument("sources", nargs="+", help="NAME=DIR (empty DIR: this checkout)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bookings", type=int, default=150)
    args = parser.parse_args()
    sources = dict(s.split("=", 1) for s in args.sources)
    with fresh_database(args.backend) as url, ExitStack() as stack:
        big, targets = asyncio.run(prepare(url, args.bookings * len(sources) * args.rounds + len(sources)))
        bases = {name: stack.enter_context(server("openhero.app:create_app", {"OPENHERO_DATABASE_URL": url},
                                                  source=src or None)) for name, src in sources.items()}
        for base in bases.values():  # warm each server (connections, prepared statements)
            asyncio.run(booking_slots.reserve_and_book(base, big, [targets.pop()], 1))
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in sources}
        for rnd in range(args.rounds):
            for name in (list(sources) if rnd % 2 == 0 else list(sources)[::-1]):
                mine = [targets.pop() for _ in range(args.bookings)]
                pid = SERVER_PIDS[bases[name]]
                before = process_tree_cpu_seconds(pid)
                elapsed, booked = asyncio.run(booking_slots.reserve_and_book(bases[name], big, mine, 16))
                cpu = process_tree_cpu_seconds(pid) - before
                results[name].append((booked / elapsed, 1e6 * cpu / max(booked, 1)))
    for name, rows in results.items():
        print(f"{args.backend} {name}: bookings/s " + ", ".join(f"{r:.1f}" for r, _ in rows)
              + "; CPU µs per booking " + ", ".join(f"{c:,.0f}" for _, c in rows))


if __name__ == "__main__":
    main()
