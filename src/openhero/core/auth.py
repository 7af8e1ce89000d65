"""Who is calling: API keys (``x-api-key`` + ``x-practice-group-id``) or an Elements bearer token.

Outcomes (NOTES.md "Requests, tenancy, keys"):
- missing, unknown or revoked key, missing or malformed group header, bad/expired token -> 401;
- a group header naming a group outside the key's network -> 403; inside it -> act on that group;
- a key without the scope an operation needs -> 403.

Elements tokens are bound to the key that minted them on every use: ``sub`` and ``practice_group_id`` must
be ids (else 401), the key must exist and not be revoked (else 401), the acting group must still be in the
key's network (else 403), and the token's scopes count only as far as the key still has them (effective
scopes = token scopes ∩ the key's current scopes).

The hot path makes no database round trip: each app keeps a ``KeyCache`` (key hash -> key state, group ->
network). The cache is revalidated against the database in one batch at most every
``REVALIDATE_SECONDS`` (0.5 s) and at once after a revoke, rotate or scope change committed in this process
(``note_key_change``). The first request past the interval runs the check and waits for it; requests that
arrive while it runs use what was checked less than ``STALE_SECONDS`` (0.9 s) ago, and wait (all together)
only past that or after a local change. So a revocation takes effect on the next request in the process that
committed it and within a second in every other process, on SQLite and PostgreSQL alike, without a query per
request — and without a convoy: when every request queued behind the check and then through a lock one by
one, each check stalled a busy server for tens of milliseconds (docs/performance.md, "Third pass").
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core import tokens
from openhero.core.apikeys import ApiKey, practice_groups
from openhero.core.db import Database
from openhero.core.deps import get_clock
from openhero.core.errors import Forbidden, Unauthorised
from openhero.core.ids import MAX_ID, to_id

SCOPES = ("messaging", "booking", "booking_links")
PERMISSIONS = ("auto_write_to_record",)
KEY_PREFIX = "ohk_"
LOOKUP_LENGTH = 16  # characters of the key kept in clear as its lookup prefix
ACCESS_TOKEN_PURPOSE = "elements"

REVALIDATE_SECONDS = 0.5  # the first request past this since the last check runs the next one
STALE_SECONDS = 0.9  # while a check runs, what was checked less than this ago still serves (the rule: 1 s)
CACHE_LIMIT = 20_000  # entries (keys + groups) before the cache starts over

# The security schemes OpenAPI shows for every operation that depends on ``authenticate`` (core/openapi.py
# adds them); ``authenticate`` reads the headers itself.
api_key_header = APIKeyHeader(name="x-api-key", scheme_name="apiKeyAuth", auto_error=False)
group_header = APIKeyHeader(name="x-practice-group-id", scheme_name="practiceGroupId", auto_error=False)
SECURITY_SCHEMES = (api_key_header, group_header)


def new_key_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(raw: str) -> str:
    # Keys carry 256 bits of entropy, so a fast hash is enough; no salt or KDF is needed.
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    key_id: int
    practice_group_id: int  # the group the call acts on
    home_practice_group_id: int  # the group the key belongs to
    scopes: frozenset[str] = field(default_factory=frozenset)
    permissions: frozenset[str] = field(default_factory=frozenset)
    via_token: bool = False

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def has_permission(self, permission: str) -> bool:
        return permission in self.permissions


# ---- the key cache -------------------------------------------------------------------------------------

_generation = 0  # bumped when this process commits a change to a key; every cache then revalidates


def invalidate_keys() -> None:
    """Make every key cache in this process revalidate before its next use."""
    global _generation
    _generation += 1


def note_key_change(session: AsyncSession) -> None:
    """Call when ``session`` revokes, rotates or rescopes a key: caches revalidate now and again once the
    change is committed (so a request racing the commit cannot keep the old state)."""
    invalidate_keys()
    sync = session.sync_session
    if not sync.info.get("openhero.key_change_hook"):
        sync.info["openhero.key_change_hook"] = True
        event.listen(sync, "after_commit", lambda _s: invalidate_keys())


@dataclass(frozen=True, slots=True)
class KeyState:
    key_id: int
    key_hash: str
    home_group: int
    scopes: frozenset[str]
    permissions: frozenset[str]
    revoked: bool


_NO_GROUP = object()  # cached answer for a group id that does not exist
_RETRY = object()  # a shared key lookup failed: each waiter looks the key up itself


class KeyCache:
    """Key hash -> ``KeyState`` and group -> network, checked against the database at most every
    ``REVALIDATE_SECONDS`` and after every local key change."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.keys: dict[int, KeyState] = {}
        self.by_hash: dict[str, int] = {}
        self.networks: dict[int, Any] = {}
        self.checked_at = time.monotonic()
        self.generation = _generation
        self.epoch = 0  # bumped by every revalidation: a lookup that raced one does not store what it read
        self._checking: asyncio.Future[None] | None = None  # the check under way, if any
        self._lookups: dict[str, asyncio.Future[Any]] = {}  # key hash -> the lookup under way

    async def fresh(self) -> None:
        while True:
            current = self.generation == _generation
            age = time.monotonic() - self.checked_at
            if current and age < REVALIDATE_SECONDS:
                return
            checking = self._checking
            if checking is None:
                await self._check()
                return
            if current and age < STALE_SECONDS:
                return  # another request is checking; what it replaces is still within the rule
            await asyncio.shield(checking)  # every waiter resumes at once; then look again (it may have failed)

    async def _check(self) -> None:
        checking = self._checking = asyncio.get_running_loop().create_future()
        try:
            started, generation = time.monotonic(), _generation
            if self.keys or self.networks:
                await self._revalidate()
            self.checked_at, self.generation = started, generation
        finally:
            self._checking = None
            checking.set_result(None)

    async def _revalidate(self) -> None:
        key_ids, group_ids = list(self.keys), list(self.networks)
        async with self.db.engine.connect() as conn:
            key_rows = (await conn.execute(_KEY_COLUMNS.where(ApiKey.id.in_(key_ids)))).all() if key_ids else []
            group_rows = (await conn.execute(
                select(practice_groups.c.id, practice_groups.c.network_id)
                .where(practice_groups.c.id.in_(group_ids)))).all() if group_ids else []
        self.epoch += 1
        self.keys, self.by_hash = {}, {}
        for row in key_rows:
            self._store(row)
        networks = {gid: _NO_GROUP for gid in group_ids}
        networks.update({row[0]: row[1] for row in group_rows})
        self.networks = networks

    def _store(self, row: Any) -> KeyState:
        if len(self.keys) + len(self.networks) >= CACHE_LIMIT:
            self.keys, self.by_hash, self.networks = {}, {}, {}
        state = _state(row)
        self.keys[state.key_id] = state
        self.by_hash[state.key_hash] = state.key_id
        return state

    async def by_secret(self, raw: str) -> KeyState | None:
        if not raw.startswith(KEY_PREFIX) or len(raw) < LOOKUP_LENGTH + 8:
            return None
        digest = hash_key(raw)
        key_id = self.by_hash.get(digest)
        if key_id is not None:
            return self.keys[key_id]
        # One lookup per key at a time: after a start (or a cache reset) every request in flight misses
        # together, and each taking a connection of its own for the same row made the first second crawl.
        while (pending := self._lookups.get(digest)) is not None:
            found = await asyncio.shield(pending)
            if found is not _RETRY:
                return found  # type: ignore[no-any-return]
        pending = self._lookups[digest] = asyncio.get_running_loop().create_future()
        found = _RETRY  # what the waiters get if this lookup fails: they look it up themselves
        try:
            epoch = self.epoch
            async with self.db.engine.connect() as conn:
                row = (await conn.execute(_KEY_COLUMNS.where(ApiKey.prefix == raw[:LOOKUP_LENGTH]))).first()
            if row is None or not hmac.compare_digest(row.key_hash, digest):
                found = None  # unknown keys are not cached: nothing to invalidate, and no memory for guessers
            else:
                found = self._store(row) if epoch == self.epoch else _state(row)
            return found  # type: ignore[return-value]
        finally:
            del self._lookups[digest]
            pending.set_result(found)

    async def by_id(self, key_id: int) -> KeyState | None:
        state = self.keys.get(key_id)
        if state is not None:
            return state
        epoch = self.epoch
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(_KEY_COLUMNS.where(ApiKey.id == key_id))).first()
        if row is None:
            return None
        return self._store(row) if epoch == self.epoch else _state(row)

    async def same_network(self, home: int, requested: int) -> bool:
        missing = [g for g in (home, requested) if g not in self.networks]
        if missing:
            if len(self.keys) + len(self.networks) >= CACHE_LIMIT:
                self.keys, self.by_hash, self.networks = {}, {}, {}
            epoch = self.epoch
            async with self.db.engine.connect() as conn:
                rows = (await conn.execute(select(practice_groups.c.id, practice_groups.c.network_id)
                                           .where(practice_groups.c.id.in_(missing)))).all()
            found: dict[int, Any] = {gid: _NO_GROUP for gid in missing}
            found.update({row[0]: row[1] for row in rows})
            # What this request read counts for it; it is kept only if no revalidation ran meanwhile (else
            # it could be older than what the revalidation stored, and would outlive it).
            if epoch == self.epoch:
                self.networks.update(found)
                networks = self.networks
            else:
                networks = {**self.networks, **found}
        else:
            networks = self.networks
        home_network, target_network = networks[home], networks[requested]
        return home_network is not None and home_network is not _NO_GROUP and target_network == home_network


