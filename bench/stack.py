"""The request stack side by side: openhero (SQLite and PostgreSQL), the ceiling and Prism, interleaved.

One command seeds each database (a practice with a year of slots, ~1M, plus a 1k-slot practice and 1,000
tasks), starts every server at once — the ceiling app (bench/ceiling_app.py: the same prebuilt pages from
a bare FastAPI route, same uvicorn settings), openhero on each backend, and Prism mocking the reference
contract when it is installed — and then runs every route against every server in turn, round after
round, so that load from other processes on the machine hits all columns alike. It prints req/s, p50
and p99 per server and route (medians over the rounds) and the ratios to the ceiling and to Prism,
computed per round and then the median.

    .venv/bin/python bench/stack.py [--backend sqlite|postgres|both] [--days 365] [--rounds 3]
                                    [--duration 5] [--connections 32] [--workers 1] [--writes]
                                    [--prism PATH] [--baseline-src DIR [--baseline-workers N]] [--only LABELS]

`--baseline-src DIR` serves a second copy of openhero from DIR (e.g. an older commit:
`git archive <commit> src | tar -x -C /tmp/before` then `--baseline-src /tmp/before/src`) on the same
databases, as "before <db>" rows; with `--baseline-src src --workers 2 --baseline-workers 1` the same code
runs with 2 and 1 worker processes side by side (scaling). The server's CPU per request is reported next to
req/s: on a loaded machine it is the steadier figure.

Prism: `npm install @stoplight/prism-cli@5` in any folder and pass `--prism <folder>/node_modules/.bin/prism`
(or set OPENHERO_BENCH_PRISM); without it the Prism column is skipped. `--writes` also measures
reserve+book throughput (16 clients) and the 200-way race for one slot on each backend.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench import booking_slots, tasks_list  # noqa: E402
from bench._common import (  # noqa: E402
    SERVER_PIDS,
    WrkResult,
    free_port,
    fresh_database,
    postgres_answers,
    process_tree_cpu_seconds,
    process_tree_rss_mb,
    server,
    table,
    wrk,
)
from openhero.core.db import Database  # noqa: E402

SPEC = Path(os.environ.get("OPENHERO_BENCH_SPEC", "/work/shared/spec/hero-public-api.yaml"))


async def prepare(url: str, days: int) -> dict[str, object]:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    db = Database(url)
    try:
        big = await booking_slots.make_practice(db, "Big", locations=10, types=5, practitioners=96)
        small = await booking_slots.make_practice(db, "Small", locations=2, types=5, practitioners=5)
        started = time.perf_counter()
        n_big = await booking_slots.bulk_insert(url, db, big, tomorrow, days)
        n_small = await booking_slots.bulk_insert(url, db, small, tomorrow, 7)
        print(f"[{db.engine.dialect.name}] seeded {n_big:,} + {n_small:,} slots in "
              f"{time.perf_counter() - started:.1f}s", flush=True)
        # Two disjoint sets of 241 free slots (240 to reserve+book, 1 for the race): one per server generation.
        targets = await booking_slots.free_slots(db, big, tomorrow + timedelta(days=min(days - 1, 20)), 482)
    finally:
        await db.dispose()
    (task_group, task_key), = await tasks_list.seed(url, [1000])
    window = tomorrow + timedelta(days=min(30, max(days - 8, 0)))
    return {"big": big, "small": small, "n_big": n_big, "n_small": n_small, "targets": targets,
            "tasks": {"x-api-key": task_key, "x-practice-group-id": str(task_group)},
            "big_url": booking_slots.slots_url(big, window), "small_url": booking_slots.slots_url(small, tomorrow)}


@contextmanager
def prism(binary: str | None) -> Iterator[str | None]:
    if not binary or not Path(binary).exists() or not SPEC.exists():
        yield None
        return
    port = free_port()
    proc = subprocess.Popen([binary, "mock", "-h", "127.0.0.1", "-p", str(port), str(SPEC)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    SERVER_PIDS[base] = proc.pid
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                httpx.get(base + "/v1/me", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise RuntimeError("prism did not start")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def measure(base: str, path: str, headers: dict[str, str], duration: int, connections: int
            ) -> tuple[WrkResult, float]:
    """wrk figures plus the server's CPU microseconds per request (its user+system time over the run divided
    by the requests served): unlike req/s this barely moves when other processes load the machine."""
    pid = SERVER_PIDS[base]
    before = process_tree_cpu_seconds(pid)
    result = wrk(base + path, headers, duration=duration, connections=connections)
    used = process_tree_cpu_seconds(pid) - before
    return result, 1e6 * used / max(1.0, result.requests_per_second * duration)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--days", type=int, default=365, help="days of slots for the big practice (365 ≈ 1M)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn --workers for openhero")
    parser.add_argument("--prism", default=os.environ.get("OPENHERO_BENCH_PRISM")
                        or shutil.which("prism"), help="path of the prism binary (column skipped without)")
    parser.add_argument("--writes", action="store_true", help="also reserve+book throughput and the 200-way race")
    parser.add_argument("--baseline-src", help="also serve the openhero package found in this folder (e.g. `git "
                        "archive <commit> src | tar -x -C /tmp/before` -> /tmp/before/src) as 'before <db>'")
    parser.add_argument("--baseline-workers", type=int, help="uvicorn --workers for the baseline servers (default: "
                        "--workers); `--baseline-src src --workers 2 --baseline-workers 1` measures scaling")
    parser.add_argument("--only", default="", help="comma-separated route labels to run (default: all)")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if "postgres" in backends and not postgres_answers():
        print("PostgreSQL does not answer; skipping it")
        backends.remove("postgres")
    print(f"load average before the run: {os.getloadavg()}", flush=True)

    with ExitStack() as stack:
        seeds: dict[str, dict[str, object]] = {}
        bases: dict[str, str] = {}
        for backend in backends:
            url = stack.enter_context(fresh_database(backend))
            seeds[backend] = asyncio.run(prepare(url, args.days))
            bases[backend] = stack.enter_context(server("openhero.app:create_app", {"OPENHERO_DATABASE_URL": url},
                                                        workers=args.workers))
            if args.baseline_src:
                bases[f"before {backend}"] = stack.enter_context(server(
                    "openhero.app:create_app", {"OPENHERO_DATABASE_URL": url},
                    workers=args.baseline_workers or args.workers, source=args.baseline_src))
        first = seeds[backends[0]]
        big = first["big"]
        pages = {}
        folder = Path(tempfile.mkdtemp(prefix="openhero-stack-"))
        stack.callback(shutil.rmtree, folder, True)
        for name, path, headers in (("slots", first["big_url"], big.headers),  # type: ignore[attr-defined]
                                    ("tasks", tasks_list.QUERY, first["tasks"]),
                                    ("me", "/v1/me", big.headers)):  # type: ignore[attr-defined]
            r = httpx.get(bases[backends[0]] + str(path), headers=headers, timeout=30)  # type: ignore[arg-type]
            assert r.status_code == 200, r.text
            (folder / f"{name}.json").write_bytes(r.content)
            pages[name] = str(folder / f"{name}.json")
        ceiling = stack.enter_context(server("bench.ceiling_app:app", {"OPENHERO_CEILING_PAGES": json.dumps(pages)},
                                             factory=False))
        prism_base = stack.enter_context(prism(args.prism))
        if prism_base is None:
            print("Prism not found: its column is skipped (see the module docstring)")

        # route label -> (ceiling path, prism path or None, per-backend (path, headers))
        routes: list[tuple[str, str | None, str | None, dict[str, tuple[str, dict[str, str]]]]] = []

        def per_backend(path_key: str, practice: str) -> dict[str, tuple[str, dict[str, str]]]:
            out = {}
            for b in backends:
                s = seeds[b]
                headers = s["tasks"] if practice == "tasks" else s[practice].headers  # type: ignore[attr-defined]
                out[b] = (str(s[path_key]) if path_key in s else path_key, headers)
            return out

        n_big = int(first["n_big"])  # type: ignore[arg-type]
        routes.append((f"GET /v1/slots page of 50 ({n_big:,} slots)", "/page/slots", str(first["big_url"]),
                       per_backend("big_url", "big")))
        routes.append(("GET /v1/slots page of 50 (1k slots)", "/page/slots", None, per_backend("small_url", "small")))
        routes.append(("GET /v2/tasks page of 20", "/page/tasks", tasks_list.QUERY,
                       per_backend(tasks_list.QUERY, "tasks")))
        routes.append(("GET /v1/me", "/page/me", "/v1/me", per_backend("/v1/me", "big")))
        routes.append(("authenticated 404 /v1/slots/abc", "/page/me", None, per_backend("/v1/slots/abc", "big")))
        routes.append(("/healthz (no auth, no db)", "/page/me", None, per_backend("/healthz", "big")))
        if args.only:
            wanted = [w.strip() for w in args.only.split(",")]
            routes = [r for r in routes if any(w in r[0] for w in wanted)]

        # Warm every server on every route once.
        for _label, c_path, _p_path, per in routes:
            wrk(ceiling + c_path, duration=1, connections=args.connections)
            for b, (path, headers) in per.items():
                wrk(bases[b] + path, headers, duration=1, connections=args.connections)
                if args.baseline_src:
                    wrk(bases[f"before {b}"] + path, headers, duration=1, connections=args.connections)

        openhero_bases = {name: b for name, b in bases.items()}
        rss_start = {name: process_tree_rss_mb(SERVER_PIDS[b]) for name, b in openhero_bases.items()}
        started_at = time.monotonic()
        results: dict[tuple[str, str], list] = {}
        for rnd in range(args.rounds):
            print(f"round {rnd + 1}/{args.rounds} (load average {os.getloadavg()[0]:.1f})", flush=True)
            for label, c_path, p_path, per in routes:
                runs = [("ceiling", ceiling, c_path, {})]
                runs += [(f"openhero {b}", bases[b], path, headers) for b, (path, headers) in per.items()]
                if args.baseline_src:
                    runs += [(f"before {b}", bases[f"before {b}"], path, headers) for b, (path, headers) in per.items()]
                if prism_base and p_path:
                    runs.append(("prism", prism_base, p_path, seeds[backends[0]]["big"].headers))  # type: ignore[attr-defined]
                if rnd % 2:  # alternate the order so neither side always runs first
                    runs.reverse()
                for name, base, path, headers in runs:
                    results.setdefault((label, name), []).append(
                        measure(base, path, headers, args.duration, args.connections))

        rows = []
        for label, _c, _p, _per in routes:
            ceil = results[(label, "ceiling")]
            pr = results.get((label, "prism"))
            names = [f"{who} {b}" for b in backends for who in ("openhero", "before")]
            for name in ["ceiling", *names, "prism"]:
                measured = results.get((label, name))
                if not measured:
                    continue
                rs = [m[0] for m in measured]
                ratio = statistics.median(r.requests_per_second / c[0].requests_per_second
                                          for r, c in zip(rs, ceil, strict=True))
                cpu_ratio = statistics.median(c[1] / m[1] for m, c in zip(measured, ceil, strict=True))
                vs_prism = ""
                if pr and name != "prism":
                    prism_ratio = statistics.median(r.requests_per_second / p[0].requests_per_second
                                                    for r, p in zip(rs, pr, strict=True))
                    vs_prism = f"{prism_ratio:.2f}x"
                rows.append([label, name, statistics.median(r.requests_per_second for r in rs),
                             statistics.median(r.p50_ms for r in rs), statistics.median(r.p99_ms for r in rs),
                             f"{statistics.median(m[1] for m in measured):.0f}", f"{ratio:.2f}x",
                             f"{cpu_ratio:.2f}x", vs_prism, sum(r.non_2xx for r in rs) if "404" not in label else "-"])
        minutes = (time.monotonic() - started_at) / 60
        print(f"\nresident memory after warm-up -> after {minutes:.1f} min of rounds: " + ", ".join(
            f"{name} {rss_start[name]:.0f} -> {process_tree_rss_mb(SERVER_PIDS[b]):.0f} MiB"
            for name, b in openhero_bases.items()))
        print(f"\nworkers={args.workers} connections={args.connections} rounds={args.rounds} "
              f"duration={args.duration}s load average after: {os.getloadavg()}")
        print("vs ceiling: req/s ratio; CPU vs ceiling: the ceiling's CPU per request / this server's (the load-robust"
              " ratio); medians over rounds")
        print(table(rows, ["route", "server", "req/s", "p50 ms", "p99 ms", "CPU µs/req", "vs ceiling",
                           "CPU vs ceiling", "vs prism", "non-2xx"]))

        if args.writes:
            write_rows = []
            for b in backends:
                s = seeds[b]
                targets = s["targets"]
                names = [f"openhero {b}"] + ([f"before {b}"] if args.baseline_src else [])
                rates = {}
                for i, name in enumerate(names):
                    base = bases[b] if name.startswith("openhero") else bases[f"before {b}"]
                    mine = targets[241 * i: 241 * (i + 1)]  # type: ignore[index]
                    elapsed, booked = asyncio.run(booking_slots.reserve_and_book(base, s["big"], mine[:-1], 16))  # type: ignore[arg-type]
                    c_time, codes = asyncio.run(booking_slots.contention(base, s["big"], mine[-1]))  # type: ignore[arg-type]
                    rates[name] = booked / elapsed
                    write_rows.append([b, name, "reserve+book, 16 clients", f"{booked}/{len(mine) - 1} booked",
                                       f"{booked / elapsed:.1f} bookings/s"])
                    other = len(codes) - codes.count(200) - codes.count(409)
                    write_rows.append([b, name, "200 concurrent reserves of one slot",
                                       f"{codes.count(200)}x200, {codes.count(409)}x409, other {other}",
                                       f"{c_time:.2f}s"])
                if len(rates) == 2:
                    write_rows.append([b, "after / before", "reserve+book", "",
                                       f"{rates[names[0]] / rates[names[1]]:.2f}x"])
            print("\n" + table(write_rows, ["db", "server", "workload", "outcome", "rate / time"]))


if __name__ == "__main__":
    main()
