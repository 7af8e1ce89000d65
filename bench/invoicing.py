"""Invoicing under load: raise invoices (3 lines + a coupon), finalize them concurrently, list products.

Prints req/s and p50/p99 per operation for each backend. Creates and finalizes go through an async httpx
client at a fixed concurrency (writes); the product list runs under wrk (a read that also checks the
catalogue against the paid appointment types).

    .venv/bin/python bench/invoicing.py [--backend sqlite|postgres|both] [--invoices 1000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bench._common import fresh_database, postgres_answers, server, table, wrk  # noqa: E402
from openhero.core.auth import SCOPES  # noqa: E402
from openhero.core.db import Database  # noqa: E402
from openhero.invoicing.demo import seed_demo_invoicing  # noqa: E402
from openhero.patients.models import Patient  # noqa: E402
from openhero.practice.demo import seed_demo  # noqa: E402
from openhero.practice.keys import create_key  # noqa: E402
from openhero.practice.models import Admin  # noqa: E402


async def seed(url: str) -> tuple[int, str, str, list[str]]:
    db = Database(url)
    async with db.session() as s:
        ids = await seed_demo(s, datetime.now(UTC))
        group = ids.practice_group_id
        await seed_demo_invoicing(s, group, datetime.now(UTC))
        _, raw = await create_key(s, practice_group_id=group, scopes=list(SCOPES))
        admin = (await s.execute(select(Admin.id).where(Admin.practice_group_id == group))).scalars().first()
        patients = (await s.execute(select(Patient.id).where(Patient.practice_group_id == group))).scalars().all()
        await s.commit()
    await db.dispose()
    return group, raw, str(admin), [str(p) for p in patients]


async def timed(calls: list, concurrency: int) -> tuple[float, list[float], list[httpx.Response]]:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(call):  # type: ignore[no-untyped-def]
        async with gate:
            t0 = time.perf_counter()
            response = await call()
            latencies.append((time.perf_counter() - t0) * 1000)
            return response

    start = time.perf_counter()
    responses = await asyncio.gather(*(one(c) for c in calls))
    return time.perf_counter() - start, latencies, list(responses)


def figures(name: str, elapsed: float, latencies: list[float], responses: list[httpx.Response], ok: int
            ) -> list[object]:
    q = statistics.quantiles(latencies, n=100)
    bad = sum(1 for r in responses if r.status_code != ok)
    return [name, len(responses) / elapsed, q[49], q[98], bad]


async def load(base: str, headers: dict[str, str], issuer: str, patients: list[str], n: int, concurrency: int
               ) -> list[list[object]]:
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        prices = {p["name"]: p["price"] for p in (await client.get("/v1/invoicing/products",
                                                                    params={"page_size": 100})).json()["data"]}
        items = [{"price": prices["Hepatitis A vaccine"], "quantity": 1},
                 {"price": prices["Typhoid vaccine"], "quantity": 1},
                 {"description": "Certificate copy", "quantity": 1, "unit_amount": 1500}]
        creates = [lambda i=i: client.post("/v1/invoicing/invoices", json={
            "issuer_id": issuer, "patient_id": patients[i % len(patients)], "invoice_items_attributes": items,
            "coupons": [{"id": "FAMILYTRAVEL15"}]}) for i in range(n)]
        elapsed, lat, made = await timed(creates, concurrency)
        rows = [figures("POST /v1/invoicing/invoices", elapsed, lat, made, 201)]
        ids = [r.json()["id"] for r in made if r.status_code == 201]
        finals = [lambda i=i: client.patch(f"/v1/invoicing/invoices/{i}", json={"issuer_id": issuer,
                                                                                "mode": "finalize"}) for i in ids]
        elapsed, lat, done = await timed(finals, concurrency)
        rows.append(figures("PATCH …/invoices/{id} finalize", elapsed, lat, done, 200))
        numbers = {r.json()["number"] for r in done if r.status_code == 200}
        assert len(numbers) == len(ids), "duplicate invoice numbers"
    return rows


def run(backend: str, n: int, concurrency: int, duration: int) -> None:
    with fresh_database(backend) as url:
        group, raw, issuer, patients = asyncio.run(seed(url))
        headers = {"x-api-key": raw, "x-practice-group-id": str(group)}
        with server("openhero.app:create_app", {"OPENHERO_DATABASE_URL": url}) as base:
            rows = asyncio.run(load(base, headers, issuer, patients, n, concurrency))
            result = wrk(f"{base}/v1/invoicing/products", headers, duration=duration, connections=32)
            rows.append(["GET /v1/invoicing/products (wrk, 32 conn)", result.requests_per_second, result.p50_ms,
                         result.p99_ms, result.non_2xx + result.errors])
    print(f"\n{backend}: {n} invoices, concurrency {concurrency}")
    print(table(rows, ["operation", "req/s", "p50 ms", "p99 ms", "failures"]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        if backend == "postgres" and not postgres_answers():
            print("postgres: not reachable, skipped")
            continue
        run(backend, args.invoices, args.concurrency, args.duration)


if __name__ == "__main__":
    main()