def _state(row: Any) -> KeyState:
    return KeyState(key_id=row.id, key_hash=row.key_hash, home_group=row.practice_group_id,
                    scopes=frozenset(row.scopes or ()), permissions=frozenset(row.permissions or ()),
                    revoked=row.revoked_at is not None)


_KEY_COLUMNS = select(ApiKey.id, ApiKey.key_hash, ApiKey.practice_group_id, ApiKey.scopes, ApiKey.permissions,
                      ApiKey.revoked_at)


def key_cache(request: Request) -> KeyCache:
    state = request.app.state
    cache = getattr(state, "key_cache", None)
    if cache is None or cache.db is not state.db:
        cache = state.key_cache = KeyCache(state.db)
    return cache


# ---- parsing -------------------------------------------------------------------------------------------

def _parse_group(raw: str | None) -> int:
    if not raw:
        raise Unauthorised("Missing x-practice-group-id header", expected="x-practice-group-id header",
                           path=["x-practice-group-id"])
    value = to_id(raw.strip())
    if value is None:
        raise Unauthorised("Malformed x-practice-group-id header",
                           expected="a numeric practice group id", path=["x-practice-group-id"])
    return value


def _claim_id(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    return to_id(value) if isinstance(value, str) else None


def _outside_network() -> Forbidden:
    return Forbidden("This key may not act for that practice group",
                     expected="a practice group in the key's network", path=["x-practice-group-id"])


# ---- the dependency ------------------------------------------------------------------------------------

async def authenticate(request: Request) -> Principal:
    """The caller, from ``x-api-key`` + ``x-practice-group-id`` or an Elements bearer token.

    One dependency with no sub-dependencies of its own (FastAPI re-checks every node of a route's dependency
    graph on every request; the header schemes, ``SECURITY_SCHEMES``, are declared to OpenAPI by core/openapi.py).
    """
    scope = request.scope
    principal = scope.get("openhero.principal")
    if principal is not None:
        return principal  # type: ignore[no-any-return]
    headers = request.headers
    api_key, group = headers.get("x-api-key"), headers.get("x-practice-group-id")
    clock = await get_clock(request)  # in sandbox mode this also selects the acting group's clock and faults
    cache = key_cache(request)
    await cache.fresh()
    authorization = headers.get("authorization", "")
    if not api_key and authorization[:7].lower() == "bearer ":
        principal = await _from_token(cache, request.app.state.settings.secret_key, clock.now(),
                                      authorization[7:].strip(), group)
    else:
        principal = await _from_key(cache, api_key, group)
    limiter = getattr(request.app.state, "limiter", None)
    if limiter is not None:
        await limiter.hit(principal.key_id)
    scope["openhero.principal"] = principal
    return principal


async def _from_key(cache: KeyCache, raw: str | None, group: str | None) -> Principal:
    if not raw:
        raise Unauthorised("Missing x-api-key header", expected="x-api-key header", path=["x-api-key"])
    key = await cache.by_secret(raw.strip())
    if key is None or key.revoked:
        raise Unauthorised("Invalid or revoked API key", expected="a valid API key", path=["x-api-key"])
    requested = _parse_group(group)
    if requested != key.home_group and not await cache.same_network(key.home_group, requested):
        raise _outside_network()
    return Principal(key_id=key.key_id, practice_group_id=requested, home_practice_group_id=key.home_group,
                     scopes=key.scopes, permissions=key.permissions)


async def _from_token(cache: KeyCache, secret: str, now, token: str, group: str | None) -> Principal:  # type: ignore[no-untyped-def]
    try:
        claims = tokens.verify(secret, token, purpose=ACCESS_TOKEN_PURPOSE, now=now)
    except tokens.TokenError as exc:
        raise Unauthorised(str(exc).capitalize(), expected="a valid, unexpired access token",
                           path=["authorization"]) from None
    key_id, acting = _claim_id(claims.get("sub")), _claim_id(claims.get("practice_group_id"))
    claimed_scopes = claims.get("scopes", [])
    if key_id is None or acting is None or not isinstance(claimed_scopes, list) or not all(
            isinstance(s, str) for s in claimed_scopes):
        raise Unauthorised("Invalid token: malformed claims", expected="a valid access token",
                           path=["authorization"])
    key = await cache.by_id(key_id)
    if key is None or key.revoked:
        raise Unauthorised("The key behind this token was revoked", expected="a valid access token",
                           path=["authorization"])
    if group and _parse_group(group) != acting:
        raise Forbidden("The token was issued for another practice group",
                        expected="the practice group the token was issued for", path=["x-practice-group-id"])
    if acting != key.home_group and not await cache.same_network(key.home_group, acting):
        raise _outside_network()
    return Principal(key_id=key.key_id, practice_group_id=acting, home_practice_group_id=key.home_group,
                     scopes=key.scopes.intersection(claimed_scopes), permissions=key.permissions, via_token=True)


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def require_scope(scope: str):  # type: ignore[no-untyped-def]
    """A router/route dependency: the key must carry ``scope``. (It calls ``authenticate`` itself, which
    caches the caller on the request: one dependency node fewer for FastAPI to solve per request.)"""

    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        if not principal.has_scope(scope):
            raise Forbidden(f"This API key lacks the '{scope}' scope", expected=f"a key with the {scope} scope",
                            path=["x-api-key"])
        return principal

    dependency.__name__ = f"require_{scope}_scope"
    dependency.openhero_authenticates = True  # type: ignore[attr-defined]
    return dependency


def require_any_scope(*scopes: str):  # type: ignore[no-untyped-def]
    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        if not any(principal.has_scope(s) for s in scopes):
            raise Forbidden(f"This API key needs one of the scopes: {', '.join(scopes)}",
                            expected=f"a key with one of: {', '.join(scopes)}", path=["x-api-key"])
        return principal

    dependency.openhero_authenticates = True  # type: ignore[attr-defined]
    return dependency
