"""Booking at scale: GET /v1/slots over 1M slots, reserve+book throughput and 200-way contention.

For each backend: seeds ~1M slots (96 practitioners, 10 locations, 5 appointment types, every weekday for a
year) and a 1k-slot practice with bulk inserts; prints the page query's plan; measures GET /v1/slots
(filtered by location, type and a one-week window, page of 50) with wrk at 1M and at 1k slots, side by side
with a minimal FastAPI route returning the same prebuilt page; then reserve+book throughput and the time for
200 concurrent reserves of one slot (exactly one 200 expected).

    .venv/bin/python bench/booking_slots.py [--backend sqlite|postgres|both] [--duration 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bench._common import fresh_database, postgres_answers, server, table, wrk  # noqa: E402
from openhero.booking import repository  # noqa: E402
from openhero.booking.models import AppointmentType, Slot  # noqa: E402
from openhero.booking.repository import SlotFilter  # noqa: E402
from openhero.core.auth import SCOPES  # noqa: E402
from openhero.core.db import Database  # noqa: E402
from openhero.practice.keys import create_key  # noqa: E402
from openhero.practice.models import Location, PracticeGroup, Practitioner  # noqa: E402

COLUMNS = ("practice_group_id", "practitioner_id", "location_id", "appointment_type_id", "start_time",
           "finish_time", "published")
SESSION_STARTS = [(8, 30 + 10 * k) for k in range(21)] + [(14, 10 * k) for k in range(20)]  # 41 a day


class Practice:
    def __init__(self, group_id: int, key: str, locations: list[int], types: list[int],
                 practitioners: list[int]) -> None:
        self.group_id, self.key, self.locations, self.types, self.practitioners = (
            group_id, key, locations, types, practitioners)

    @property
    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.key, "x-practice-group-id": str(self.group_id)}


async def make_practice(db: Database, name: str, *, locations: int, types: int, practitioners: int) -> Practice:
    now = datetime.now(UTC)
    async with db.session() as s:
        group = PracticeGroup(name=name, address={}, created_at=now, updated_at=now)
        s.add(group)
        await s.flush()
        locs = [Location(practice_group_id=group.id, name=f"Site {i}", created_at=now, updated_at=now)
                for i in range(locations)]
        kinds = [AppointmentType(practice_group_id=group.id, name=f"Type {i}", duration=10, in_person=True,
                                 created_at=now, updated_at=now) for i in range(types)]
        docs = [Practitioner(practice_group_id=group.id, first_name="Dr", last_name=f"P{i}", practitioner_type="GP",
                             created_at=now, updated_at=now) for i in range(practitioners)]
        s.add_all([*locs, *kinds, *docs])
        await s.flush()
        _, raw = await create_key(s, practice_group_id=group.id, scopes=list(SCOPES))
        await s.commit()
        return Practice(group.id, raw, [x.id for x in locs], [x.id for x in kinds], [x.id for x in docs])


def slot_rows(p: Practice, first_day: datetime, days: int, *, as_text: bool = False):  # type: ignore[no-untyped-def]
    """Weekday sessions; each practitioner works at one location and offers one type per session. Times are
    computed once per day (text in SQLAlchemy's SQLite storage format when ``as_text``)."""
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    published = 1 if as_text else True
    for d in range(days):
        day = first_day + timedelta(days=d)
        if day.weekday() >= 5:
            continue
        times = []
        for hour, minute in SESSION_STARTS:
            start = day.replace(hour=hour) + timedelta(minutes=minute)
            finish = start + timedelta(minutes=10)
            times.append((start.strftime(fmt), finish.strftime(fmt)) if as_text else (start, finish))
        for i, doc in enumerate(p.practitioners):
            location = p.locations[i % len(p.locations)]
            for n, (start, finish) in enumerate(times):
                kind = p.types[(i + d + (n >= 21)) % len(p.types)]
                yield (p.group_id, doc, location, kind, start, finish, published)


async def bulk_insert(url: str, db: Database, p: Practice, first_day: datetime, days: int) -> int:
    """Raw driver bulk loads: COPY on PostgreSQL, one executemany transaction on SQLite. The secondary indexes
    are dropped for the load and rebuilt after it (a bulk build beats a million incremental inserts)."""
    if db.is_postgres:
        import asyncpg

        rows = list(slot_rows(p, first_day, days))
        conn = await asyncpg.connect(url.replace("+asyncpg", ""))
        try:
            indexes = await conn.fetch("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'slots' "
                                       "AND indexname LIKE 'ix_%'")
            for ix in indexes:
                await conn.execute(f'DROP INDEX "{ix["indexname"]}"')
            # The rows reference existing parents by construction: skip a million FK trigger checks.
            await conn.execute("SET session_replication_role = replica")
            await conn.copy_records_to_table("slots", records=rows, columns=list(COLUMNS))
            await conn.execute("SET session_replication_role = DEFAULT")
            await conn.execute("SET maintenance_work_mem = '256MB'")
            for ix in indexes:
                await conn.execute(ix["indexdef"])
            await conn.execute("ANALYZE slots")
        finally:
            await conn.close()
        return len(rows)
    con = sqlite3.connect(url.split("///", 1)[1])
    con.execute("PRAGMA cache_size=-262144")
    con.execute("PRAGMA synchronous=OFF")
    indexes = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'slots' "
                          "AND name LIKE 'ix_%'").fetchall()
    before = con.execute("SELECT count(*) FROM slots").fetchone()[0]
    with con:
        for name, _ in indexes:
            con.execute(f'DROP INDEX "{name}"')
        con.executemany(f"INSERT INTO slots ({', '.join(COLUMNS)}) VALUES (?,?,?,?,?,?,?)",
                        slot_rows(p, first_day, days, as_text=True))
        for _, sql in indexes:
            con.execute(sql)
    count = con.execute("SELECT count(*) FROM slots").fetchone()[0] - before
    con.execute("ANALYZE")
    con.close()
    return int(count)


