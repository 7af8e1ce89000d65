"""One authenticated read taken apart, layer by layer, in process (CPU µs per request).

Probe routes are added to the real app, each one layer more than the last: a bare route through openhero's
middleware, + query parameters FastAPI extracts (``page_params``, ``slot_filter``), + ``authenticate``,
+ a session dependency (the generator ``get_session`` and the plain ``read_session``), + one Core select of
one row; then ``GET /v1/me`` itself. A second table times the single query alone (session, connection,
execute) outside any request. Rounds are interleaved; medians are printed.

    .venv/bin/python bench/breakdown.py [--backend sqlite|postgres] [--rounds 5] [--requests 1500]
"""


import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Annotated, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import table  # noqa: E402
from bench.inprocess import Caller, on_fresh_database  # noqa: E402
from bench.stack import prepare  # noqa: E402


def _probe_routes(app: Any) -> None:
    from fastapi import Depends, Response
    from sqlalchemy.ext.asyncio import AsyncSession

    from openhero.booking.params import SlotFilterDep
    from openhero.core.auth import PrincipalDep
    from openhero.core.db import read_rows
    from openhero.core.deps import ReadSessionDep, get_session
    from openhero.core.pagination import PageDep
    from openhero.practice import service

    generator_session = Annotated[AsyncSession, Depends(get_session, scope="function")]

    def empty() -> Response:
        return Response(b"{}", media_type="application/json")

    @app.get("/zz/bare")
    async def bare() -> Response:
        return empty()

    @app.get("/zz/page")
    async def page(page: PageDep) -> Response:
        return empty()

    @app.get("/zz/page+filters")
    async def filters(page: PageDep, flt: SlotFilterDep) -> Response:
        return empty()

    @app.get("/zz/auth")
    async def auth(principal: PrincipalDep) -> Response:
        return empty()

    @app.get("/zz/auth+generator-session")
    async def generator(principal: PrincipalDep, session: generator_session) -> Response:
        return empty()

    @app.get("/zz/auth+read-session")
    async def plain(principal: PrincipalDep, session: ReadSessionDep) -> Response:
        return empty()

    @app.get("/zz/auth+read-session+query")
    async def query(principal: PrincipalDep, session: ReadSessionDep) -> Response:
        await read_rows(session, service._GROUP_VIEW, {"group_id": principal.practice_group_id})
        return empty()


async def _query_alone(url: str, group_id: int, n: int, rounds: int) -> list[list[str]]:
    from openhero.core.db import Database
    from openhero.practice.service import _GROUP_VIEW

    db = Database(url)
    params = {"group_id": group_id}

    async def session_only() -> None:
        s = db.session(write=False)
        await s.close()

    async def session_connection() -> None:
        s = db.session(write=False)
        await s.connection()
        await s.close()

    async def session_query_two_hops() -> None:
        s = db.session(write=False)
        conn = await s.connection()
        (await conn.execute(_GROUP_VIEW, params)).first()
        await s.close()

    async def session_query_read_rows() -> None:
        from openhero.core.db import read_rows

        s = db.session(write=False)
        await read_rows(s, _GROUP_VIEW, params)
        await s.close()

    async def engine_connection_query() -> None:
        async with db.engine.connect() as conn:
            (await conn.execute(_GROUP_VIEW, params)).first()

    cases = {"AsyncSession() + close": session_only, "+ its connection": session_connection,
             "+ the query (connection(), execute())": session_query_two_hops,
             "+ the query (read_rows: one hop)": session_query_read_rows,
             "engine.connect() + the query": engine_connection_query}
    figures: dict[str, list[float]] = {name: [] for name in cases}
    try:
        for fn in cases.values():
            for _ in range(200):
                await fn()
        for _ in range(rounds):
            for name, fn in cases.items():
                started = time.process_time()
                for _ in range(n):
                    await fn()
                figures[name].append((time.process_time() - started) / n * 1e6)
    finally:
        await db.dispose()
    return [[name, f"{statistics.median(values):,.0f}"] for name, values in figures.items()]


async def run(args: argparse.Namespace, url: str) -> None:
    os.environ.update({"OPENHERO_DATABASE_URL": url, "OPENHERO_SANDBOX": "1",
                       "OPENHERO_RATE_LIMIT": "100000000/minute"})
    seed = await prepare(url, 2)
    from openhero.app import create_app

    app = create_app(run_worker=False)
    _probe_routes(app)
    headers = seed["big"].headers  # type: ignore[attr-defined]
    paths = ["/zz/bare", "/zz/page", "/zz/page+filters", "/zz/auth", "/zz/auth+generator-session",
             "/zz/auth+read-session", "/zz/auth+read-session+query", "/v1/me"]
    async with app.router.lifespan_context(app):
        callers = {path: Caller(app, path, headers, 200) for path in paths}
        for caller in callers.values():
            await caller.batch(300)
        figures: dict[str, list[float]] = {path: [] for path in paths}
        for _ in range(args.rounds):
            for path, caller in callers.items():
                figures[path].append(await caller.batch(args.requests))
    print(f"\nOne request, layer by layer ({url.split(':')[0]}; CPU µs per request, median of {args.rounds}):")
    print(table([[path, f"{statistics.median(values):,.0f}"] for path, values in figures.items()],
                ["route", "µs"]))
    rows = await _query_alone(url, int(seed["big"].group_id), args.requests, args.rounds)  # type: ignore[attr-defined]
    print("\nThe query alone (outside a request; CPU µs per call):")
    print(table(rows, ["what", "µs"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=1500)
    args = parser.parse_args()
    on_fresh_database(args.backend, run, args)


if __name__ == "__main__":
    main()
