"""A throwaway openhero sandbox for a partner's tests: its own SQLite database with the demo data, served by
uvicorn on a free loopback port in a background thread, with an in-process worker (webhooks are really sent)
a test clock and fault switches (the sandbox's own HTTP routes).

    sandbox = start_sandbox(tmp_path)
    sandbox.client.get("/v1/me")
    receiver = sandbox.webhook_receiver(signing_key="whsec_0123456789abcdef")
    sandbox.client.post("/v1/webhooks", json={"url": receiver.url, "event_type": "appointment.confirmed",
                                              "signing_key": receiver.signing_key})
    sandbox.advance(3600)
    sandbox.close()
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

SIGNATURE_HEADER = "X-Herohealth-Signature"
TIMESTAMP_HEADER = "X-Herohealth-Timestamp"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Delivery:
    """One webhook request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    signature_valid: bool | None  # None when the receiver has no signing key

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """An HTTP server on loopback that records every POST and checks its Hero signature."""

    def __init__(self, signing_key: str | None = None, status: int = 200) -> None:
        self.signing_key = signing_key
        self.status = status
        self.deliveries: list[Delivery] = []
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver._record(Delivery(self.path, headers, body, receiver.verify(headers, body)))
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks"

    def verify(self, headers: dict[str, str], body: bytes) -> bool | None:
        if self.signing_key is None:
            return None
        timestamp = headers.get(TIMESTAMP_HEADER.lower(), "")
        expected = hmac.new(self.signing_key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, headers.get(SIGNATURE_HEADER.lower(), ""))

    def _record(self, delivery: Delivery) -> None:
        with self._arrived:
            self.deliveries.append(delivery)
            self._arrived.notify_all()

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[Delivery]:
        """Block until ``count`` deliveries arrived (or raise TimeoutError); returns them all."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.deliveries) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.deliveries)} of {count} webhook deliveries arrived in {timeout}s")
                self._arrived.wait(left)
            return list(self.deliveries)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Sandbox:
    base_url: str
    api_key: str
    practice_group_id: str
    client: httpx.Client
    _stop: Any = None
    _receivers: list[WebhookReceiver] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.api_key, "x-practice-group-id": self.practice_group_id}

    def advance(self, seconds: int) -> datetime:
        """Move the practice group's sandbox clock forward (``POST /openhero/v1/sandbox/clock/advance``): holds
        lapse, tokens expire, scheduled sends fall due and the worker picks them up within a poll interval.
        Returns the group's new time."""
        r = self.client.post("/openhero/v1/sandbox/clock/advance", json={"seconds": int(seconds)})
        r.raise_for_status()
        return datetime.fromisoformat(r.json()["now"].replace("Z", "+00:00"))

    def fault(self, name: str, mode: str, for_seconds: int | None = None) -> None:
        """Switch a fault on (``PUT /openhero/v1/sandbox/faults/{name}``), e.g. ``fault("pds", "unavailable")``."""
        body: dict[str, Any] = {"mode": mode}
        if for_seconds is not None:
            body["for_seconds"] = for_seconds
        self.client.put(f"/openhero/v1/sandbox/faults/{name}", json=body).raise_for_status()

    def clear_faults(self) -> None:
        self.client.delete("/openhero/v1/sandbox/faults").raise_for_status()

    def webhook_receiver(self, signing_key: str | None = None, status: int = 200) -> WebhookReceiver:
        receiver = WebhookReceiver(signing_key=signing_key, status=status)
        self._receivers.append(receiver)
        return receiver

    def close(self) -> None:
        self.client.close()
        for receiver in self._receivers:
            receiver.close()
        if self._stop is not None:
            self._stop()


def prepare_database(path: Path) -> dict[str, str]:
    """Migrate a fresh SQLite file and seed the demo data; returns the demo key and practice group id."""
    from openhero.cli import _demo
    from openhero.core.migrate import upgrade
    from openhero.settings import Settings

    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    secret = secrets.token_urlsafe(32)
    settings = Settings(database_url=url, sandbox=True, secret_key=secret,
                        _env_file=None)  # type: ignore[call-arg]
    result: dict[str, Any] = {}

    def seed() -> None:  # in a thread of its own: the caller may be inside a running event loop
        result.update(asyncio.run(_demo(settings)))

    thread = threading.Thread(target=seed)
    thread.start()
    thread.join()
    return {"api_key": result["api_key"], "practice_group_id": result["practice_group_id"], "secret_key": secret}


def start_sandbox(directory: Path, *, template: tuple[Path, dict[str, str]] | None = None,
                  timeout: float = 30.0) -> Sandbox:
    """Serve a fresh sandbox from ``directory``. ``template`` (a prepared database file and its demo
    credentials, from ``prepare_database``) is copied instead of migrating and seeding again."""
    import uvicorn

    from openhero.app import create_app
    from openhero.settings import Settings

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "openhero-sandbox.db"
    if template is not None:
        shutil.copyfile(template[0], path)
        credentials = template[1]
    else:
        credentials = prepare_database(path)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = Settings(database_url=f"sqlite+aiosqlite:///{path}", sandbox=True, secret_key=credentials["secret_key"],
                        public_base_url=base_url, rate_limit="100000/minute", worker_poll_interval_seconds=0.05,
                        _env_file=None)  # type: ignore[call-arg]
    app = create_app(settings, run_worker=True)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve())
        except BaseException as exc:  # surfaced to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"openhero-sandbox-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if failure or not thread.is_alive():
            raise RuntimeError(f"the openhero sandbox did not start: {failure[0] if failure else 'exited'}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the openhero sandbox did not start within {timeout}s")
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=15)

    headers = {"x-api-key": credentials["api_key"], "x-practice-group-id": credentials["practice_group_id"]}
    client = httpx.Client(base_url=base_url, headers=headers, timeout=30)
    return Sandbox(base_url=base_url, api_key=credentials["api_key"],
                   practice_group_id=credentials["practice_group_id"], client=client, _stop=stop)
