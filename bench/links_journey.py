"""Booking links under load: patients booking through the pages over real HTTP.

For each backend: a practice with 20 practitioners and ~8k free slots over two weeks, an appointment type
with a pre-appointment form and one generic booking link. Then, against uvicorn in a subprocess:

1. journeys: N patients (C at a time) each open the link, identify (registering), list times, hold one and
   confirm with the form answered; prints journeys/s and per-step latency;
2. contention: 50 verified patients pick the same time at once (exactly one hold expected);
3. wrk on the time-picking page (GET /l/{code}/slots with a verified session cookie).

    .venv/bin/python bench/links_journey.py [--backend sqlite|postgres|both] [--patients 200] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from bench._common import fresh_database, postgres_answers, server, table, wrk  # noqa: E402
from openhero.booking.models import AppointmentType, Slot, appointment_type_locations  # noqa: E402
from openhero.core.auth import SCOPES  # noqa: E402
from openhero.core.db import Database  # noqa: E402
from openhero.forms.demo import seed_demo_forms  # noqa: E402
from openhero.practice.keys import create_key  # noqa: E402
from openhero.practice.models import Location, PracticeGroup, Practitioner  # noqa: E402

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SLOT = re.compile(r'name="slot_id" value="(\d+)"')
QUESTION = re.compile(r'name="(q\d+)(?:-day)?"')  # a date question's first box names it


async def seed(url: str) -> tuple[str, int, int, int]:
    """Returns (api key, group id, appointment type id, location id)."""
    db = Database(url)
    now = datetime.now(UTC)
    async with db.session() as s:
        group = PracticeGroup(name="Bench Surgery", address={}, phone="0113 000 0000", created_at=now, updated_at=now)
        s.add(group)
        await s.flush()
        location = Location(practice_group_id=group.id, name="Main site", created_at=now, updated_at=now)
        docs = [Practitioner(practice_group_id=group.id, title="Dr", first_name="Bench", last_name=f"P{i}",
                             practitioner_type="GP", created_at=now, updated_at=now) for i in range(20)]
        s.add_all([location, *docs])
        await s.flush()
        forms = await seed_demo_forms(s, group.id, now)
        kind = AppointmentType(practice_group_id=group.id, name="GP appointment", duration=10, in_person=True,
                               form_id=forms[3].id, created_at=now, updated_at=now)  # the blood pressure form
        s.add(kind)
        await s.flush()
        await s.execute(insert(appointment_type_locations), [{"appointment_type_id": kind.id,
                                                              "location_id": location.id}])
        first = (now + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
        rows = [{"practice_group_id": group.id, "practitioner_id": d.id, "location_id": location.id,
                 "appointment_type_id": kind.id, "published": True,
                 "start_time": first + timedelta(days=day, minutes=10 * n),
                 "finish_time": first + timedelta(days=day, minutes=10 * (n + 1))}
                for day in range(10) for d in docs for n in range(40)]
        await s.execute(insert(Slot), rows)
        _, raw = await create_key(s, practice_group_id=group.id, scopes=list(SCOPES))
        await s.commit()
        ids = (raw, group.id, kind.id, location.id)
    await db.dispose()
    return ids


class Timings:
    def __init__(self) -> None:
        self.steps: dict[str, list[float]] = {}

    async def timed(self, step: str, call):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        response = await call
        self.steps.setdefault(step, []).append((time.perf_counter() - started) * 1000)
        return response


def _answers(page: str) -> dict[str, str]:
    names = list(dict.fromkeys(QUESTION.findall(page)))
    # Blood pressure form: systolic, diastolic, date, where
    values = ["128", "82", datetime.now(UTC).date().isoformat(), "At home"]
    return dict(zip(names, values, strict=False))


async def journey(base: str, path: str, n: int, timings: Timings) -> bool:
    async with httpx.AsyncClient(base_url=base, timeout=60) as c:
        page = (await timings.timed("open", c.get(path))).text
        who = {"first_name": f"Pat{n}", "last_name": "Bench", "mobile": f"0770090{n:04d}", "dob-day": "1",
               "dob-month": "2", "dob-year": "1980", "csrf_token": CSRF.search(page).group(1)}  # type: ignore[union-attr]
        await timings.timed("identify", c.post(f"{path}/verify", data=who))
        for attempt in range(5):
            page = (await timings.timed("list times", c.get(f"{path}/slots"))).text
            offered = SLOT.findall(page)
            if not offered:
                return False
            pick = offered[(n * 7 + attempt) % len(offered)]
            held = await timings.timed("hold", c.post(f"{path}/slots", data={
                "slot_id": pick, "csrf_token": CSRF.search(page).group(1)}))  # type: ignore[union-attr]
            if held.headers.get("location", "").endswith("/confirm"):  # a refusal is a 303 to its problem page
                break
        else:
            return False
        page = (await timings.timed("review", c.get(f"{path}/confirm"))).text
        done = await timings.timed("confirm", c.post(f"{path}/confirm", data={
            **_answers(page), "csrf_token": CSRF.search(page).group(1)}))  # type: ignore[union-attr]
        return done.headers.get("location", "").endswith("/confirmed")


async def verified_client(base: str, path: str, n: int) -> tuple[httpx.AsyncClient, str]:
    c = httpx.AsyncClient(base_url=base, timeout=60)
    page = (await c.get(path)).text
    await c.post(f"{path}/verify", data={"first_name": f"Race{n}", "last_name": "Bench", "mobile": f"0770091{n:04d}",
                                         "dob-day": "3", "dob-month": "4", "dob-year": "1970",
                                         "csrf_token": CSRF.search(page).group(1)})  # type: ignore[union-attr]
    page = (await c.get(f"{path}/slots")).text
    return c, CSRF.search(page).group(1)  # type: ignore[union-attr]


async def load(base: str, key: str, group_id: int, type_id: int, location_id: int, backend: str, patients: int,
               concurrency: int) -> tuple[list[list[object]], str, str]:
    """Journeys and the contention race; returns the rows, the link path and a verified session cookie."""
    rows: list[list[object]] = []
    headers = {"x-api-key": key, "x-practice-group-id": str(group_id)}
    async with httpx.AsyncClient(base_url=base, headers=headers) as api:
        link = (await api.post("/v1/booking_links", json={"appointment_type_id": str(type_id),
                                                          "location_id": str(location_id)})).json()
    path = "/l/" + link["short_link"].rsplit("/", 1)[1]

    timings, gate = Timings(), asyncio.Semaphore(concurrency)

    async def one(n: int) -> bool:
        async with gate:
            return await journey(base, path, n, timings)

    started = time.perf_counter()
    outcomes = await asyncio.gather(*(one(n) for n in range(patients)))
    elapsed = time.perf_counter() - started
    rows.append([backend, f"{patients} journeys, {concurrency} at a time", f"{sum(outcomes)} booked",
                 patients / elapsed, "", ""])
    for step, values in timings.steps.items():
        values.sort()
        rows.append([backend, f"  step: {step}", f"{len(values)} requests", "",
                     statistics.median(values), values[max(int(len(values) * 0.99) - 1, 0)]])

    racers = [await verified_client(base, path, n) for n in range(50)]
    page = (await racers[0][0].get(f"{path}/slots")).text
    target = SLOT.findall(page)[0]
    started = time.perf_counter()
    answers = await asyncio.gather(*(c.post(f"{path}/slots", data={"slot_id": target, "csrf_token": t})
                                     for c, t in racers))
    race_ms = (time.perf_counter() - started) * 1000
    codes = [a.headers.get("location", "").rpartition("/")[2] for a in answers]  # confirm | problem?kind=…
    rows.append([backend, "50 patients pick one time at once",
                 f"{codes.count('confirm')} held, {codes.count('problem?kind=slot_taken')} refused", "", race_ms,
                 ""])
    cookie = racers[1][0].cookies.get("openhero_link") or ""
    for c, _ in racers:
        await c.aclose()
    return rows, path, cookie


def run(backend: str, patients: int, concurrency: int, duration: int) -> list[list[object]]:
    with fresh_database(backend) as url:
        key, group_id, type_id, location_id = asyncio.run(seed(url))
        # Every simulated patient comes from 127.0.0.1: lift the per-address page budget (300/minute).
        env = {"OPENHERO_DATABASE_URL": url, "OPENHERO_PUBLIC_BASE_URL": "http://bench",
               "OPENHERO_PAGE_RATE_LIMIT": "100000000/minute"}
        with server("openhero.app:create_app", env) as base:
            rows, path, cookie = asyncio.run(load(base, key, group_id, type_id, location_id, backend, patients,
                                                  concurrency))
            result = wrk(f"{base}{path}/slots", {"Cookie": f"openhero_link={cookie}"}, duration=duration,
                         connections=16)
            rows.append([backend, "wrk GET /l/{code}/slots (30 times a page)", f"non-2xx {result.non_2xx}",
                         result.requests_per_second, result.p50_ms, result.p99_ms])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--duration", type=int, default=8)
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if "postgres" in backends and not postgres_answers():
        backends.remove("postgres")
    rows: list[list[object]] = []
    for backend in backends:
        rows += run(backend, args.patients, args.concurrency, args.duration)
    print(table(rows, ["backend", "what", "outcome", "per second", "p50 ms", "p99 ms"]))


if __name__ == "__main__":
    main()
