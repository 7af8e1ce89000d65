"""Shared bench helpers: fresh databases, a uvicorn subprocess, wrk runs and their figures.

Benches print figures; they never assert timings. wrk (Debian package `wrk`) is the load generator.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_BASE = os.environ.get("OPENHERO_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_answers() -> bool:
    async def probe() -> bool:
        import asyncpg

        try:
            conn = await asyncpg.connect(PG_BASE.replace("+asyncpg", ""), timeout=3)
        except Exception:
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


@contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    """A new, migrated database URL, dropped afterwards."""
    from openhero.core.migrate import upgrade

    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="openhero-bench-")
        url = f"sqlite+aiosqlite:///{folder}/bench.db"
        upgrade(url)
        try:
            yield url
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    import asyncpg

    name = f"openhero_bench_{uuid.uuid4().hex[:8]}"
    admin = PG_BASE.replace("+asyncpg", "")

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    url = f"{PG_BASE.rpartition('/')[0]}/{name}"
    upgrade(url)
    try:
        yield url
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


SERVER_PIDS: dict[str, int] = {}  # base URL -> pid of the process serving it (for CPU accounting)


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its descendants (uvicorn --workers children), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        p = pending.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return total


def process_tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants, in MiB."""
    total = 0
    pending = [pid]
    while pending:
        p = pending.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
            for task in Path(f"/proc/{p}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, AttributeError):
            continue
    return total / 1024


@contextmanager
def server(app: str, env: dict[str, str] | None = None, *, factory: bool = True, workers: int = 1,
           source: str | None = None) -> Iterator[str]:
    """Serve ``app`` (module:attr) with uvicorn (uvloop, httptools) in a subprocess; yield its base URL.
    ``source``: a folder holding another ``openhero`` package (e.g. an older commit's ``src``) to serve instead."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop",
           "--http", "httptools", "--log-level", "warning", "--no-access-log", "--workers", str(workers)]
    if factory:
        cmd.append("--factory")
    path = f"{source}:{ROOT}" if source else str(ROOT)
    full_env = {**os.environ, "PYTHONPATH": path, "OPENHERO_SANDBOX": "1",
                "OPENHERO_RATE_LIMIT": "100000000/minute", **(env or {})}
    proc = subprocess.Popen(cmd, env=full_env, cwd=ROOT)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"server {app} did not start")
        base = f"http://127.0.0.1:{port}"
        SERVER_PIDS[base] = proc.pid
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url: str, headers: dict[str, str] | None = None, *, duration: int = 10, connections: int = 32,
        threads: int = 1) -> WrkResult:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return WrkResult(rps, p50, p99, non2xx, errors)


def table(rows: list[list[object]], header: list[str]) -> str:
    cells = [header] + [[f"{c:,.1f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
