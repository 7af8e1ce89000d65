"""Wake-ups between real processes: on PostgreSQL a worker polling only every 30 s still starts new work
within a moment of the writer's commit (NOTIFY in the writer's transaction, LISTEN in the worker); on
SQLite the worker polls."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

from sqlalchemy import select

from openhero.core.jobs import Job, JobStatus, enqueue
from openhero.core.outbox import Event, emit
from tests.builders import make_practice_group
from tests.ops.processes import finish, start_worker


def _collect(stream, into: list[str]) -> threading.Thread:  # type: ignore[no-untyped-def]
    def read() -> None:
        for line in stream:
            into.append(line)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


async def _until(predicate, within: float) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while time.monotonic() - started < within:
        if await predicate():
            return time.monotonic() - started
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within {within} s")


async def test_a_commit_wakes_a_worker_in_another_process(database_url, clean, backend):
    group = await make_practice_group(clean)
    poll = "30" if backend == "postgres" else "0.3"
    proc = start_worker(database_url, OPENHERO_WORKER_POLL_INTERVAL_SECONDS=poll, OPENHERO_SHUTDOWN_TIMEOUT_SECONDS="2")
    lines: list[str] = []
    _collect(proc.stderr, lines)
    try:
        await _until(lambda: _true(any("started" in line for line in lines)), 30)
        mode = "LISTEN/NOTIFY and polling" if backend == "postgres" else "(polling)"
        assert any(mode in line for line in lines), lines
        await asyncio.sleep(0.5)  # the worker's first round is over; it now waits (30 s on PostgreSQL)

        for _ in range(3):
            async with clean.session() as s:
                job = await enqueue(s, "test.slow", {"name": "quick", "seconds": 0})
                await s.commit()

            async def job_done(job_id: int = job.id) -> bool:
                async with clean.session(write=False) as s:
                    return (await s.get(Job, job_id, populate_existing=True)).status == JobStatus.DONE  # type: ignore[union-attr]

            assert await _until(job_done, 5) < 5

            async with clean.session() as s:
                event = await emit(s, "appointment.confirmed", "Appointment", 1, practice_group_id=group.id)
                await s.commit()

            async def dispatched(event_id: int = event.id) -> bool:
                async with clean.session(write=False) as s:
                    row = (await s.execute(select(Event.dispatched_at).where(Event.id == event_id))).scalar_one()
                    return row is not None

            assert await _until(dispatched, 5) < 5
            await asyncio.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        code, _ = await asyncio.to_thread(finish, proc)
    assert code == 0


async def _true(value: bool) -> bool:
    return value


async def test_notify_arrives_on_commit_only(clean, backend):
    from openhero.core.wakeup import Listener

    wakes: list[float] = []
    listener = Listener(clean.engine.url, lambda: wakes.append(time.monotonic())) if backend == "postgres" else None
    if listener is not None:
        await listener.ensure()
        assert listener.listening
    try:
        wakes.clear()
        async with clean.session() as s:
            await enqueue(s, "test.slow", {"name": "a", "seconds": 0})
            await enqueue(s, "test.slow", {"name": "b", "seconds": 0})
            assert (s.info.get("openhero.notified_in") is not None) == (backend == "postgres")
            await s.rollback()
        await asyncio.sleep(0.3)
        assert wakes == []  # a rolled-back job wakes nobody
        async with clean.session() as s:
            await enqueue(s, "test.slow", {"name": "c", "seconds": 0})
            await enqueue(s, "test.slow", {"name": "d", "seconds": 0})
            await asyncio.sleep(0.2)
            assert wakes == []  # not before the commit
            await s.commit()
        if listener is not None:
            await _until(lambda: _true(bool(wakes)), 2)
            await asyncio.sleep(0.2)
            assert len(wakes) == 1  # one NOTIFY per transaction
    finally:
        if listener is not None:
            await listener.close()


async def test_an_event_carries_its_wake_up_in_its_own_insert(clean, backend):
    """core/outbox.emit: on PostgreSQL the first event of a transaction is INSERTed and NOTIFYs in one
    statement; later events and jobs of the same transaction send no NOTIFY of their own; the worker is woken
    after the commit; the returned event is the stored row."""
    from sqlalchemy import event as sa_event

    from openhero.core.wakeup import Listener

    group = await make_practice_group(clean)
    wakes: list[float] = []
    listener = Listener(clean.engine.url, lambda: wakes.append(time.monotonic())) if backend == "postgres" else None
    if listener is not None:
        await listener.ensure()
    sent: list[str] = []

    def record(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        sent.append(statement)

    sa_event.listen(clean.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with clean.session() as s:
            first = await emit(s, "appointment.confirmed", "Appointment", 7, practice_group_id=group.id,
                               data={"k": "v"})
            await emit(s, "appointment.cancelled", "Appointment", 7, practice_group_id=group.id)
            await enqueue(s, "test.slow", {"name": "x", "seconds": 0})
            await s.commit()
        notifies = [st for st in sent if "pg_notify" in st.lower()]
        if backend == "postgres":
            # One NOTIFY for the transaction, inside the first event's INSERT (PostgreSQL delivers it on
            # commit only: test_notify_arrives_on_commit_only).
            assert len(notifies) == 1 and notifies[0].lstrip().upper().startswith("WITH"), notifies
            await _until(lambda: _true(bool(wakes)), 2)
        else:
            assert notifies == []
        async with clean.session(write=False) as s:
            stored = await s.get(Event, first.id)
            assert stored is not None
            assert (stored.event_type, stored.object_id, stored.data, stored.created_at, stored.dispatched_at) == (
                first.event_type, first.object_id, first.data, first.created_at, first.dispatched_at)
        # A rolled-back event leaves no row (its NOTIFY went with it).
        async with clean.session() as s:
            gone = await emit(s, "appointment.confirmed", "Appointment", 8, practice_group_id=group.id)
            gone_id = gone.id
            await s.rollback()
        async with clean.session(write=False) as s:
            assert await s.get(Event, gone_id) is None
    finally:
        sa_event.remove(clean.engine.sync_engine, "before_cursor_execute", record)
        if listener is not None:
            await listener.close()
