"""Webhook delivery throughput, latency and crash safety on PostgreSQL with two worker processes.

    .venv/bin/python bench/webhooks_throughput.py [--events 20000] [--crash-events 10000]

1. throughput: N events are committed to the outbox, then two ``openhero worker`` processes fan them
   out and deliver them, signed, to a loopback receiver (a separate uvicorn process that verifies
   every signature); deliveries/s is measured at the receiver from first to last arrival.
2. latency: with the workers running, events are emitted at a steady rate in small transactions;
   event-to-delivery latency (events.created_at -> receiver arrival) p50/p95/p99. Each transaction
   NOTIFYs as ``outbox.emit`` does, so LISTENing workers start at once; ``--no-listen`` runs the
   workers with OPENHERO_WORKER_LISTEN=0 (polling every 0.2 s only) for comparison.
3. kill -9: 10,000 events, two workers, one SIGKILLed mid-run and restarted; every event must arrive
   at least once (duplicates are allowed and counted).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret-" + "s" * 40
SIGNING_KEY = "bench-signing-key-0123456789"
GROUPS = 10


# ---------------------------------------------------------------- receiver (its own process)


def run_receiver(port: int) -> None:
    import uvicorn

    first_seen: dict[str, float] = {}
    state = {"requests": 0, "bad_signatures": 0}
    key = SIGNING_KEY.encode()

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "GET":
            payload = json.dumps({**state, "first_seen": first_seen}).encode()
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": payload})
            return
        now = time.time()
        headers = dict(scope["headers"])
        ts = headers.get(b"x-herohealth-timestamp", b"")
        expected = hmac.new(key, ts + b"." + body, hashlib.sha256).hexdigest().encode()
        if not hmac.compare_digest(expected, headers.get(b"x-herohealth-signature", b"")):
            state["bad_signatures"] += 1
        state["requests"] += 1
        object_id = json.loads(body)["id"]
        first_seen.setdefault(object_id, now)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        backlog=4096,
    )


# ---------------------------------------------------------------- orchestration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_worker(url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OPENHERO_DATABASE_URL": url,
        "OPENHERO_SECRET_KEY": SECRET,
        "OPENHERO_LOG_LEVEL": "warning",
        "OPENHERO_WORKER_LEASE_SECONDS": "10",
        "OPENHERO_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on loopback
        "OPENHERO_WORKER_LISTEN": os.environ.get("OPENHERO_WORKER_LISTEN", "1"),
        "PYTHONPATH": str(ROOT / "src"),
    }
    return subprocess.Popen([sys.executable, "-m", "openhero.cli", "worker"], env=env, cwd=str(ROOT))


async def admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def seed(db, receiver_url: str) -> list[int]:  # type: ignore[no-untyped-def]
    from openhero.practice.models import PracticeGroup
    from openhero.webhooks import signing
    from openhero.webhooks.models import Webhook

    now = datetime.now(UTC)
    async with db.session() as s:
        groups = [
            PracticeGroup(name=f"Bench {i}", ods_code=f"B{i:05d}", sector="nhs", address={}) for i in range(GROUPS)
        ]
        s.add_all(groups)
        await s.flush()
        for g in groups:
            s.add(
                Webhook(
                    practice_group_id=g.id,
                    event_type="appointment.confirmed",
                    url=receiver_url + "/hook",
                    headers={"Authorization": "Bearer bench"},
                    created_at=now,
                    updated_at=now,
                    signing_key_encrypted=signing.encrypt_key(SECRET, SIGNING_KEY),
                    signing_key_hint=signing.key_hint(SIGNING_KEY),
                )
            )
        await s.commit()
        return [g.id for g in groups]


async def insert_events(db, groups: list[int], first: int, count: int, chunk: int = 5000) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import insert

    from openhero.core.outbox import Event
    from openhero.core.wakeup import notify

    for start in range(first, first + count, chunk):
        now = datetime.now(UTC)
        rows = [
            {
                "practice_group_id": groups[i % len(groups)],
                "event_type": "appointment.confirmed",
                "object_type": "Appointment",
                "object_id": str(i),
                "data": {},
                "created_at": now,
            }
            for i in range(start, min(first + count, start + chunk))
        ]
        async with db.session() as s:
            await s.execute(insert(Event), rows)
            await notify(s)  # as outbox.emit does: wake the LISTENing workers when this commits
            await s.commit()


async def receiver_stats(http, url: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return dict((await http.get(url + "/stats", timeout=30)).json())


async def wait_for(http, url: str, ids: set[str], within: float) -> dict:  # type: ignore[no-untyped-def, type-arg]
    deadline = time.monotonic() + within
    while True:
        stats = await receiver_stats(http, url)
        if ids <= stats["first_seen"].keys() or time.monotonic() > deadline:
            return stats
        await asyncio.sleep(0.5)


async def event_times(db, first: int, count: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from openhero.core.outbox import Event

    async with db.session(write=False) as s:
        rows = (await s.execute(select(Event.object_id, Event.created_at).where(Event.id >= 0))).all()
    wanted = {str(i) for i in range(first, first + count)}
    return {oid: created.timestamp() for oid, created in rows if oid in wanted}


async def lag_breakdown(db, first: int, count: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """p50 of (delivery row created - event created) and (first attempt started - delivery row created)."""
    from sqlalchemy import select

    from openhero.core.outbox import Event
    from openhero.webhooks.models import WebhookAttempt, WebhookDelivery

    async with db.session(write=False) as s:
        rows = (await s.execute(
            select(Event.object_id, Event.created_at, WebhookDelivery.created_at, WebhookAttempt.started_at)
            .join(WebhookDelivery, WebhookDelivery.event_id == Event.id)
            .join(WebhookAttempt, (WebhookAttempt.delivery_id == WebhookDelivery.id) & (WebhookAttempt.number == 1))
        )).all()
    wanted = {str(i) for i in range(first, first + count)}
    rows = [r for r in rows if r[0] in wanted]
    if not rows:
        return 0.0, 0.0
    fan_out = [(d - e).total_seconds() * 1000 for _, e, d, _ in rows]
    claim = [(a - d).total_seconds() * 1000 for _, _, d, a in rows]
    return pct(fan_out, 50), pct(claim, 50)


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds(database: str) -> float:
    """CPU used so far by the PostgreSQL backends serving ``database`` (their titles name it)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if database in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    total += cpu_seconds(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
    return total


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def main(events: int, crash_events: int, rate: int, seconds: int) -> None:
    import httpx

    from openhero.core.db import Database
    from openhero.core.migrate import upgrade

    name = f"openhero_bench_webhooks_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    port = free_port()
    receiver_url = f"http://127.0.0.1:{port}"
    receiver = subprocess.Popen([sys.executable, __file__, "--receiver", str(port)], cwd=str(ROOT))  # noqa: ASYNC220
    workers: list[subprocess.Popen[bytes]] = []
    results: list[tuple[str, str]] = []
    db = None
    try:
        await asyncio.to_thread(upgrade, url)
        db = Database(url)
        groups = await seed(db, receiver_url)
        async with httpx.AsyncClient() as http:
            for _ in range(100):
                try:
                    await receiver_stats(http, receiver_url)
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)

            # 1. throughput
            await insert_events(db, groups, 0, events)
            workers = [start_worker(url), start_worker(url)]
            stats = await wait_for(http, receiver_url, {str(i) for i in range(events)}, 300)
            seen = [stats["first_seen"][str(i)] for i in range(events) if str(i) in stats["first_seen"]]
            span = max(seen) - min(seen)
            worker_cpu = sum(cpu_seconds(w.pid) for w in workers)
            receiver_cpu = cpu_seconds(receiver.pid)
            pg_cpu = postgres_cpu_seconds(name)
            per_delivery = (worker_cpu + receiver_cpu + pg_cpu) / len(seen)
            results += [
                ("events delivered (throughput run)", f"{len(seen)}/{events}"),
                ("signed deliveries/s (2 workers, first->last arrival)", f"{len(seen) / span:,.0f}"),
                ("bad signatures", str(stats["bad_signatures"])),
                ("worker CPU per delivery, both workers (ms, incl. start-up)", f"{worker_cpu * 1000 / len(seen):.2f}"),
                ("receiver CPU per delivery (ms)", f"{receiver_cpu * 1000 / len(seen):.2f}"),
                ("PostgreSQL CPU per delivery (ms, bench DB backends)", f"{pg_cpu * 1000 / len(seen):.2f}"),
                ("=> deliveries/s 2 idle cores could sustain", f"{2 / per_delivery:,.0f}"),
                ("load average during the run (box shared with other jobs)", f"{os.getloadavg()[0]:.1f}"),
            ]

            # 2. latency at a steady rate, workers idle (woken by NOTIFY, or polling)
            first, sent = events, 0
            if seconds:
                from sqlalchemy import text

                trips = []
                for _ in range(50):  # context for the figures: how fast the shared box answers a round trip
                    t = time.perf_counter()
                    async with db.session(write=False) as s:
                        await s.execute(text("SELECT 1"))
                    trips.append((time.perf_counter() - t) * 1000)
                results.append(("PostgreSQL SELECT 1 p50 (ms, before the latency run)", f"{pct(trips, 50):.1f}"))
                t0 = time.monotonic()
                batch = max(1, rate // 20)
                while time.monotonic() - t0 < seconds:
                    await insert_events(db, groups, first + sent, batch)
                    sent += batch
                    await asyncio.sleep(max(0.0, t0 + sent / rate - time.monotonic()))
                stats = await wait_for(http, receiver_url, {str(i) for i in range(first, first + sent)}, 120)
                created = await event_times(db, first, sent)
                lat = [(stats["first_seen"][k] - v) * 1000 for k, v in created.items() if k in stats["first_seen"]]
                dispatch_lag, claim_lag = await lag_breakdown(db, first, sent)
                results += [
                    (f"latency run: {sent} events at {rate}/s", f"{len(lat)} delivered"),
                    ("  p50 event->fan-out / fan-out->send start (ms)", f"{dispatch_lag:.0f} / {claim_lag:.0f}"),
                    (
                        "event->delivery latency p50 / p95 / p99 (ms)",
                        f"{pct(lat, 50):.0f} / {pct(lat, 95):.0f} / {pct(lat, 99):.0f}",
                    ),
                    ("  mean (ms)", f"{statistics.mean(lat):.0f}"),
                ]

            # 3. kill -9 mid-run
            if crash_events:
                first = events + sent
                before = (await receiver_stats(http, receiver_url))["requests"]
                await insert_events(db, groups, first, crash_events)
                ids = {str(i) for i in range(first, first + crash_events)}
                t_crash = time.monotonic()
                while True:
                    got = len(ids & (await receiver_stats(http, receiver_url))["first_seen"].keys())
                    if got >= crash_events // 4:
                        break
                    await asyncio.sleep(0.05)
                workers[0].send_signal(signal.SIGKILL)
                workers[0].wait()
                at_kill = got
                workers[0] = start_worker(url)
                stats = await wait_for(http, receiver_url, ids, 300)
                delivered = len(ids & stats["first_seen"].keys())
                requests = stats["requests"] - before
                results += [
                    ("kill -9 run: events / killed at", f"{crash_events} / {at_kill} delivered"),
                    ("  delivered at least once", f"{delivered}/{crash_events} (lost {crash_events - delivered})"),
                    ("  duplicate deliveries (in flight when killed)", str(requests - delivered)),
                    ("  wall time incl. 10 s lease expiry (s)", f"{time.monotonic() - t_crash:.1f}"),
                ]
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=10)
            except subprocess.TimeoutExpired:
                w.kill()
        receiver.terminate()
        receiver.wait()
        if db is not None:
            await db.dispose()
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    width = max(len(k) for k, _ in results)
    wakeups = "polling only" if os.environ.get("OPENHERO_WORKER_LISTEN") == "0" else "LISTEN/NOTIFY + polling"
    print(f"\nwebhooks bench (PostgreSQL, 2 worker processes ({wakeups}), loopback receiver verifying HMAC)")
    for k, v in results:
        print(f"  {k.ljust(width)}  {v}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--receiver", type=int)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--crash-events", type=int, default=10000)
    parser.add_argument("--rate", type=int, default=200, help="events/s in the latency run")
    parser.add_argument("--seconds", type=int, default=10, help="length of the latency run")
    parser.add_argument("--no-listen", action="store_true", help="workers poll only (no LISTEN/NOTIFY)")
    args = parser.parse_args()
    if args.no_listen:
        os.environ["OPENHERO_WORKER_LISTEN"] = "0"
    if args.receiver:
        run_receiver(args.receiver)
    else:
        asyncio.run(main(args.events, args.crash_events, args.rate, args.seconds))
