"""The partner API key table, defined in core because authentication reads it (``openhero.practice.models``
re-exports it; the table, its columns and constraints are unchanged)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, column, table
from sqlalchemy.orm import Mapped, mapped_column

from openhero.core.db import Base, IdType
from openhero.core.models import IdMixin, utcnow


class ApiKey(IdMixin, Base):
    """A partner's key for one practice group. Only a SHA-256 hash of the secret is stored; ``prefix``
    (the first characters of the key) finds the row without scanning."""

    __tablename__ = "api_keys"
    practice_group_id: Mapped[int] = mapped_column(IdType, ForeignKey("practice_groups.id", ondelete="CASCADE"),
                                                   index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    partner_name: Mapped[str | None] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    permissions: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    rotated_to_id: Mapped[int | None] = mapped_column(IdType)


# The two columns of practice_groups that tenancy needs (a lightweight table clause, not a second mapping:
# the practice domain owns the table).
practice_groups = table("practice_groups", column("id"), column("network_id"))
