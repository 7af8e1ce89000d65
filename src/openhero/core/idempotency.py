"""Idempotency keys: a write sent twice with the same ``Idempotency-Key`` happens once.

Any ``POST``, ``PUT`` or ``PATCH`` may carry ``Idempotency-Key`` (1–255 printable ASCII characters).

- The first request runs; its status, content type and body are stored with a hash of the method, path
  (with query), body and acting practice group, for 24 hours.
- A repeat answers the stored response with ``Idempotent-Replayed: true`` and changes nothing.
- The same key with a different request answers 409 ``idempotency_key_reused``.
- A repeat while the first is still running answers 409 ``idempotency_key_in_use``.
- Keys belong to the credential that sent them (the API key, or the Elements token's key) and the acting
  practice group: another key of the same group, or another group, never sees them.
- 5xx answers, and requests that fail authentication, are not stored: the key can be used again.
- A replay is refused (401) when the key that made the original request has since been revoked.

It is a pure ASGI middleware so requests without the header pay one header scan and nothing else.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Index, Integer, LargeBinary, String, delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openhero.core.db import Base, Database, IdType
from openhero.core.errors import error_body, error_item
from openhero.core.models import IdMixin

HEADER = b"idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
TTL = timedelta(hours=24)
# A "running" record older than this belongs to a request whose process died: the key may be used again.
STALE_RUNNING = timedelta(minutes=5)
MAX_STORED_BODY = 1024 * 1024
_METHODS = frozenset({"POST", "PUT", "PATCH"})
_KEPT_HEADERS = frozenset({b"content-type", b"location", b"retry-after"})


class IdempotencyStatus:
    RUNNING = "running"
    DONE = "done"


class IdempotencyRecord(IdMixin, Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)

    # sha256 of (credential, acting group header, idempotency key): never the key or credential itself.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[int | None] = mapped_column(IdType)
    practice_group_id: Mapped[int | None] = mapped_column(IdType, index=True)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[list[Any] | None] = mapped_column()
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()


def valid_key(raw: bytes) -> bool:
    return 1 <= len(raw) <= 255 and all(0x20 <= b <= 0x7E for b in raw)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value
    return None


def _sha(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _fingerprint(scope: Scope, key: bytes) -> str:
    credential = _header(scope, b"x-api-key") or _token_key_id(scope) or b""
    group = _header(scope, b"x-practice-group-id") or b""
    return _sha(b"idempotency", credential.strip(), group.strip(), key)


def _token_key_id(scope: Scope) -> bytes | None:
    """For an Elements bearer token the owner is the key that minted it (every token of one key shares
    its idempotency keys); the claim is read unverified here because authentication verifies it anyway and
    nothing is stored for a request that fails authentication."""
    authorization = _header(scope, b"authorization") or b""
    if not authorization.lower().startswith(b"bearer "):
        return None
    try:
        import jwt

        claims = jwt.decode(authorization[7:].strip().decode("latin-1"), options={"verify_signature": False})
    except Exception:
        return authorization
    return f"token-key:{claims.get('sub')}".encode()


def _request_hash(scope: Scope, body: bytes) -> str:
    path = scope.get("raw_path") or scope.get("path", "").encode()
    query = scope.get("query_string") or b""
    group = _header(scope, b"x-practice-group-id") or b""
    return _sha(scope["method"].encode(), path, query, group.strip(), body)


def _error(status: int, code: str, message: str) -> tuple[int, bytes]:
    item = error_item(code, message, ["Idempotency-Key"], message)
    return status, json.dumps(error_body(status, [item])).encode()


async def _send_json(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _METHODS:
            await self.app(scope, receive, send)
            return
        key = _header(scope, HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not valid_key(key):
            status, body = _error(400, "invalid_string",
                                  "Idempotency-Key must be 1 to 255 printable ASCII characters")
            await _send_json(send, status, body)
            return
        state = scope["app"].state
        db: Database = state.db
        now: datetime = state.clock.now()

        body, more = await _read_body(receive)
        fingerprint = _fingerprint(scope, key)
        request_hash = _request_hash(scope, body)
        outcome = await _begin(db, fingerprint, request_hash, now)
        if isinstance(outcome, IdempotencyRecord):
            await _replay(db, outcome, send)
            return
        if outcome is not None:
            await _send_json(send, *outcome)
            return

        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await more()

        captured: dict[str, Any] = {"status": None, "headers": [], "body": bytearray(), "too_big": False}

        async def capture_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = [[k.decode("latin-1"), v.decode("latin-1")]
                                       for k, v in message.get("headers") or () if k.lower() in _KEPT_HEADERS]
            elif message["type"] == "http.response.body":
                if len(captured["body"]) + len(message.get("body", b"")) > MAX_STORED_BODY:
                    captured["too_big"] = True
                else:
                    captured["body"] += message.get("body", b"")
            await send(message)

        stored = False
        try:
            await self.app(scope, replay_receive, capture_send)
            principal = scope.get("openhero.principal")
            status = captured["status"]
            if principal is not None and status is not None and status < 500 and not captured["too_big"]:
                await _finish(db, fingerprint, principal, status, captured["headers"], bytes(captured["body"]))
                stored = True
        finally:
            if not stored:
                await _forget(db, fingerprint)


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), receive


async def _begin(db: Database, fingerprint: str, request_hash: str, now: datetime
                 ) -> IdempotencyRecord | tuple[int, bytes] | None:
    """Claim the key (None: go ahead), or the stored record to replay, or a refusal (status, body)."""
    for _attempt in range(3):
        async with db.session(write=True) as session:
            stmt = select(IdempotencyRecord).where(IdempotencyRecord.fingerprint == fingerprint)
            if db.is_postgres:
                stmt = stmt.with_for_update()
            row = (await session.execute(stmt)).scalar_one_or_none()
            if row is not None and (row.expires_at <= now or (
                    row.status == IdempotencyStatus.RUNNING and row.created_at + STALE_RUNNING <= now)):
                await session.delete(row)
                await session.flush()
                row = None
            if row is None:
                session.add(IdempotencyRecord(fingerprint=fingerprint, request_hash=request_hash,
                                              status=IdempotencyStatus.RUNNING, created_at=now,
                                              expires_at=now + TTL))
                try:
                    await session.commit()
                except IntegrityError:  # a concurrent first request won the insert: look again
                    await session.rollback()
                    continue
                return None
            if row.request_hash != request_hash:
                return _error(409, "idempotency_key_reused",
                              "This Idempotency-Key was already used for a different request")
            if row.status == IdempotencyStatus.RUNNING:
                return _error(409, "idempotency_key_in_use",
                              "A request with this Idempotency-Key is still being processed; retry later")
            return row
    return _error(409, "idempotency_key_in_use",
                  "A request with this Idempotency-Key is still being processed; retry later")


async def _replay(db: Database, row: IdempotencyRecord, send: Send) -> None:
    if row.key_id is not None:
        async with db.session(write=False) as session:
            revoked = (await session.execute(text("SELECT revoked_at FROM api_keys WHERE id = :id"),
                                             {"id": row.key_id})).first()
        if revoked is None or revoked[0] is not None:
            status, body = 401, json.dumps(error_body(401, [error_item(
                "unauthorised", "a valid API key", ["x-api-key"], "Invalid or revoked API key")])).encode()
            await _send_json(send, status, body)
            return
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in row.response_headers or ()]
    body = row.response_body or b""
    headers.append((b"content-length", str(len(body)).encode()))
    headers.append((REPLAYED_HEADER.lower().encode(), b"true"))
    await send({"type": "http.response.start", "status": row.response_status or 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _finish(db: Database, fingerprint: str, principal: Any, status: int, headers: list[list[str]],
                  body: bytes) -> None:
    async with db.session(write=True) as session:
        await session.execute(
            update(IdempotencyRecord).where(IdempotencyRecord.fingerprint == fingerprint).values(
                status=IdempotencyStatus.DONE, response_status=status, response_headers=headers,
                response_body=body, key_id=getattr(principal, "key_id", None),
                practice_group_id=getattr(principal, "practice_group_id", None)))
        await session.commit()


async def _forget(db: Database, fingerprint: str) -> None:
    async with db.session(write=True) as session:
        await session.execute(delete(IdempotencyRecord).where(
            IdempotencyRecord.fingerprint == fingerprint, IdempotencyRecord.status == IdempotencyStatus.RUNNING))
        await session.commit()


async def prune(db: Database, now: datetime) -> int:
    """Remove expired records (a retention job may call this)."""
    async with db.session(write=True) as session:
        result = await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now))
        await session.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
