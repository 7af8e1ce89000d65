"""foundation: a practice group's own email From and Reply-To.

Revision ID: 0043_foundation_email_sender
Revises: 0001_foundation
Create Date: 2026-11-30 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0043_foundation_email_sender'
down_revision: str | Sequence[str] | None = '0001_foundation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('practice_groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_from', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('email_reply_to', sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('practice_groups', schema=None) as batch_op:
        batch_op.drop_column('email_reply_to')
        batch_op.drop_column('email_from')
