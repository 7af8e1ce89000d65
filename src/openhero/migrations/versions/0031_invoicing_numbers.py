"""invoicing: one invoice number per practice group.

Revision ID: 0031_invoicing_numbers
Revises: 0030_invoicing
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0031_invoicing_numbers"
down_revision: str | Sequence[str] | None = "0030_invoicing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invoicing_invoices", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_invoicing_invoices_practice_group_id_number",
                                          ["practice_group_id", "number"])


def downgrade() -> None:
    with op.batch_alter_table("invoicing_invoices", schema=None) as batch_op:
        batch_op.drop_constraint("uq_invoicing_invoices_practice_group_id_number", type_="unique")
