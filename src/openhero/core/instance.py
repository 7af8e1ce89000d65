"""Values that belong to one database rather than to one process: today the sandbox secret.

In sandbox mode with the published development secret (``OPENHERO_SECRET_KEY`` unset), the first
process to start generates a random secret and stores it here; every process sharing the database
(API processes, workers, CLI commands) then signs and encrypts with that one, so the published value
never signs a token or encrypts a webhook key, and two sandbox databases never accept each other's tokens.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import String, Text, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from openhero.core.db import Base, Database
from openhero.core.models import utcnow
from openhero.settings import ConfigError, Settings

SANDBOX_SECRET = "sandbox_secret_key"


class InstanceValue(Base):
    __tablename__ = "instance_values"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


async def database_secret(db: Database) -> str:
    """This database's sandbox secret, created by the first caller (concurrent first callers agree)."""
    async with db.session(write=False) as session:
        found = (await session.execute(select(InstanceValue.value).where(InstanceValue.name == SANDBOX_SECRET))
                 ).scalar_one_or_none()
    if found:
        return found
    try:
        async with db.session() as session:
            await session.execute(insert(InstanceValue).values(
                name=SANDBOX_SECRET, value=secrets.token_urlsafe(48), created_at=utcnow()))
            await session.commit()
    except IntegrityError:
        pass  # another process stored it first: use theirs
    async with db.session(write=False) as session:
        return (await session.execute(select(InstanceValue.value).where(InstanceValue.name == SANDBOX_SECRET))
                ).scalar_one()


async def apply_secret(db: Database, settings: Settings) -> None:
    """Make ``settings.secret_key`` safe to use: refuse the published secret outside sandbox mode and
    replace it with the database's own secret inside it."""
    settings.check_secrets()
    if not settings.uses_development_secret:
        return
    from sqlalchemy.exc import DBAPIError

    try:
        settings.secret_key = await database_secret(db)
    except DBAPIError as exc:
        raise ConfigError(f"cannot read the sandbox secret from the database ({_first_line(exc)}); "
                          "run `openhero db upgrade`") from None


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
