"""Hot reads (core/reads.py): the driver on a pinned connection gives exactly the rows the session gives,
sees every committed change, and steps aside (to the session) whenever it cannot be sure."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import bindparam, func, literal, select, text

from openhero.booking import repository
from openhero.booking.repository import SlotFilter
from openhero.core.db import Database, _rows, read_rows
from openhero.core.reads import HotReads
from openhero.practice import service as practice_service
from openhero.tasks import service as task_service
from openhero.tasks.service import TaskFilter
from tests.booking.builders import make_world
from tests.builders import make_admin, make_patient, make_task


@pytest.fixture
async def own(database_url: str, clean: Database) -> Any:
    """A Database of its own (same data as ``clean``), for tests that count pinned and lent connections: the
    shared one's counts depend on what earlier tests did."""
    db = Database(database_url, pool_size=10)
    yield db
    await db.dispose()


def _plain(rows: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in rows]


async def _both(db: Database, stmt: Any, params: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """(hot rows, the session's own rows) for one statement."""
    assert db.hot is not None
    hot = await db.hot.rows(stmt, params)
    assert hot is not None, "the hot path declined a statement it should serve"
    async with db.session(write=False) as session:
        own = await session.run_sync(_rows, stmt, params)
    return hot, list(own)


async def _world(db: Database, now: Any) -> Any:
    world = await make_world(db, now, slots=8)
    patient = await make_patient(db, world.tenant.id, deceased_at=None)
    admin = await make_admin(db, world.tenant.id)
    for i in range(5):
        await make_task(db, world.tenant.id, status=("open", "closed", "in_progress")[i % 3],
                        priority=("high", "low", "medium")[i % 3], patient_id=patient.id if i % 2 else None,
                        assignee_type="admin" if i % 2 else None, assignee_id=admin.id if i % 2 else None,
                        created_at=now - timedelta(minutes=i), updated_at=now - timedelta(minutes=i))
    return world, admin


SLOT_FILTERS = [
    lambda w, now: SlotFilter(),
    lambda w, now: SlotFilter(start=w.start + timedelta(minutes=15), end=w.start + timedelta(hours=1)),
    lambda w, now: SlotFilter(location_ids=[w.location.id], practitioner_ids=[w.practitioner.id, 999_999]),
    lambda w, now: SlotFilter(appointment_type_ids=[w.appt_type.id, w.appt_type.id + 1], end=w.start),
]


@pytest.mark.parametrize("case", range(len(SLOT_FILTERS)))
async def test_slot_statements_give_the_sessions_rows(clean: Database, clock: Any, case: int) -> None:
    now = clock.now()
    world, _admin = await _world(clean, now)
    flt = SLOT_FILTERS[case](world, now)
    for kind, extra in ((repository._page, {"limit": 3, "offset": 1}), (repository._count, {}),
                        (repository._type_stats, {}), (repository._practitioners, {})):
        stmt, params = repository._prepared(kind, flt, now, group_id=world.tenant.id, **extra)
        hot, own = await _both(clean, stmt, params)
        assert _plain(hot) == _plain(own)
        assert [tuple(r) for r in hot] == [tuple(r) for r in own]
    # And the rows are what the service reads: values typed as SQLAlchemy types them (aware UTC datetimes).
    stmt, params = repository._prepared(repository._page, SlotFilter(), now, group_id=world.tenant.id,
                                        limit=50, offset=0)
    hot, _own = await _both(clean, stmt, params)
    assert len(hot) == 8 and hot[0].start_time == world.start and hot[0].start_time.tzinfo is not None
    assert hot[0].total == 8 and hot[0][0] == world.slot_ids[0]


@pytest.mark.parametrize("flt", [
    TaskFilter(),
    TaskFilter(statuses=["open", "in_progress"], priorities=["high"], order_by=["priority", "updated_at"],
               descending=[False, True]),
    TaskFilter(assignee_types=["admin", "unassigned"]),
])
async def test_task_statements_give_the_sessions_rows(clean: Database, clock: Any, flt: TaskFilter) -> None:
    world, admin = await _world(clean, clock.now())
    shape = task_service._shape(flt)
    typed = [t for t in flt.assignee_types if t != "unassigned"]
    values = {"group_id": world.tenant.id, "limit": 3, "offset": 0, "statuses": flt.statuses,
              "priorities": flt.priorities, "id_types": typed or ["admin"], "assignee_ids": [admin.id],
              "typed": typed}
    stmt, params = task_service._STATEMENTS.bind((task_service._page, shape),
                                                 lambda: task_service._page(shape), values)
    hot, own = await _both(clean, stmt, params)
    assert hot and _plain(hot) == _plain(own)
    assert {row.patient__id is None for row in hot} <= {True, False}


async def test_practice_view_and_json_columns(clean: Database, clock: Any) -> None:
    world, _admin = await _world(clean, clock.now())
    hot, own = await _both(clean, practice_service._GROUP_VIEW, {"group_id": world.tenant.id})
    assert _plain(hot) == _plain(own) and hot[0].address == own[0].address


async def test_a_committed_change_is_seen_by_the_next_hot_read(clean: Database, clock: Any,
                                                                api: httpx.AsyncClient, tenant: Any) -> None:
    served = clean.hot.served
    assert (await api.get("/v1/me")).json()["name"] == tenant.group.name
    async with clean.session() as session:
        await session.execute(text("UPDATE practice_groups SET name = 'Renamed' WHERE id = :id"),
                              {"id": tenant.id})
        await session.commit()
    assert (await api.get("/v1/me")).json()["name"] == "Renamed"
    assert clean.hot.served == served + 2  # both reads were served hot


async def test_what_the_plan_does_not_cover_goes_through_the_session(clean: Database) -> None:
    assert clean.hot is not None
    odd = select(literal(1).label("1 not a name"))  # no attribute can carry that name
    assert await clean.hot.rows(odd, {}) is None
    async with clean.session(write=False) as session:
        assert [tuple(r) for r in await read_rows(session, odd, {})] == [(1,)]
    # A write session never reads hot: it must see its own uncommitted changes.
    async with clean.session() as session:
        assert session.info.get("openhero.hot_reads") is None


async def test_a_broken_pinned_connection_is_replaced_and_the_read_still_answers(
        clean: Database, clock: Any, own: Database) -> None:
    world, _admin = await _world(clean, clock.now())
    hot = own.hot
    assert hot is not None
    stmt, params = practice_service._GROUP_VIEW, {"group_id": world.tenant.id}
    assert await hot.rows(stmt, params)
    driver = hot._free[-1]
    if clean.is_postgres:
        pid = driver.get_server_pid()
        async with clean.engine.connect() as conn:  # another connection ends the pinned one's backend
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await asyncio.sleep(0.1)
    else:
        driver.close()  # the sqlite3 connection under the pinned pool connection
    async with own.session(write=False) as session:  # the hot read fails, the session answers
        rows = await read_rows(session, stmt, params)
    assert rows[0].name == world.tenant.group.name
    assert hot.pinned == 0  # the broken one was dropped (invalidated in the pool) ...
    assert await hot.rows(stmt, params)  # ... and a fresh one pinned by the next read
    assert hot.pinned == 1 and hot._free[-1] is not driver


async def test_concurrent_reads_pin_at_most_the_limit(clean: Database, clock: Any, own: Database) -> None:
    world, _admin = await _world(clean, clock.now())
    stmt, params = practice_service._GROUP_VIEW, {"group_id": world.tenant.id}

    async def read() -> str:
        async with own.session(write=False) as session:
            return (await read_rows(session, stmt, params))[0].name  # type: ignore[no-any-return]

    await read()  # pins the first connection
    served = own.hot.served
    names = await asyncio.gather(*(read() for _ in range(40)))
    assert set(names) == {world.tenant.group.name}
    assert own.hot.served == served + 40  # every one hot: those that found no free connection waited
    assert 1 <= own.hot.pinned <= own.hot.limit
    assert own.engine.pool.checkedout() == own.hot.pinned


async def test_dispose_hands_the_pinned_connections_back(database_url: str) -> None:
    db = Database(database_url, pool_size=4)
    try:
        assert db.hot is not None
        assert await db.hot.rows(select(bindparam("x") + 1), {"x": 41}) == [(42,)]
        assert db.engine.pool.checkedout() == 1
    finally:
        await db.dispose()
    assert db.hot.pinned == 0 and db.engine.pool.checkedout() == 0
    assert await db.hot.rows(select(literal(1)), {}) is None  # closed: reads go through the session


def test_the_pin_limit_follows_the_pool(database_url: str) -> None:
    db = Database(database_url, pool_size=12)
    assert isinstance(db.hot, HotReads)
    assert db.hot.limit == (1 if not db.is_postgres else 6)


async def test_cancelled_reads_leave_no_connection_behind(own: Database) -> None:
    """Reads cancelled while running (PostgreSQL) or while waiting for a pinned connection give back or drop
    what they held: afterwards the pool lends out only the pinned connections, and reads still answer."""
    hot = own.hot
    if own.is_postgres:
        slow = select(func.pg_sleep(0.5).label("slept"))
    else:
        n = select(literal(1).label("n")).cte(recursive=True)
        # Inline on SQLite (nothing is cancelled mid-read there); short enough to stay within the inline budget.
        n = n.union_all(select(n.c.n + 1).where(n.c.n < 5_000))
        slow = select(func.count().label("rows")).select_from(n)
    pinned = [await hot._pin() for _ in range(hot.limit)]  # as a busy server would have them
    for driver in pinned:
        await hot._give_back(driver)
    tasks = [asyncio.ensure_future(hot.rows(slow, {})) for _ in range(3 * hot.limit)]
    await asyncio.sleep(0.05)
    if own.is_postgres:
        assert hot._waiters  # some are waiting for a pinned connection, the others running their read
    for task in tasks[::2]:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    answered = [r for r in results if not isinstance(r, BaseException)]
    assert answered and all(r is not None and len(r) == 1 for r in answered)
    assert own.engine.pool.checkedout() == hot.pinned <= hot.limit
    assert not hot._waiters
    assert await hot.rows(select(literal(5).label("five")), {}) == [(5,)]


async def test_dates_are_converted_once_per_raw_value(clean: Database, clock: Any) -> None:
    """Timestamps repeat across pages and requests; a date column's conversion is remembered per raw value
    (the same immutable value comes back), other columns are converted every time."""
    world, _admin = await _world(clean, clock.now())
    stmt, params = repository._prepared(repository._page, SlotFilter(), clock.now(), group_id=world.tenant.id,
                                        limit=50, offset=0)
    first, second = await clean.hot.rows(stmt, params), await clean.hot.rows(stmt, params)
    assert first == second
    assert all(a.start_time is b.start_time for a, b in zip(first, second, strict=True))
    plan = clean.hot.plan(stmt)
    memoised = {i for i, convert in plan.converters if hasattr(convert, "cache_info")}
    assert memoised == {4, 5}  # start_time and finish_time


async def test_a_read_cancelled_while_pinning_lets_the_waiters_go_to_the_session(own: Database) -> None:
    hot = own.hot
    quick = select(literal(3).label("three"))
    tasks = [asyncio.ensure_future(hot.rows(quick, {})) for _ in range(4)]
    await asyncio.sleep(0)  # the first is taking a connection from the pool, the others wait for it
    assert hot._pinning and len(hot._waiters) == 3
    tasks[0].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(r in (None, [(3,)]) for r in results[1:])  # None: the caller's session answers instead
    assert not hot._waiters and own.engine.pool.checkedout() == hot.pinned
    assert await hot.rows(quick, {}) == [(3,)]


async def test_switched_off_every_read_goes_through_the_session_with_the_same_answers(
        settings: Any, clean: Database, clock: Any, tenant: Any) -> None:
    from openhero.app import create_app

    world = await make_world(clean, clock.now(), slots=3, tenant=tenant)
    paths = ["/v1/me", f"/v1/slots/{world.slot_ids[0]}", "/v1/slots/999999999", "/v1/slots?page_size=2",
             "/v2/tasks"]
    answers = {}
    off = Database(settings.database_url, pool_size=4, hot_reads=False)
    try:
        for db in (clean, off):
            served = db.hot.served
            app = create_app(settings.model_copy(update={"hot_reads": db is clean}), clock=clock, db=db)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=tenant.headers) as c:
                got = [(r.status_code, r.json()) for r in [await c.get(p) for p in paths]]
            answers[db is clean] = got
            assert (db.hot.served > served) == (db is clean)
        assert off.hot.pinned == 0
        assert answers[True] == answers[False]
    finally:
        await off.dispose()


