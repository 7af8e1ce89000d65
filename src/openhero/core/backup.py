"""Backups of the embedded SQLite database, and the server lock that makes restores safe.

- ``backup``: SQLite's online backup API copies a consistent snapshot while the server keeps serving
  (readers and the WAL writer are not stopped). On PostgreSQL, ``pg_dump`` is the tool; we print the
  command for the configured database.
- ``restore``: copies a backup over the database through the same API, only when no openhero process
  has the database open. Every API and worker process holds a *shared* ``flock`` on ``<db>.lock`` for
  its whole life; a restore needs the *exclusive* lock, so it is refused while any server runs (and a
  server refuses to start during a restore). The kernel drops the lock when a process dies, so a
  crashed server never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import sqlite3
from pathlib import Path
from typing import IO

from sqlalchemy.engine import URL, make_url


class BackupError(Exception):
    pass


def sqlite_path(database_url: str) -> Path | None:
    """The file behind an SQLite URL (None for PostgreSQL or an in-memory database)."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).resolve()


def _lock_path(db_file: Path) -> Path:
    return db_file.with_name(db_file.name + ".lock")


def hold_server_lock(database_url: str) -> IO[bytes] | None:
    """Take the shared server lock for an SQLite database; keep the returned file open while serving."""
    path = sqlite_path(database_url)
    if path is None:
        return None
    handle = open(_lock_path(path), "ab")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise BackupError(f"a restore of {path.name} is in progress; start the server when it has finished") from None
    return handle


def backup(database_url: str, dest: str | os.PathLike[str]) -> str:
    """SQLite: write a consistent copy to ``dest`` (refuses to overwrite). PostgreSQL: the pg_dump command."""
    path = sqlite_path(database_url)
    if path is None:
        return pg_dump_command(database_url, str(dest))
    target = Path(dest)
    if target.exists():
        raise BackupError(f"{target} exists; choose a new file")
    if not path.exists():
        raise BackupError(f"no database at {path}")
    partial = target.with_name(target.name + ".partial")
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    out = sqlite3.connect(partial)
    try:
        src.backup(out)
    finally:
        out.close()
        src.close()
    os.replace(partial, target)
    return f"backed up {path} to {target}"


def restore(database_url: str, source: str | os.PathLike[str]) -> str:
    path = sqlite_path(database_url)
    if path is None:
        return ("restore a PostgreSQL dump with pg_restore, e.g.:\n  "
                + pg_dump_command(database_url, str(source), tool="pg_restore"))
    src_path = Path(source)
    if not src_path.is_file():
        raise BackupError(f"no backup at {src_path}")
    src = sqlite3.connect(f"file:{src_path}?mode=ro", uri=True)
    try:
        if src.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError(f"{src_path} is not a sound SQLite database")
        with open(_lock_path(path), "ab") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BackupError(f"an openhero server or worker is running against {path}; stop it first "
                                  f"(it holds {_lock_path(path).name})") from None
            dest = sqlite3.connect(path)
            try:
                src.backup(dest)
            finally:
                dest.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{src_path} is not an SQLite database ({exc})") from None
    finally:
        src.close()
    return f"restored {path} from {src_path}"


def pg_dump_command(database_url: str, dest: str, *, tool: str = "pg_dump") -> str:
    """The command for the configured PostgreSQL database; the password, if any, goes in PGPASSWORD."""
    url = make_url(database_url)
    has_password = bool(url.password)
    plain = URL.create("postgresql", username=url.username, host=url.host, port=url.port, database=url.database,
                       query=url.query).render_as_string(hide_password=False)
    prefix = "PGPASSWORD=<password from OPENHERO_DATABASE_URL> " if has_password else ""
    if tool == "pg_restore":
        return f"{prefix}pg_restore --clean --if-exists --no-owner --dbname {shlex.quote(plain)} {shlex.quote(dest)}"
    return f"{prefix}pg_dump --format=custom --no-owner --file {shlex.quote(dest)} {shlex.quote(plain)}"