async def query_plan(db: Database, p: Practice, flt: SlotFilter) -> str:
    stmt = repository.page_statement(p.group_id, flt, datetime.now(UTC), limit=50, offset=0)
    compiled = stmt.compile(dialect=db.engine.dialect)
    params = compiled.construct_params()
    values = [params[k] for k in compiled.positiontup or []]
    if db.is_sqlite:
        values = [v.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v
                  for v in values]
    prefix = "EXPLAIN (ANALYZE, BUFFERS OFF, COSTS OFF) " if db.is_postgres else "EXPLAIN QUERY PLAN "
    async with db.engine.connect() as conn:
        rows = (await conn.exec_driver_sql(prefix + compiled.string, tuple(values))).all()
    return "\n".join("    " + " | ".join(str(c) for c in r[-1:]) for r in rows)


def slots_url(p: Practice, start: datetime) -> str:
    return (f"/v1/slots?location_id={p.locations[0]}&appointment_type_id={p.types[0]}"
            f"&start_date={start.date().isoformat()}&end_date={(start + timedelta(days=6)).date().isoformat()}"
            f"&page_size=50")


async def free_slots(db: Database, p: Practice, after: datetime, count: int) -> list[Slot]:
    async with db.session(write=False) as s:
        return list((await s.execute(select(Slot).where(Slot.practice_group_id == p.group_id,
                                                         Slot.start_time > after, Slot.appointment_id.is_(None))
                                     .order_by(Slot.start_time).limit(count))).scalars().all())


def body(slot: Slot) -> dict[str, object]:
    return {"appointment_type_id": str(slot.appointment_type_id), "location_id": str(slot.location_id),
            "practitioner_id": str(slot.practitioner_id), "duration": 10,
            "start_time": slot.start_time.strftime("%Y-%m-%dT%H:%M:%S.000Z")}


async def reserve_and_book(base: str, p: Practice, targets: list[Slot], concurrency: int) -> tuple[float, int]:
    queue = list(targets)
    booked = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal booked
        while queue:
            slot = queue.pop()
            r = await client.post("/v1/appointments", json=body(slot))
            if r.status_code == 200 and (await client.patch(f"/v1/appointments/{r.json()['id']}/book")
                                         ).status_code == 200:
                booked += 1

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=p.headers, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - started, booked


async def contention(base: str, p: Practice, slot: Slot, n: int = 200) -> tuple[float, list[int]]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base, headers=p.headers, limits=limits, timeout=120) as client:
        await client.get("/v1/slots/count")  # open one connection first: measure booking, not the handshake storm
        started = time.perf_counter()
        results = await asyncio.gather(*(client.post("/v1/appointments", json=body(slot)) for _ in range(n)))
        return time.perf_counter() - started, sorted(r.status_code for r in results)


