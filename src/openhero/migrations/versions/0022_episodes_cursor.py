"""episodes: the filing poller's cursor over task ids.

Revision ID: 0022_episodes_cursor
Revises: 0020_episodes
Create Date: 2026-11-25 00:21:49
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0022_episodes_cursor'
down_revision: str | Sequence[str] | None = '0020_episodes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('episode_filing_cursor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_task_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_episode_filing_cursor'))
    )


def downgrade() -> None:
    op.drop_table('episode_filing_cursor')
