"""SQLite statements through a session (core/db.py ``_InlineConnection``): SELECTs run inline on the event loop,
but none may hold it for long — past ``INLINE_BUDGET_SECONDS`` a SELECT is interrupted and run again in the
connection's thread, with the same answer, inside a transaction or not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, literal, select, text

from openhero.core.db import Database
from openhero.core.reads import INLINE_BUDGET_SECONDS, LONG_READS
from tests.core.test_reads import _long_count, _ticking


@pytest.fixture(autouse=True)
def no_remembered_long_selects() -> Iterator[None]:
    """What other tests interrupted (the same SQL, within OFF_LOOP_SECONDS) would go straight to the thread."""
    LONG_READS.until.clear()
    yield
    LONG_READS.until.clear()


async def test_a_long_select_through_a_session_does_not_hold_the_loop(tmp_path: Any) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/inline.db")
    try:
        stmt = _long_count(1_500_000)
        before = LONG_READS.interrupted

        async def read() -> Any:
            async with database.session(write=False) as session:
                return (await session.execute(stmt)).scalar_one()

        n, gaps, took = await _ticking(read)
        assert n == 1_500_000
        assert LONG_READS.interrupted == before + 1  # stopped inline, answered from the thread
        assert max(gaps) < max(4 * INLINE_BUDGET_SECONDS, 0.05) < took  # the loop ran meanwhile
        # Its SQL now goes straight to the thread: no second budget spent, the loop still free.
        n, gaps, took = await _ticking(read)
        assert n == 1_500_000 and LONG_READS.interrupted == before + 1
        assert max(gaps) < max(4 * INLINE_BUDGET_SECONDS, 0.05) < took
        # Short SELECTs are not interrupted.
        async with database.session(write=False) as session:
            assert (await session.execute(select(literal(3)))).scalar_one() == 3
        assert LONG_READS.interrupted == before + 1
    finally:
        await database.dispose()


async def test_an_interrupted_select_inside_a_transaction_keeps_the_transaction(tmp_path: Any) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/inline_tx.db")
    try:
        async with database.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE notes (n INTEGER)"))
        before = LONG_READS.interrupted
        long_count = _long_count(1_200_000).subquery()
        async with database.session() as session:
            await session.execute(text("INSERT INTO notes (n) VALUES (1), (2)"))
            # One SELECT: the long count, and the rows this transaction has written but not committed.
            stmt = select(long_count.c.n, select(func.count()).select_from(text("notes")).scalar_subquery())
            assert (await session.execute(stmt)).one() == (1_200_000, 2)
            assert LONG_READS.interrupted == before + 1
            await session.execute(text("INSERT INTO notes (n) VALUES (3)"))
            await session.commit()
        async with database.session(write=False) as session:
            assert (await session.execute(text("SELECT count(*) FROM notes"))).scalar_one() == 3
    finally:
        await database.dispose()
