"""Who is calling: API keys (``x-api-key`` + ``x-practice-group-id``) or an Elements bearer token.

Outcomes (NOTES.md "Requests, tenancy, keys"):
- missing, unknown or revoked key, missing or malformed group header, bad/expired token -> 401;
- a group header naming a group outside the key's network -> 403; inside it -> act on that group;
- a key without the scope an operation needs -> 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core import tokens
from openhero.core.deps import ClockDep, SessionDep, SettingsDep
from openhero.core.errors import Forbidden, Unauthorised
from openhero.practice.models import ApiKey, PracticeGroup

SCOPES = ("messaging", "booking", "booking_links")
PERMISSIONS = ("auto_write_to_record",)
KEY_PREFIX = "ohk_"
LOOKUP_LENGTH = 16  # characters of the key kept in clear as its lookup prefix
ACCESS_TOKEN_PURPOSE = "elements"

# Declared so OpenAPI shows both headers as the security scheme; parsed by ``authenticate``.
api_key_header = APIKeyHeader(name="x-api-key", scheme_name="apiKeyAuth", auto_error=False)
group_header = APIKeyHeader(name="x-practice-group-id", scheme_name="practiceGroupId", auto_error=False)


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


def _parse_group(raw: str | None) -> int:
    if not raw:
        raise Unauthorised("Missing x-practice-group-id header", expected="x-practice-group-id header",
                           path=["x-practice-group-id"])
    raw = raw.strip()
    if not raw.isdigit() or len(raw) > 18:
        raise Unauthorised("Malformed x-practice-group-id header",
                           expected="a numeric practice group id", path=["x-practice-group-id"])
    return int(raw)


async def _resolve_group(session: AsyncSession, home_group_id: int, requested: int) -> int:
    if requested == home_group_id:
        return requested
    rows = (await session.execute(
        select(PracticeGroup.id, PracticeGroup.network_id).where(PracticeGroup.id.in_([home_group_id, requested]))
    )).all()
    networks = {row.id: row.network_id for row in rows}
    home_network, target_network = networks.get(home_group_id), networks.get(requested, -1)
    if home_network is None or target_network != home_network:
        raise Forbidden("This key may not act for that practice group",
                        expected="a practice group in the key's network", path=["x-practice-group-id"])
    return requested


async def find_key(session: AsyncSession, raw: str) -> ApiKey | None:
    if not raw.startswith(KEY_PREFIX) or len(raw) < LOOKUP_LENGTH + 8:
        return None
    key = (await session.execute(select(ApiKey).where(ApiKey.prefix == raw[:LOOKUP_LENGTH]))).scalar_one_or_none()
    if key is None or not hmac.compare_digest(key.key_hash, hash_key(raw)):
        return None
    return key


async def authenticate(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    api_key: Annotated[str | None, Depends(api_key_header)],
    group: Annotated[str | None, Depends(group_header)],
) -> Principal:
    if "openhero.principal" in request.scope:
        return request.scope["openhero.principal"]
    authorization = request.headers.get("authorization", "")
    if not api_key and authorization.lower().startswith("bearer "):
        principal = await _from_token(session, settings.secret_key, clock.now(), authorization[7:].strip(), group)
    else:
        principal = await _from_key(session, api_key, group)
    limiter = getattr(request.app.state, "limiter", None)
    if limiter is not None:
        await limiter.hit(principal.key_id)
    request.scope["openhero.principal"] = principal
    return principal


async def _from_key(session: AsyncSession, raw: str | None, group: str | None) -> Principal:
    if not raw:
        raise Unauthorised("Missing x-api-key header", expected="x-api-key header", path=["x-api-key"])
    key = await find_key(session, raw.strip())
    if key is None or key.revoked_at is not None:
        raise Unauthorised("Invalid or revoked API key", expected="a valid API key", path=["x-api-key"])
    requested = _parse_group(group)
    acting = await _resolve_group(session, key.practice_group_id, requested)
    return Principal(key_id=key.id, practice_group_id=acting, home_practice_group_id=key.practice_group_id,
                     scopes=frozenset(key.scopes or ()), permissions=frozenset(key.permissions or ()))


async def _from_token(session: AsyncSession, secret: str, now, token: str, group: str | None) -> Principal:  # type: ignore[no-untyped-def]
    try:
        claims = tokens.verify(secret, token, purpose=ACCESS_TOKEN_PURPOSE, now=now)
    except tokens.TokenError as exc:
        raise Unauthorised(str(exc).capitalize(), expected="a valid, unexpired access token",
                           path=["authorization"]) from None
    key = await session.get(ApiKey, int(claims["sub"]))
    if key is None or key.revoked_at is not None:
        raise Unauthorised("The key behind this token was revoked", expected="a valid access token",
                           path=["authorization"])
    acting = int(claims["practice_group_id"])
    if group and _parse_group(group) != acting:
        raise Forbidden("The token was issued for another practice group",
                        expected="the practice group the token was issued for", path=["x-practice-group-id"])
    return Principal(key_id=key.id, practice_group_id=acting, home_practice_group_id=key.practice_group_id,
                     scopes=frozenset(claims.get("scopes", ())), permissions=frozenset(key.permissions or ()),
                     via_token=True)


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def require_scope(scope: str):  # type: ignore[no-untyped-def]
    """A router/route dependency: the key must carry ``scope``."""

    async def dependency(principal: PrincipalDep) -> Principal:
        if not principal.has_scope(scope):
            raise Forbidden(f"This API key lacks the '{scope}' scope", expected=f"a key with the {scope} scope",
                            path=["x-api-key"])
        return principal

    dependency.__name__ = f"require_{scope}_scope"
    return dependency


def require_any_scope(*scopes: str):  # type: ignore[no-untyped-def]
    async def dependency(principal: PrincipalDep) -> Principal:
        if not any(principal.has_scope(s) for s in scopes):
            raise Forbidden(f"This API key needs one of the scopes: {', '.join(scopes)}",
                            expected=f"a key with one of: {', '.join(scopes)}", path=["x-api-key"])
        return principal

    return dependency
