"""links: booking links may suppress the confirmation message; wrong identity details per NHS number.

Revision ID: 0060_links_pages
Revises: 0003_links
Create Date: 2026-11-30 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import openhero.core.db

revision: str = '0060_links_pages'
down_revision: str | Sequence[str] | None = '0003_links'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('booking_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suppress_mail', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table('link_identity_attempts',
    sa.Column('link_kind', sa.String(length=8), nullable=False),
    sa.Column('link_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_at', openhero.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_identity_attempts')),
    sa.UniqueConstraint('link_kind', 'link_id', 'subject', name=op.f('uq_link_identity_attempts_link_kind_link_id_subject'))
    )


def downgrade() -> None:
    op.drop_table('link_identity_attempts')
    with op.batch_alter_table('booking_links', schema=None) as batch_op:
        batch_op.drop_column('suppress_mail')
