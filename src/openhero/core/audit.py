"""An append-only audit log: who (API key id), did what, to which object, when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from openhero.core.auth import Principal
from openhero.core.db import Base, IdType
from openhero.core.models import IdMixin, TenantMixin, utcnow


class AuditEntry(IdMixin, TenantMixin, Base):
    __tablename__ = "audit_log"
    key_id: Mapped[int | None] = mapped_column(IdType)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


async def record(session: AsyncSession, principal: Principal | None, action: str, object_type: str,
                 object_id: int | str, *, practice_group_id: int | None = None,
                 details: dict[str, Any] | None = None, now: datetime | None = None) -> None:
    group = practice_group_id if practice_group_id is not None else principal.practice_group_id  # type: ignore[union-attr]
    session.add(AuditEntry(practice_group_id=group, key_id=principal.key_id if principal else None,
                           action=action, object_type=object_type, object_id=str(object_id),
                           details=details or {}, created_at=now or utcnow()))
    await session.flush()
