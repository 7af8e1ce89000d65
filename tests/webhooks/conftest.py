"""A real HTTP receiver on loopback for webhook tests, plus helpers to emit events and run workers."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn

from openhero.core.clock import FrozenClock
from openhero.core.db import Database
from openhero.core.outbox import emit
from openhero.core.worker import Worker
from openhero.settings import Settings
from tests.conftest import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def delivery_id(self) -> str:
        return self.headers["x-openhero-delivery-id"]


@dataclass
class Receiver:
    """Records every request; answers with the queued statuses first, then ``default_status``."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: deque[int] = field(default_factory=deque)
    default_status: int = 200
    delay: float = 0.0  # seconds to hold each request (to make concurrent sends overlap)
    on_request: Callable[[Received], Awaitable[None] | None] | None = None
    in_flight: dict[str, int] = field(default_factory=dict)
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    max_in_flight_per_delivery: int = 0

    def at(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the sender went away mid-request: nothing was received
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        got = Received(scope["path"], headers, b"".join(chunks))
        key = headers.get("x-openhero-delivery-id", "")
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        self.max_in_flight_per_delivery = max(self.max_in_flight_per_delivery, self.in_flight[key])
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            self.requests.append(got)
            if self.on_request is not None:
                result = self.on_request(got)
                if result is not None:
                    await result
            status = self.statuses.popleft() if self.statuses else self.default_status
        finally:
            self.in_flight[key] -= 1
        headers_out = [(b"content-type", b"text/plain"), *self.response_headers]
        await send({"type": "http.response.start", "status": status, "headers": headers_out})
        await send({"type": "http.response.body", "body": f"status {status}".encode()})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    target = Receiver()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            target,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            loop="asyncio",
            access_log=False,
        )
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    target.url = f"http://127.0.0.1:{port}"
    yield target
    server.should_exit = True
    await task


@pytest.fixture
def worker(clean: Database, settings: Settings, clock: FrozenClock) -> Worker:
    return Worker(clean, settings, clock, worker_id="test-worker")


async def emit_events(
    db: Database,
    practice_group_id: int,
    count: int = 1,
    *,
    event_type: str = "appointment.confirmed",
    object_type: str = "Appointment",
    first_id: int = 1000,
    now: Any = None,
) -> None:
    async with db.session() as session:
        for i in range(count):
            await emit(session, event_type, object_type, first_id + i, practice_group_id=practice_group_id, now=now)
        await session.commit()


async def create_hook(api: Any, url: str, **fields: Any) -> dict[str, Any]:
    r = await api.post("/v1/webhooks", json={"event_type": "appointment.confirmed", "url": url, **fields})
    assert r.status_code == 200, r.text
    return dict(r.json())
