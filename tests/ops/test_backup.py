"""`openhero db backup` / `db restore` as an operator runs them, against a server that is serving."""

from __future__ import annotations

import asyncio
import signal
import sqlite3

import httpx

from openhero.core.backup import BackupError, backup, pg_dump_command, restore
from openhero.core.db import Database
from openhero.core.migrate import upgrade
from tests.builders import make_tenant
from tests.conftest import free_port
from tests.ops.processes import finish, start_server, start_worker
from tests.test_cli import openhero_process

PATIENT = {"nhs_number": "999 000 0018", "dob": "1948-05-17", "first_name": "Margaret", "last_name": "Holroyd",
           "title": "Mrs", "sex": "Female", "postcode": "LS6 3PX", "mobile": "07700 900101"}


async def _patients(client: httpx.AsyncClient) -> list[str]:
    r = await client.get("/v1/patients", params={"page_size": 100})
    assert r.status_code == 200, r.text
    return sorted(p["last_name"] for p in r.json()["data"])


async def test_backup_while_serving_then_restore_round_trip(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    tenant = await make_tenant(db)
    await db.dispose()
    port = free_port()
    server = await asyncio.to_thread(start_server, url, port, "--no-worker")
    copy = tmp_path / "backup.db"
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=tenant.headers, timeout=60) as c:
            assert (await c.post("/v1/patients/register", json=PATIENT)).status_code == 200

            async def keep_writing() -> None:  # the backup runs while the server takes writes
                for i in range(20):
                    body = {k: v for k, v in PATIENT.items() if k != "nhs_number"}
                    r = await c.post("/v1/patients/register", json={**body, "last_name": f"Writer{i}"})
                    assert r.status_code == 200, r.text

            writing = asyncio.create_task(keep_writing())
            made = await asyncio.to_thread(openhero_process, url, "db", "backup", str(copy))
            await writing
            assert made.returncode == 0, made.stderr
            assert sqlite3.connect(copy).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            backed_up = sqlite3.connect(copy).execute("SELECT last_name FROM patients ORDER BY last_name").fetchall()
            assert ("Holroyd",) in backed_up

            refused = await asyncio.to_thread(openhero_process, url, "db", "restore", str(copy))
            assert refused.returncode == 2 and "running against" in refused.stderr
            again = await asyncio.to_thread(openhero_process, url, "db", "backup", str(copy))
            assert again.returncode == 2 and "exists" in again.stderr
            after_backup = await _patients(c)
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.to_thread(finish, server)

    # Data written after the backup is lost by the restore; the backup's data is back.
    conn = sqlite3.connect(tmp_path / "live.db")
    conn.execute("DELETE FROM patients")
    conn.commit()
    conn.close()
    restored = await asyncio.to_thread(openhero_process, url, "db", "restore", str(copy))
    assert restored.returncode == 0, restored.stderr
    server = await asyncio.to_thread(start_server, url, port, "--no-worker")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=tenant.headers, timeout=60) as c:
            assert (await c.get("/readyz")).status_code == 200
            names = await _patients(c)
            assert names == sorted(n for (n,) in backed_up) and "Holroyd" in names
            assert set(names) <= set(after_backup)
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.to_thread(finish, server)


async def test_restore_is_refused_while_a_worker_runs(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"
    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(backup, url, tmp_path / "copy.db")
    worker = start_worker(url)
    try:
        for _ in range(200):
            if (tmp_path / "w.db.lock").exists():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        refused = await asyncio.to_thread(openhero_process, url, "db", "restore", str(tmp_path / "copy.db"))
        assert refused.returncode == 2 and "running against" in refused.stderr
    finally:
        worker.send_signal(signal.SIGTERM)
        code, err = await asyncio.to_thread(finish, worker)
    assert code == 0, err
    assert "restored" in restore(url, tmp_path / "copy.db")


def test_restore_refuses_what_is_not_a_database(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    try:
        restore(url, junk)
        raise AssertionError("restored junk")
    except BackupError as exc:
        assert "not an SQLite database" in str(exc) or "not a sound" in str(exc)


async def test_postgres_backup_prints_the_pg_dump_command_without_the_password():
    out = await asyncio.to_thread(openhero_process, "postgresql+asyncpg://ops:s3cret@db.internal:5433/openhero",
                                  "db", "backup", "/backups/openhero.dump")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ("PGPASSWORD=<password from OPENHERO_DATABASE_URL> pg_dump --format=custom "
                                  "--no-owner --file /backups/openhero.dump postgresql://ops@db.internal:5433/openhero")
    assert "s3cret" not in out.stdout
    assert pg_dump_command("postgresql+asyncpg://postgres@127.0.0.1/test", "a b.dump").endswith(
        "--file 'a b.dump' postgresql://postgres@127.0.0.1/test")
