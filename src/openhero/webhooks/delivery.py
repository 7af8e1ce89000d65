"""One delivery attempt over HTTP: build the signed request, POST it, and judge the answer.

Before every attempt the target is resolved and checked (``targets.py``): a non-public address is
refused unless private targets are allowed, and the POST goes to exactly the address checked. The
response snippet is kept in the delivery log only when that address is public, so the log never shows
what an internal service answered.

Success is a 2xx within ``TIMEOUT`` seconds (the whole exchange, not per socket operation); redirects
are not followed (a 3xx is a failure). Anything else is retried with capped exponential backoff and
jitter until the delivery's retry window (24 hours from creation or replay) closes; then it is failed.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

import httpx

from openhero import __version__
from openhero.core.sandbox import fault_for
from openhero.core.worker import backoff
from openhero.webhooks import signing, targets
from openhero.webhooks.models import DeliveryStatus
from openhero.webhooks.queue import Claimed, Outcome, Target
from openhero.webhooks.sender import Sender, SendError

TIMEOUT = 10.0
SNIPPET_CHARS = 500
_MAX_READ = 64 * 1024
USER_AGENT = f"openhero-webhooks/{__version__}"
BACKOFF_BASE_SECONDS = 15.0
BACKOFF_CAP_SECONDS = 3600.0


def build_headers(
    *,
    delivery_id: int,
    attempt: int,
    timestamp: int,
    body: bytes,
    key: bytes | None,
    custom: dict[str, str],
    is_test: bool = False,
) -> dict[str, str]:
    # The subscription's own headers go first; reserved names were refused when they were stored, and the
    # reserved values below are applied last so they always win.
    headers = dict(custom)
    headers.update(
        {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Herohealth-Timestamp": str(timestamp),
            "X-Openhero-Delivery-Id": str(delivery_id),
            "X-Openhero-Delivery-Attempt": str(attempt),
        }
    )
    if key is not None:
        headers["X-Herohealth-Signature"] = signing.sign(key, timestamp, body)
    if is_test:
        headers["X-Openhero-Test"] = "true"
    return headers


def _via_address(url: str, target: targets.Resolved, headers: dict[str, str]) -> str:
    """For the httpx path (used when a proxy is configured): plain http goes to the checked address
    with the original Host header; https keeps the host name so the certificate can be verified
    through the proxy's tunnel (the proxy then resolves it: egress filtering is the proxy's job)."""
    if target.parts.scheme != "http":
        return url
    original = httpx.URL(url)
    headers["Host"] = original.netloc.decode("ascii").rpartition("@")[2]
    return str(original.copy_with(host=target.address))


async def _post(
    http: httpx.AsyncClient,
    sender: Sender | None,
    url: str,
    body: bytes,
    headers: dict[str, str],
    target: targets.Resolved,
) -> tuple[int, str]:
    async with asyncio.timeout(TIMEOUT):
        if sender is not None:
            status, data = await sender.post(url, body, headers, address=target.address)
            return status, data[: SNIPPET_CHARS * 4].decode("utf-8", "replace")
        request = http.build_request("POST", _via_address(url, target, headers), content=body, headers=headers)
        response = await http.send(request, stream=True, follow_redirects=False)
        try:
            chunks: list[bytes] = []
            size = 0
            # Read small answers whole (so the connection is reused); cut huge ones short.
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= _MAX_READ:
                    break
        finally:
            await response.aclose()
        return response.status_code, b"".join(chunks)[: SNIPPET_CHARS * 4].decode("utf-8", "replace")


def next_step(claimed: Claimed, now: datetime) -> tuple[str, datetime | None]:
    """After a failed attempt: retry (capped, jittered, never past the window) or give up."""
    if now >= claimed.retry_until:
        return DeliveryStatus.FAILED, None
    delay = backoff(claimed.attempts, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS)
    return DeliveryStatus.PENDING, min(now + delay, claimed.retry_until)


async def attempt(
    http: httpx.AsyncClient,
    sender: Sender | None,
    claimed: Claimed,
    target: Target | None,
    *,
    guard: targets.TargetGuard,
    secret_key: str,
    now: datetime,
    worker_id: str,
    schedule_now: datetime | None = None,
) -> Outcome:
    if target is None or not target.live:
        return Outcome(claimed.id, DeliveryStatus.CANCELLED, error="subscription deleted")
    body = claimed.body.encode()
    record: dict[str, Any] = {
        "delivery_id": claimed.id,
        "number": claimed.attempts,
        "worker_id": worker_id,
        "started_at": now,
        "status_code": None,
        "error": None,
        "response_snippet": None,
    }
    started = time.perf_counter()
    status_code: int | None = None
    error: str | None = None
    try:
        key = signing.decrypt_key(secret_key, target.signing_key_encrypted) if target.signing_key_encrypted else None
        headers = build_headers(
            delivery_id=claimed.id,
            attempt=claimed.attempts,
            timestamp=int(now.timestamp()),
            body=body,
            key=key,
            custom=target.headers,
            is_test=claimed.is_test,
        )
        if fault_for(target.practice_group_id, "webhooks") == "drop":  # sandbox fault: as if the receiver failed
            status_code, snippet = 500, "sandbox fault: webhooks drop (nothing was sent)"
            record["response_snippet"] = snippet
        else:
            resolved = await asyncio.wait_for(guard.resolve(target.url), TIMEOUT)
            status_code, snippet = await _post(http, sender, target.url, body, headers, resolved)
            if resolved.public:
                record["response_snippet"] = snippet[:SNIPPET_CHARS] or None
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except TimeoutError:
        error = f"timed out after {TIMEOUT:g}s"
    except (targets.TargetRefused, targets.InvalidTarget) as exc:
        error = f"refused: {exc}"[:500]
    except (httpx.HTTPError, SendError, ValueError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
    record.update(latency_ms=int((time.perf_counter() - started) * 1000), status_code=status_code, error=error)
    if error is None:
        return Outcome(claimed.id, DeliveryStatus.DELIVERED, status_code=status_code, attempt=record)
    status, next_at = next_step(claimed, schedule_now or now)
    return Outcome(claimed.id, status, next_attempt_at=next_at, status_code=status_code, error=error, attempt=record)


def retry_delay_bounds(attempt_number: int) -> tuple[timedelta, timedelta]:
    """The range a retry after ``attempt_number`` falls in (documentation and tests)."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempt_number - 1))
    return timedelta(seconds=ceiling / 2), timedelta(seconds=ceiling)