def _long_count(n: int) -> Any:
    """A read SQLite needs a while for (counting n rows of a recursive CTE: ~100 ms for 1,000,000), written as
    a SELECT (the CTE nested in a subquery): the session runs SELECTs inline on the loop, like a slot page."""
    c = select(literal(1).label("x")).cte("c", recursive=True, nesting=True)
    c = c.union_all(select((c.c.x + 1).label("x")).where(c.c.x < n))
    return select(select(func.count()).select_from(c).scalar_subquery().label("n"))


async def _ticking(read: Any) -> tuple[Any, list[float], float]:
    """Run ``read()`` while a coroutine ticks every millisecond: (its result, the gaps between ticks, how long
    it took). A read that holds the loop shows as one gap as long as itself."""
    gaps: list[float] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def ticker() -> None:
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = loop.time()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    started = loop.time()
    try:
        result = await read()
    finally:
        took = loop.time() - started
        done.set()
        await tick
    return result, gaps, took


async def test_a_long_read_does_not_hold_the_event_loop(own: Database) -> None:
    """SQLite reads inline: one past the budget is interrupted and run again off the loop — the same answer,
    other coroutines keep running meanwhile, and its next reads go straight off the loop (the session sends the
    same SQL the hot read did, so no second budget is spent). PostgreSQL's hot reads await the socket: a long
    one is served hot and the loop runs throughout."""
    from openhero.core import reads
    from openhero.core.reads import LONG_READS

    hot = own.hot
    assert hot is not None
    LONG_READS.until.clear()
    interrupted = LONG_READS.interrupted
    if own.is_postgres:
        stmt = select(func.pg_sleep(0.3).label("slept"), literal(7).label("n"))
        served = hot.served

        async def pg_read() -> Any:
            async with own.session(write=False) as session:
                return await read_rows(session, stmt, {})

        rows, gaps, took = await _ticking(pg_read)
        assert rows[0].n == 7 and hot.served == served + 1 and LONG_READS.interrupted == interrupted
        assert max(gaps) < 0.1 < took
        return
    stmt = _long_count(1_500_000)
    assert str(stmt.compile(dialect=own.engine.dialect)).startswith("SELECT")
    async with own.session(write=False) as session:
        started = asyncio.get_running_loop().time()
        assert [tuple(r) for r in await session.run_sync(_rows, stmt, {})] == [(1_500_000,)]
        alone = asyncio.get_running_loop().time() - started  # how long the read takes off the loop
    assert alone > 10 * reads.INLINE_BUDGET_SECONDS, "the read should be long enough to need the budget"
    LONG_READS.until.clear()  # that read ran long too: forget it, so that the hot read tries inline
    interrupted, served = LONG_READS.interrupted, hot.served

    async def sqlite_read() -> Any:
        async with own.session(write=False) as session:
            return await read_rows(session, stmt, {})

    rows, gaps, took = await _ticking(sqlite_read)
    assert rows[0].n == 1_500_000
    assert LONG_READS.interrupted == interrupted + 1 and hot.served == served  # stopped inline, answered off it
    # The loop went on while the read ran: no gap much longer than the budget (held, one gap would be `took`).
    assert max(gaps) < max(4 * reads.INLINE_BUDGET_SECONDS, 0.05) < took
    # Its SQL now goes straight to the session's thread (no second budget spent) ...
    async with own.session(write=False) as session:
        assert (await read_rows(session, stmt, {}))[0].n == 1_500_000
    assert LONG_READS.interrupted == interrupted + 1
    # ... while short reads on the same pinned connection are still served inline.
    assert await hot.rows(select(bindparam("x") + 1), {"x": 1}) == [(2,)]
    assert hot.served == served + 1


async def test_hot_reads_leave_no_progress_handler_on_the_pinned_connection(tmp_path: Any) -> None:
    """The budget's progress handler is on the connection only while a hot read runs: a long statement run on
    the same connection afterwards (as the pool's next user would, after close) is not interrupted."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/handler.db", pool_size=2)
    try:
        assert db.hot is not None and await db.hot.rows(select(literal(1)), {}) == [(1,)]
        driver = db.hot._free[-1]
        await db.hot.close()
        # Well past that read's budget in CPU time: a handler left behind would interrupt this.
        assert driver.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) "
                              "SELECT count(*) FROM c").fetchall() == [(1000000,)]
    finally:
        await db.dispose()
