"""Real ``openhero`` processes for the operating tests: a worker or an API server on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]


def env(database_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "OPENHERO_DATABASE_URL": database_url, "OPENHERO_SECRET_KEY": TEST_SECRET,
            "OPENHERO_SANDBOX": "1", "OPENHERO_LOG_FORMAT": "json", "OPENHERO_WORKER_POLL_INTERVAL_SECONDS": "0.2",
            "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", **extra}


def start_worker(database_url: str, *args: str, **extra: str) -> subprocess.Popen[str]:
    code = "import tests.ops.slow_jobs; from openhero.cli import app; app()"
    return subprocess.Popen([sys.executable, "-c", code, "worker", *args], env=env(database_url, **extra),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def start_server(database_url: str, port: int, *args: str, **extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "openhero.cli", "serve", "--port", str(port), "--no-migrate", *args],
                            env=env(database_url, **extra), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)  # waiting for a child process to bind its port
    proc.kill()
    raise RuntimeError("server did not start")


def finish(proc: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str]:
    """Wait for a process (killing it if it hangs); its exit code and stderr."""
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        return -9, err
    return proc.returncode, err
