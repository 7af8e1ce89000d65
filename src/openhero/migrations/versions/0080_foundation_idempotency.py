"""foundation: idempotency keys (stored responses of writes sent with Idempotency-Key).

Revision ID: 0080_idempotency
Revises: 0044_foundation_instance_values
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import openhero.core.db

revision: str = "0080_idempotency"
down_revision: str | Sequence[str] | None = "0044_foundation_instance_values"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("key_id", _ID, nullable=True),
        sa.Column("practice_group_id", _ID, nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_headers", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                  nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", openhero.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", openhero.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_idempotency_keys_fingerprint")),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"], unique=False)
    op.create_index(op.f("ix_idempotency_keys_practice_group_id"), "idempotency_keys", ["practice_group_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_idempotency_keys_practice_group_id"), table_name="idempotency_keys")
    op.drop_index("ix_idempotency_keys_expires_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
