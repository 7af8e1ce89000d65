"""GET /v3/patients under load with 100k patients in one practice group: p50/p99 per filter kind.

Each filter is served by an index (NHS number: the unique (group, nhs_number); names: expression
indexes on (group, lower(last_name), lower(first_name)); dob: (group, dob); EHR id:
(group, ehr_partner_id)). The query plans are printed so that is visible, not assumed.

    .venv/bin/python bench/patients_search.py [--backend sqlite|postgres|both] [--patients 100000] [--duration 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import nhs_number  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from bench._common import fresh_database, postgres_answers, server, table, wrk  # noqa: E402
from openhero.core.auth import SCOPES  # noqa: E402
from openhero.core.db import Database  # noqa: E402
from openhero.patients.models import Patient  # noqa: E402
from openhero.practice.keys import create_key  # noqa: E402
from openhero.practice.models import PracticeGroup  # noqa: E402

SURNAMES = ("Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans Walker White "
            "Roberts Green Hall Wood Jackson Clarke Hussain Khan Ali Ahmed Patel Begum Shah Holroyd Sutcliffe "
            "Firth Greenwood Metcalfe Crowther Atkinson Whitaker Wainwright Lister Dawson Hebden Ellis Okafor "
            "Kowalski Brennan Akhtar Sharma Murphy Kelly Harris Martin Cooper").split()
FORENAMES = ("Oliver George Harry Jack Jacob Noah Charlie Muhammad Thomas Oscar William James Henry Leo Alfie "
             "Olivia Amelia Isla Ava Emily Sophia Grace Mia Poppy Ella Lily Evie Isabella Sophie Freya Margaret "
             "Susan Helen Patricia Aisha Priya Imran Samuel Daniel Chloe Catherine Peter Jane Rachel Albert "
             "Mohammed Emma Lucy Ruby Jessica").split()


def valid_numbers(count: int) -> list[str]:
    out, base = [], 600_000_000
    while len(out) < count:
        digits = f"{base:09d}"
        check = nhs_number.calculate_checksum(digits)
        if check is not None and check < 10:
            out.append(digits + str(check))
        base += 1
    return out


async def seed(url: str, total: int) -> tuple[int, str, dict[str, str]]:
    """One practice group with ``total`` patients; returns its id, a key and sample values to search."""
    db = Database(url)
    rng = random.Random(11)
    now = datetime.now(UTC)
    numbers = valid_numbers(total)
    async with db.session() as s:
        group = PracticeGroup(name="Bench Surgery", address={}, created_at=now, updated_at=now)
        s.add(group)
        await s.flush()
        _, raw = await create_key(s, practice_group_id=group.id, scopes=list(SCOPES))
        rows, sample = [], {}
        for i in range(total):
            dob = date(1930, 1, 1) + timedelta(days=rng.randrange(90 * 365))
            row = {"practice_group_id": group.id, "uid": f"00000000-0000-4000-8000-{i:012d}",
                   "nhs_number": numbers[i], "first_name": rng.choice(FORENAMES), "last_name": rng.choice(SURNAMES),
                   "dob": dob, "mobile": f"07700{900000 + i % 1000:06d}", "data_source": "pds",
                   "status": "unarchived", "ehr_registered": i % 2 == 0, "restricted": False,
                   "ehr_partner": "emis" if i % 2 == 0 else None,
                   "ehr_partner_id": f"EMIS{i:07d}" if i % 2 == 0 else None,
                   "created_at": now, "updated_at": now}
            rows.append(row)
            if i == total // 2:
                sample = {"nhs_number": row["nhs_number"], "first_name": row["first_name"],
                          "last_name": row["last_name"], "dob": dob.isoformat(),
                          "ehr_partner_id": row["ehr_partner_id"]}
            if len(rows) == 5000:
                await s.execute(insert(Patient), rows)
                rows = []
        if rows:
            await s.execute(insert(Patient), rows)
        await s.commit()
        await s.execute(text("ANALYZE patients" if db.is_postgres else "ANALYZE"))
        await s.commit()
    await db.dispose()
    return group.id, raw, sample


def queries(sample: dict[str, str]) -> list[tuple[str, str]]:
    return [
        ("nhs_number", f"/v3/patients?nhs_number={sample['nhs_number']}"),
        ("last_name + first_name + dob", f"/v3/patients?last_name={sample['last_name'].upper()}"
                                        f"&first_name={sample['first_name'].lower()}&dob={sample['dob']}"),
        ("ehr_partner_id", f"/v3/patients?ehr_partner_id={sample['ehr_partner_id']}"),
        ("dob only", f"/v3/patients?dob={sample['dob']}"),
        ("last_name only (~2k matches, page 20)", f"/v3/patients?last_name={sample['last_name']}"),
    ]


async def plans(url: str, group_id: int, sample: dict[str, str]) -> str:
    db = Database(url)
    prefix = "EXPLAIN " if db.is_postgres else "EXPLAIN QUERY PLAN "
    checks = {
        "nhs_number": ("nhs_number = :v", sample["nhs_number"]),
        "last_name": ("lower(last_name) = lower(:v)", sample["last_name"]),
        "ehr_partner_id": ("ehr_partner_id = :v", sample["ehr_partner_id"]),
    }
    out = []
    async with db.session(write=False) as s:
        for name, (condition, value) in checks.items():
            sql = f"SELECT * FROM patients WHERE practice_group_id = :g AND {condition} LIMIT 20"
            rows = (await s.execute(text(prefix + sql), {"g": group_id, "v": value})).all()
            out.append(f"  {name}: " + " / ".join(" ".join(str(c) for c in r) for r in rows))
    await db.dispose()
    return "\n".join(out)


def sequential(url: str, headers: dict[str, str], n: int = 200) -> tuple[float, float]:
    timings = []
    with httpx.Client(headers=headers) as client:
        for _ in range(20):
            client.get(url)
        for _ in range(n):
            start = time.perf_counter()
            client.get(url)
            timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return timings[n // 2], timings[int(n * 0.99) - 1]


def run(backend: str, total: int, duration: int, connections: int) -> list[list[object]]:
    rows: list[list[object]] = []
    with fresh_database(backend) as url:
        group_id, key, sample = asyncio.run(seed(url, total))
        print(f"\n[{backend}] seeded {total:,} patients; query plans:\n{asyncio.run(plans(url, group_id, sample))}")
        headers = {"x-api-key": key, "x-practice-group-id": str(group_id)}
        with server("openhero.app:create_app", {"OPENHERO_DATABASE_URL": url}) as base:
            for label, path in queries(sample):
                r = httpx.get(base + path, headers=headers)
                assert r.status_code == 200 and r.json()["count"] >= 1, r.text
                wrk(base + path, headers, duration=1, connections=connections)  # warm-up
                res = wrk(base + path, headers, duration=duration, connections=connections)
                rows.append([backend, label, r.json()["count"], res.requests_per_second, res.p50_ms, res.p99_ms,
                             res.non_2xx + res.errors])
            page = httpx.get(base + queries(sample)[1][1], headers=headers).json()
            # One client, one request at a time: the route's own latency, next to the simplest
            # authenticated route (GET /v1/me) as the baseline of this box and the shared auth path.
            for label, path in [("baseline: GET /v1/me", "/v1/me"), *queries(sample)]:
                p50, p99 = sequential(base + path, headers)
                rows.append([backend, f"1 client: {label}", "", "", p50, p99, 0])
        # The same one-patient page from a bare FastAPI route: what this box allows at all right now.
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(page, f)
        with server("bench.ceiling_app:app", {"OPENHERO_CEILING_ITEMS": f.name}, factory=False) as base:
            wrk(base + "/page", duration=1, connections=connections)
            res = wrk(base + "/page", duration=duration, connections=connections)
            rows.append([backend, "ceiling: bare FastAPI route, same page", 1, res.requests_per_second, res.p50_ms,
                         res.p99_ms, res.non_2xx + res.errors])
        Path(f.name).unlink()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if "postgres" in backends and not postgres_answers():
        print("PostgreSQL does not answer; skipping it")
        backends.remove("postgres")
    rows = []
    for backend in backends:
        rows += run(backend, args.patients, args.duration, args.connections)
    print("\n" + table(rows, ["db", "GET /v3/patients filter", "matches", "req/s", "p50 ms", "p99 ms", "errors"]))


if __name__ == "__main__":
    main()
