"""API key lifecycle: create (the secret is returned once), revoke, rotate (the old key dies at once)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core.auth import LOOKUP_LENGTH, PERMISSIONS, SCOPES, hash_key, new_key_secret, note_key_change
from openhero.core.errors import NotFound, ValidationFailed
from openhero.practice.models import ApiKey, PracticeGroup


def _check(values: Sequence[str], allowed: Sequence[str], what: str) -> list[str]:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValidationFailed(f"unknown {what}: {', '.join(unknown)}; allowed: {', '.join(allowed)}",
                               code="invalid_enum_value", path=[what])
    return sorted(set(values))


async def create_key(session: AsyncSession, *, practice_group_id: int, scopes: Sequence[str],
                     permissions: Sequence[str] = (), name: str = "", partner_name: str | None = None
                     ) -> tuple[ApiKey, str]:
    if await session.get(PracticeGroup, practice_group_id) is None:
        raise NotFound("Practice group")
    raw = new_key_secret()
    key = ApiKey(practice_group_id=practice_group_id, name=name, partner_name=partner_name,
                 prefix=raw[:LOOKUP_LENGTH], key_hash=hash_key(raw),
                 scopes=_check(scopes, SCOPES, "scopes"), permissions=_check(permissions, PERMISSIONS, "permissions"),
                 created_at=datetime.now(UTC))
    session.add(key)
    await session.flush()
    return key, raw


async def revoke_key(session: AsyncSession, key_id: int) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound("API key")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
    await session.flush()
    note_key_change(session)  # cached keys revalidate now and once this commits
    return key


async def rotate_key(session: AsyncSession, key_id: int) -> tuple[ApiKey, str]:
    """Revoke ``key_id`` and issue a replacement with the same group, scopes and permissions."""
    old = await session.get(ApiKey, key_id)
    if old is None or old.revoked_at is not None:
        raise NotFound("API key")
    new, raw = await create_key(session, practice_group_id=old.practice_group_id, scopes=old.scopes,
                                permissions=old.permissions, name=old.name, partner_name=old.partner_name)
    old.revoked_at = datetime.now(UTC)
    old.rotated_to_id = new.id
    await session.flush()
    note_key_change(session)
    return new, raw


async def list_keys(session: AsyncSession, practice_group_id: int | None = None) -> list[ApiKey]:
    stmt = select(ApiKey).order_by(ApiKey.id)
    if practice_group_id is not None:
        stmt = stmt.where(ApiKey.practice_group_id == practice_group_id)
    return list((await session.execute(stmt)).scalars().all())
