"""foundation: values that belong to the database (the sandbox secret).

Revision ID: 0044_foundation_instance_values
Revises: 0043_foundation_email_sender
Create Date: 2026-11-30 05:31:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import openhero.core.db

revision: str = '0044_foundation_instance_values'
down_revision: str | Sequence[str] | None = '0043_foundation_email_sender'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('instance_values',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('created_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_instance_values'))
    )


def downgrade() -> None:
    op.drop_table('instance_values')
