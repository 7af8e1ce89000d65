"""Column helpers shared by domain models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from openhero.core.db import IdType


def utcnow() -> datetime:
    return datetime.now(UTC)


class IdMixin:
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)


class TenantMixin:
    """Rows owned by one practice group. Every query of such a model is scoped by ``practice_group_id``."""

    @declared_attr
    def practice_group_id(cls) -> Mapped[int]:  # noqa: N805
        return mapped_column(IdType, ForeignKey("practice_groups.id", ondelete="CASCADE"), index=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
