"""CPU per request inside one process, without HTTP: openhero's ASGI app against the ceiling app.

Both apps are called directly (``await app(scope, receive, send)``) with prebuilt requests, one after
another on one event loop, interleaved route by route and round by round. What is left out is the same for
both (uvicorn's HTTP parsing and the socket); what is measured is everything from the ASGI call to the last
body byte: middleware, routing, dependencies, authentication, the database work and serialisation. Process
CPU time is read around each batch, so the figure hardly moves when other processes load the machine; the
ratio to the ceiling (the same prebuilt page from a bare FastAPI route) is taken per round.

    .venv/bin/python bench/inprocess.py [--backend sqlite|postgres] [--days 7] [--rounds 5] [--requests 2000]
                                        [--concurrency N] [--profile ROUTE] [--only LABELS]

``--profile me`` (or slots, slots1k, tasks, 404, 404id, slot, healthz) runs that route under cProfile after the
rounds and prints the 45 most expensive functions by cumulative time and the 30 by own time;
``BENCH_CALLERS=<pattern>`` also prints who called the functions matching it (``BENCH_CALLERS=reads.py:220``).
cProfile counts a coroutine again each time it resumes: a read that awaits a socket (PostgreSQL) shows twice the
calls of the same read run inline (SQLite), though it ran once.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import tasks_list  # noqa: E402
from bench._common import fresh_database, table  # noqa: E402
from bench.stack import prepare  # noqa: E402


def _scope(path: str, headers: dict[str, str]) -> dict[str, Any]:
    raw_path, _, query = path.partition("?")
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": "GET", "scheme": "http", "path": raw_path, "raw_path": raw_path.encode(),
        "query_string": query.encode(), "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench"), (b"accept", b"*/*"),
                    *((k.lower().encode(), v.encode()) for k, v in headers.items())],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
    }


class Caller:
    """Calls an ASGI app with one prebuilt request; checks the status of the answer."""

    def __init__(self, app: Any, path: str, headers: dict[str, str], status: int) -> None:
        self.app, self.path, self.headers, self.status = app, path, headers, status
        self.body = b""

    async def once(self) -> None:
        got: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                got["status"] = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(_scope(self.path, self.headers), receive, send)
        if got.get("status") != self.status:
            raise AssertionError(f"{self.path}: {got.get('status')} {b''.join(chunks)[:300]!r}")
        self.body = b"".join(chunks)

    async def batch(self, n: int, concurrency: int = 1) -> float:
        """CPU microseconds per request over ``n`` requests, ``concurrency`` at a time."""
        async def worker(count: int) -> None:
            for _ in range(count):
                await self.once()

        started = time.process_time()
        if concurrency == 1:
            await worker(n)
        else:
            await asyncio.gather(*(worker(n // concurrency) for _ in range(concurrency)))
        return (time.process_time() - started) / (n // concurrency * concurrency) * 1e6


async def run(args: argparse.Namespace, url: str) -> None:
    os.environ.update({"OPENHERO_DATABASE_URL": url, "OPENHERO_SANDBOX": "1",
                       "OPENHERO_RATE_LIMIT": "100000000/minute", "OPENHERO_LOG_LEVEL": "warning"})
    seed = await prepare(url, args.days)
    from openhero.app import create_app

    app = create_app(run_worker=False)
    big, small = seed["big"], seed["small"]
    async with app.router.lifespan_context(app):
        routes = {
            "slots": Caller(app, str(seed["big_url"]), big.headers, 200),  # type: ignore[attr-defined]
            "slots1k": Caller(app, str(seed["small_url"]), small.headers, 200),  # type: ignore[attr-defined]
            "tasks": Caller(app, tasks_list.QUERY, seed["tasks"], 200),  # type: ignore[arg-type]
            "me": Caller(app, "/v1/me", big.headers, 200),  # type: ignore[attr-defined]
            "404": Caller(app, "/v1/slots/abc", big.headers, 404),  # type: ignore[attr-defined]
            "404id": Caller(app, "/v1/slots/999999999", big.headers, 404),  # type: ignore[attr-defined]
            "healthz": Caller(app, "/healthz", {}, 200),
        }
        for caller in routes.values():
            await caller.once()
        # One slot by id (found): the GET-by-id path every resource shares (core/tenancy.get_owned).
        first_slot = json.loads(routes["slots"].body)["data"][0]["id"]
        routes["slot"] = Caller(app, f"/v1/slots/{first_slot}", big.headers, 200)  # type: ignore[attr-defined]
        await routes["slot"].once()
        folder = Path(tempfile.mkdtemp(prefix="openhero-inprocess-"))
        pages = {}
        for name in ("slots", "tasks", "me"):
            (folder / f"{name}.json").write_bytes(routes[name].body)
            pages[name] = str(folder / f"{name}.json")
        os.environ["OPENHERO_CEILING_PAGES"] = json.dumps(pages)
        from bench import ceiling_app

        ceiling = {name: Caller(ceiling_app.app, f"/page/{page}", {}, 200)
                   for name, page in (("slots", "slots"), ("slots1k", "slots"), ("tasks", "tasks"), ("me", "me"),
                                      ("404", "me"), ("404id", "me"), ("slot", "me"), ("healthz", "me"))}
        only = [r for r in (args.only.split(",") if args.only else routes)]
        for name in only:  # warm up
            await routes[name].batch(200)
            await ceiling[name].batch(200)
        own: dict[str, list[float]] = {n: [] for n in only}
        ref: dict[str, list[float]] = {n: [] for n in only}
        ratio: dict[str, list[float]] = {n: [] for n in only}
        for round_no in range(args.rounds):
            for name in (only if round_no % 2 == 0 else list(reversed(only))):
                a = await routes[name].batch(args.requests, args.concurrency)
                c = await ceiling[name].batch(args.requests, args.concurrency)
                own[name].append(a)
                ref[name].append(c)
                ratio[name].append(c / a)
        rows = [[name, f"{statistics.median(own[name]):,.0f}", f"{statistics.median(ref[name]):,.0f}",
                 f"{statistics.median(ratio[name]):.2f}"] for name in only]
        print(f"\nCPU µs per request in process ({url.split(':')[0]}, {args.rounds} rounds × {args.requests}, "
              f"{args.concurrency} at a time):")
        print(table(rows, ["route", "openhero µs", "ceiling µs", "ceiling/openhero"]))
        if args.profile:
            profiler = cProfile.Profile()
            caller = routes[args.profile]
            profiler.enable()
            await caller.batch(args.requests)
            profiler.disable()
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(30)
            print(by_package(stats, args.requests))
            if os.environ.get("BENCH_CALLERS"):
                stats.print_callers(os.environ["BENCH_CALLERS"])


def by_package(stats: pstats.Stats, requests: int) -> str:
    """Own time per request, summed by the package (or openhero module) each function belongs to."""
    totals: dict[str, float] = {}
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if "site-packages/" in filename:
            key = filename.split("site-packages/")[1].split("/")[0]
        elif "/openhero/" in filename:
            key = "openhero." + filename.split("/openhero/")[1].removesuffix(".py").replace("/", ".")
        elif filename == "~":
            key = "builtins: " + name.split(" of ")[-1].strip("<>'") if " of " in name else "builtins"
        else:
            key = "stdlib." + Path(filename).stem
        totals[key] = totals.get(key, 0.0) + tottime
    rows = [[key, f"{value / requests * 1e6:,.1f}"] for key, value in sorted(totals.items(), key=lambda kv: -kv[1])]
    return "\nown time per request by package (µs, under cProfile):\n" + table(rows[:30], ["package", "µs"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=1,
                        help="requests in flight at once (32 is what bench/stack.py's wrk runs)")
    parser.add_argument("--profile", default="", help="route to run under cProfile afterwards")
    parser.add_argument("--only", default="",
                        help="comma-separated routes: slots,slots1k,tasks,me,404,404id,slot,healthz")
    args = parser.parse_args()
    on_fresh_database(args.backend, run, args)


def on_fresh_database(backend: str, run: Any, args: argparse.Namespace) -> None:
    """``await run(args, url)`` on a new, migrated database of ``backend`` (uvloop when installed)."""
    with fresh_database(backend) as url:
        try:
            import uvloop

            uvloop.run(run(args, url))
        except ImportError:
            asyncio.run(run(args, url))


if __name__ == "__main__":
    main()