async def prepare(url: str, tomorrow: datetime) -> tuple[Practice, Practice, int, int, str, list[Slot]]:
    """Everything that needs the database before the server starts, in one event loop."""
    db = Database(url)
    try:
        big = await make_practice(db, "Big", locations=10, types=5, practitioners=96)
        small = await make_practice(db, "Small", locations=2, types=5, practitioners=5)
        started = time.perf_counter()
        n_big = await bulk_insert(url, db, big, tomorrow, 365)
        n_small = await bulk_insert(url, db, small, tomorrow, 7)
        print(f"\n[{db.engine.dialect.name}] seeded {n_big:,} + {n_small:,} slots in "
              f"{time.perf_counter() - started:.1f}s")
        window = tomorrow + timedelta(days=30)
        flt = SlotFilter(appointment_type_ids=[big.types[0]], location_ids=[big.locations[0]], start=window,
                         end=window + timedelta(days=7))
        plan = await query_plan(db, big, flt)
        targets = await free_slots(db, big, tomorrow + timedelta(days=60), 241)
        return big, small, n_big, n_small, plan, targets
    finally:
        await db.dispose()


def run(backend: str, duration: int, connections: int) -> tuple[list[list[object]], list[list[object]]]:
    get_rows: list[list[object]] = []
    write_rows: list[list[object]] = []
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    with fresh_database(backend) as url:
        big, small, n_big, n_small, plan, targets = asyncio.run(prepare(url, tomorrow))
        window = tomorrow + timedelta(days=30)
        print(f"[{backend}] plan of the page query (1M slots):\n{plan}")
        big_url, small_url = slots_url(big, window), slots_url(small, tomorrow)
        with server("openhero.app:create_app", {"OPENHERO_DATABASE_URL": url}) as base:
            page = httpx.get(base + big_url, headers=big.headers)
            assert page.status_code == 200 and len(page.json()["data"]) == 50, page.text
            small_page = httpx.get(base + small_url, headers=small.headers).json()
            print(f"[{backend}] matching slots: 1M practice {page.json()['count']}, 1k practice "
                  f"{small_page['count']}")
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
                json.dump(page.json(), f)
            wrk(base + big_url, big.headers, duration=2, connections=connections)  # warm-up
            r_big = wrk(base + big_url, big.headers, duration=duration, connections=connections)
            r_small = wrk(base + small_url, small.headers, duration=duration, connections=connections)
            elapsed, booked = asyncio.run(reserve_and_book(base, big, targets[:-1], concurrency=16))
            c_time, codes = asyncio.run(contention(base, big, targets[-1]))
        with server("bench.ceiling_app:app", {"OPENHERO_CEILING_ITEMS": f.name}, factory=False) as base:
            wrk(base + "/page", duration=2, connections=connections)
            r_ceiling = wrk(base + "/page", duration=duration, connections=connections)
        Path(f.name).unlink()
    for label, r in ((f"openhero GET /v1/slots ({n_big:,} slots)", r_big),
                     (f"openhero GET /v1/slots ({n_small:,} slots)", r_small),
                     ("ceiling: minimal FastAPI route, same page", r_ceiling)):
        get_rows.append([backend, label, r.requests_per_second, r.p50_ms, r.p99_ms, r.non_2xx])
    print(f"[{backend}] ratio to ceiling (req/s): {r_big.requests_per_second / r_ceiling.requests_per_second:.2f}; "
          f"p99 1M vs 1k slots: {r_big.p99_ms / max(r_small.p99_ms, 0.001):.2f}x")
    write_rows.append([backend, "reserve+book, 16 clients", f"{booked}/{len(targets) - 1} booked",
                       f"{booked / elapsed:.1f} bookings/s ({2 * booked / elapsed:.0f} req/s)"])
    other = len(codes) - codes.count(200) - codes.count(409)
    write_rows.append([backend, "200 concurrent reserves of one slot",
                       f"{codes.count(200)}x200, {codes.count(409)}x409, other {other}", f"{c_time:.2f}s"])
    return get_rows, write_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if "postgres" in backends and not postgres_answers():
        print("PostgreSQL does not answer; skipping it")
        backends.remove("postgres")
    gets, writes = [], []
    for backend in backends:
        g, w = run(backend, args.duration, args.connections)
        gets += g
        writes += w
    print("\n" + table(gets, ["db", "route", "req/s", "p50 ms", "p99 ms", "non-2xx"]))
    print("\n" + table(writes, ["db", "workload", "outcome", "rate / time"]))


if __name__ == "__main__":
    main()
