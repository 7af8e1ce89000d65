"""foundation: sandbox test clocks and fault switches, per practice group.

Revision ID: 0081_sandbox
Revises: 0080_idempotency
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import openhero.core.db

revision: str = "0081_sandbox"
down_revision: str | Sequence[str] | None = "0080_idempotency"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sandbox_clocks",
        sa.Column("practice_group_id", _ID, nullable=False),
        sa.Column("offset_seconds", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", openhero.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["practice_group_id"], ["practice_groups.id"],
                                name=op.f("fk_sandbox_clocks_practice_group_id_practice_groups"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("practice_group_id", name=op.f("pk_sandbox_clocks")),
    )
    op.create_table(
        "sandbox_faults",
        sa.Column("practice_group_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("expires_at", openhero.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", openhero.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["practice_group_id"], ["practice_groups.id"],
                                name=op.f("fk_sandbox_faults_practice_group_id_practice_groups"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("practice_group_id", "name", name=op.f("pk_sandbox_faults")),
    )


def downgrade() -> None:
    op.drop_table("sandbox_faults")
    op.drop_table("sandbox_clocks")
