"""A batch message to 100,000 recipients on PostgreSQL: created, enriched and queued, then sent by the
sandbox provider with two worker processes, whose memory (RSS) is sampled throughout.

The practice already holds most recipients (bulk-seeded patients); a slice of recipients are unknown to
it and go through the (sandbox) PDS adapter, which does not trace them (ENRICHMENT_ERROR), and a
slice have malformed NHS numbers (INVALID_PAYLOAD).

    .venv/bin/python bench/messaging_batch.py [--recipients 100000] [--workers 2] [--backend postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from bench._common import ROOT, fresh_database, postgres_answers, server, table  # noqa: E402
from openhero.core.auth import SCOPES  # noqa: E402
from openhero.core.db import Database  # noqa: E402
from openhero.messaging.models import BatchMessage, BatchRecipient, Message  # noqa: E402
from openhero.patients.models import Patient  # noqa: E402
from openhero.practice.keys import create_key  # noqa: E402
from openhero.practice.models import PracticeGroup  # noqa: E402

SECRET = "bench-secret-" + "x" * 40


def nhs_numbers(count: int, prefix: str = "9") -> list[str]:
    """``count`` distinct valid (modulus 11) NHS numbers."""
    out, n = [], 0
    while len(out) < count:
        first9 = f"{prefix}{n:08d}"
        n += 1
        total = sum(int(d) * (10 - i) for i, d in enumerate(first9))
        check = 11 - total % 11
        if check == 10:
            continue
        out.append(first9 + str(0 if check == 11 else check))
    return out


async def seed(url: str, known: list[str]) -> tuple[int, str]:
    db = Database(url)
    now = datetime.now(UTC)
    async with db.session() as s:
        group = PracticeGroup(name="Bench Surgery", ods_code="B00001", sector="nhs", address={})
        s.add(group)
        await s.flush()
        _, raw = await create_key(s, practice_group_id=group.id, scopes=list(SCOPES), permissions=[], name="bench")
        for start in range(0, len(known), 10_000):
            await s.execute(insert(Patient), [
                {"practice_group_id": group.id, "nhs_number": nhs, "first_name": "Bench", "last_name": f"P{i}",
                 "dob": date(1950, 1, 1) + timedelta(days=i % 20000), "mobile": f"07700{900000 + i % 100000:06d}",
                 "data_source": "hero", "status": "unarchived", "created_at": now, "updated_at": now,
                 "uid": f"00000000-0000-4000-8000-{start + i:012d}"}
                for i, nhs in enumerate(known[start:start + 10_000], start=start)])
        await s.commit()
        group_id = group.id
    await db.dispose()
    return group_id, raw


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def start_workers(url: str, n: int) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OPENHERO_DATABASE_URL": url, "OPENHERO_SANDBOX": "1",
           "OPENHERO_SECRET_KEY": SECRET, "OPENHERO_LOG_LEVEL": "warning"}
    return [subprocess.Popen([sys.executable, "-c", "from openhero.cli import app; app()", "worker"], env=env,
                             cwd=ROOT) for _ in range(n)]


async def progress(db: Database, batch_id: int) -> tuple[int, int, str]:
    async with db.session(write=False) as s:
        waiting = (await s.execute(select(func.count()).select_from(BatchRecipient).where(
            BatchRecipient.batch_id == batch_id, BatchRecipient.status.in_(("CREATED", "ENRICHED"))))).scalar_one()
        queued_msgs = (await s.execute(select(func.count()).select_from(Message).where(
            Message.batch_id == batch_id, Message.status == "queued"))).scalar_one()
        status = (await s.execute(select(BatchMessage.status).where(BatchMessage.id == batch_id))).scalar_one()
    return int(waiting), int(queued_msgs), status


async def run(url: str, base: str, group_id: int, key: str, recipients: list[dict[str, str]],
              workers: list[subprocess.Popen[bytes]]) -> list[list[object]]:
    db = Database(url)
    headers = {"x-api-key": key, "x-practice-group-id": str(group_id)}
    rss_before = [rss_mb(w.pid) for w in workers]
    peak = list(rss_before)
    samples: list[list[float]] = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=300) as client:
        t0 = time.perf_counter()
        r = await client.post("/v1/batch_message", json={
            "name": "Flu clinic 2026", "channel": "SMS", "recipients": recipients,
            "content": "Our flu clinic runs on Saturday 9am-1pm. Book your free jab: https://example.org/flu"})
        r.raise_for_status()
        batch_id = int(r.json()["id"])
        t_created = time.perf_counter() - t0
        (await client.patch(f"/v1/batch_message/{batch_id}/send")).raise_for_status()
        t_queued = t_done = None
        while t_done is None and time.perf_counter() - t0 < 600:
            await asyncio.sleep(0.5)
            now_rss = [rss_mb(w.pid) for w in workers]
            samples.append(now_rss)
            peak = [max(p, r) for p, r in zip(peak, now_rss, strict=True)]
            waiting, _, status = await progress(db, batch_id)
            if t_queued is None and waiting == 0:
                t_queued = time.perf_counter() - t0
            if status == "COMPLETED":
                t_done = time.perf_counter() - t0
        counts = {}
        for st in ("QUEUED", "ENRICHMENT_ERROR", "INVALID_PAYLOAD"):
            counts[st] = (await client.get(f"/v1/batch_message/{batch_id}/recipients",
                                           params={"status": st, "page_size": 1})).json()["count"]
        delivered = (await client.get(f"/v1/batch_message/{batch_id}/messages",
                                      params={"status": "delivered", "page_size": 1})).json()["count"]
    rss_after = [rss_mb(w.pid) for w in workers]
    await db.dispose()
    n = len(recipients)
    print(f"\nrecipients: {n:,}  QUEUED {counts['QUEUED']:,}  ENRICHMENT_ERROR {counts['ENRICHMENT_ERROR']:,}  "
          f"INVALID_PAYLOAD {counts['INVALID_PAYLOAD']:,}  delivered {delivered:,}")
    rows: list[list[object]] = [
        ["POST /v1/batch_message (stored)", f"{t_created:.1f} s", f"{n / t_created:,.0f} recipients/s"],
        ["created + enriched + queued", f"{t_queued:.1f} s" if t_queued else "not reached",
         f"{n / t_queued:,.0f} recipients/s" if t_queued else ""],
        ["all sent (batch COMPLETED)", f"{t_done:.1f} s" if t_done else "not reached",
         f"{delivered / t_done:,.0f} messages/s" if t_done else ""],
    ]
    quarters = [samples[min(len(samples) - 1, len(samples) * q // 4)] for q in (1, 2, 3, 4)] if samples else []
    for i in range(len(workers)):
        rows.append([f"worker {i + 1} RSS before / peak / after", f"{rss_before[i]:.0f} / {peak[i]:.0f} / "
                     f"{rss_after[i]:.0f} MB", "at 25/50/75/100% of the run: "
                     + " / ".join(f"{q[i]:.0f}" for q in quarters) + " MB"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backend", default="postgres", choices=["postgres", "sqlite"])
    args = parser.parse_args()
    if args.backend == "postgres" and not postgres_answers():
        raise SystemExit("PostgreSQL is not answering at 127.0.0.1:5432")
    n = args.recipients
    unknown = max(1, n // 100)  # 1% not held by the practice -> PDS trace (not traced in the sandbox)
    invalid = max(1, n // 200)  # 0.5% malformed NHS numbers
    known = nhs_numbers(n - unknown - invalid)
    strangers = nhs_numbers(unknown, prefix="8")
    recipients = [{"nhs_number": nhs, "dob": (date(1950, 1, 1) + timedelta(days=i % 20000)).isoformat()}
                  for i, nhs in enumerate(known)]
    recipients += [{"nhs_number": nhs, "dob": "1970-01-01"} for nhs in strangers]
    recipients += [{"nhs_number": "12345", "dob": "1970-01-01"} for _ in range(invalid)]
    with fresh_database(args.backend) as url:
        t = time.perf_counter()
        group_id, key = asyncio.run(seed(url, known))
        print(f"seeded {len(known):,} patients in {time.perf_counter() - t:.1f} s ({args.backend})")
        env = {"OPENHERO_DATABASE_URL": url, "OPENHERO_SECRET_KEY": SECRET, "OPENHERO_SERVE_WORKER": "0"}
        workers = start_workers(url, args.workers)
        try:
            time.sleep(3)  # let the workers import and connect, so "before" is their idle footprint
            with server("openhero.app:create_app", env) as base:
                rows = asyncio.run(run(url, base, group_id, key, recipients, workers))
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                w.wait(10)
    print(table(rows, ["step", "time / memory", "rate"]))


if __name__ == "__main__":
    main()
