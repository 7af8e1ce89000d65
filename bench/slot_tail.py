"""p99 of the slot page at 1M slots against 1k, one source tree per database, and where the tail comes from.

    .venv/bin/python bench/slot_tail.py [NAME=DIR ...] [--repeat 2] [--rounds 3] [--duration 5]
                                        [--connections 32] [--probe] [--neighbour] [--backend sqlite|postgres]

Each NAME=DIR (``git archive <commit> src | tar -x -C /tmp/x`` then ``old=/tmp/x/src``; with no argument,
``current=`` this checkout) gets a database of its own, seeded and migrated by *its* code — so a schema
change (an index) is measured with the code that made it, which `bench/stack.py` cannot do (its servers share
one database). Per tree: one uvicorn process, a warm-up, then ``--rounds`` × (wrk on the 1M practice's week
page, wrk on the 1k practice's page); trees alternate ``--repeat`` times. It prints every round's req/s and
p50/p99 and, per tree, the p99 ratio 1M / 1k per round and its median.

``--probe`` serves openhero wrapped in ``bench/_probe_app.py``: request durations *inside* the ASGI app and an
event-loop lag timer (1 ms), printed per 5 s by the server — to tell slow requests from queueing.

``--neighbour`` measures something else on the same setup: ``GET /v1/me`` (wrk, 16 connections) alone, then
while two clients keep asking for the 1M practice's slots *without a date window* (every page counts all
~1M free future slots: ~85 ms of SQLite) — what one heavy request does to everybody else's latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def one(args: argparse.Namespace) -> None:
    """Child mode: seed, serve and measure the openhero found on PYTHONPATH; one JSON line per round."""
    from bench import stack
    from bench._common import fresh_database, server, wrk

    with fresh_database(args.backend) as url:
        seed = asyncio.run(stack.prepare(url, 365))
        big, small = seed["big"], seed["small"]
        env = {"OPENHERO_DATABASE_URL": url}
        app = "bench._probe_app:make" if args.probe else "openhero.app:create_app"
        with server(app, env, source=os.environ.get("PYTHONPATH")) as base:
            if args.neighbour:
                neighbour(args, base, big)
                return
            pages = (("1M", seed["big_url"], big.headers), ("1k", seed["small_url"], small.headers))  # type: ignore[attr-defined]
            for _name, url_path, headers in pages:
                wrk(base + url_path, headers, duration=2, connections=args.connections)
            for round_ in range(args.rounds):
                for name, url_path, headers in pages:
                    r = wrk(base + url_path, headers, duration=args.duration, connections=args.connections)
                    print(json.dumps({"round": round_, "page": name, "rps": r.requests_per_second,
                                      "p50": r.p50_ms, "p99": r.p99_ms}), flush=True)


def neighbour(args: argparse.Namespace, base: str, big: object) -> None:
    import threading

    import httpx

    from bench._common import wrk

    headers = big.headers  # type: ignore[attr-defined]
    wrk(base + "/v1/me", headers, duration=2, connections=16)
    for round_ in range(args.rounds):
        alone = wrk(base + "/v1/me", headers, duration=args.duration, connections=16)
        stop, heavy = threading.Event(), [0]

        def hammer(stop: threading.Event = stop, heavy: list[int] = heavy) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                while not stop.is_set():
                    client.get("/v1/slots?page_size=50").raise_for_status()
                    heavy[0] += 1

        threads = [threading.Thread(target=hammer) for _ in range(2)]
        for t in threads:
            t.start()
        busy = wrk(base + "/v1/me", headers, duration=args.duration, connections=16)
        stop.set()
        for t in threads:
            t.join()
        for page, r in (("me alone", alone), ("me + heavy", busy)):
            print(json.dumps({"round": round_, "page": page, "rps": r.requests_per_second, "p50": r.p50_ms,
                              "p99": r.p99_ms}), flush=True)
        print(f"heavy slot pages answered: {heavy[0] / args.duration:.1f}/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="*", help="NAME=DIR (empty DIR: this checkout)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--probe", action="store_true")
    parser.add_argument("--neighbour", action="store_true")
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args)
        return
    sources = [s.split("=", 1) for s in (args.sources or ["current="])]
    ratios: dict[str, list[float]] = {name: [] for name, _ in sources}
    for _ in range(args.repeat):
        for name, folder in sources:
            src = folder or str(ROOT / "src")
            cmd = [sys.executable, __file__, "--one", "--rounds", str(args.rounds), "--duration", str(args.duration),
                   "--connections", str(args.connections), *(["--probe"] if args.probe else []),
                   *(["--neighbour"] if args.neighbour else []), "--backend", args.backend]
            env = {**os.environ, "PYTHONPATH": f"{src}:{ROOT}", "OPENHERO_PROBE_NAME": name}
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            rounds: dict[int, dict[str, dict[str, float]]] = {}
            for line in out.splitlines():
                if line.startswith("{"):
                    row = json.loads(line)
                    rounds.setdefault(row["round"], {})[row["page"]] = row
                    print(f"{name:10} round {row['round']} {row['page']:10}: {row['rps']:8,.0f} req/s  "
                          f"p50 {row['p50']:6.1f}  p99 {row['p99']:6.1f} ms", flush=True)
                elif line.strip():
                    print(f"{name:10} {line}", flush=True)
            if args.neighbour:
                ratios[name] += [r["me + heavy"]["p99"] / r["me alone"]["p99"] for r in rounds.values()]
            else:
                ratios[name] += [r["1M"]["p99"] / r["1k"]["p99"] for r in rounds.values()]
    label = "p99 of /v1/me with / without the heavy neighbour" if args.neighbour else "p99 1M / 1k"
    for name, values in ratios.items():
        print(f"{name}: {label} per round {', '.join(f'{v:.2f}' for v in values)}; "
              f"median {statistics.median(values):.2f}")


if __name__ == "__main__":
    main()
