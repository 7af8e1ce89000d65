"""patients: search indexes and PDS columns on patients; the built-in local EHR tables.

Revision ID: 0004_patients
Revises:
Create Date: 2026-11-24 23:08:10.023238
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

import openhero.core.db

revision: str = "0004_patients"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("patients",)
depends_on: str | Sequence[str] | None = "0001_foundation"

ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")
DATE = sqlite.DATE().with_variant(sa.DATE(), "postgresql")
TS = openhero.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ehr_records",
        sa.Column("ehr_partner", sa.String(length=32), nullable=False),
        sa.Column("ehr_partner_id", sa.String(length=64), nullable=False),
        sa.Column("nhs_number", sa.String(length=10), nullable=True),
        sa.Column("title", sa.String(length=40), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("sex", sa.String(length=20), nullable=True),
        sa.Column("dob", DATE, nullable=True),
        sa.Column("deceased_at", TS, nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("mobile", sa.String(length=40), nullable=True),
        sa.Column("address_line_1", sa.String(length=200), nullable=True),
        sa.Column("address_line_2", sa.String(length=200), nullable=True),
        sa.Column("address_line_3", sa.String(length=200), nullable=True),
        sa.Column("town", sa.String(length=100), nullable=True),
        sa.Column("county", sa.String(length=100), nullable=True),
        sa.Column("postcode", sa.String(length=16), nullable=True),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("last_sync_at", TS, nullable=True),
        sa.Column("linked_patient_id", ID, nullable=True),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("practice_group_id", ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["linked_patient_id"],
            ["patients.id"],
            name=op.f("fk_ehr_records_linked_patient_id_patients"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["practice_group_id"],
            ["practice_groups.id"],
            name=op.f("fk_ehr_records_practice_group_id_practice_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ehr_records")),
        sa.UniqueConstraint(
            "practice_group_id",
            "ehr_partner_id",
            name=op.f("uq_ehr_records_practice_group_id_ehr_partner_id"),
        ),
    )
    with op.batch_alter_table("ehr_records", schema=None) as batch_op:
        batch_op.create_index("ix_ehr_records_group_nhs", ["practice_group_id", "nhs_number"], unique=False)
        batch_op.create_index("ix_ehr_records_group_dob", ["practice_group_id", "dob"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ehr_records_linked_patient_id"), ["linked_patient_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ehr_records_practice_group_id"), ["practice_group_id"], unique=False
        )

    for table, extra in (
        (
            "ehr_attachments",
            [
                sa.Column("uuid", sa.String(length=36), nullable=False),
                sa.Column("file_name", sa.String(length=255), nullable=False),
                sa.Column("content_type", sa.String(length=100), nullable=False),
                sa.Column("size_bytes", sa.Integer(), nullable=False),
                sa.Column("description", sa.String(length=500), nullable=True),
                sa.Column("created_at", TS, nullable=False),
                sa.UniqueConstraint("uuid", name=op.f("uq_ehr_attachments_uuid")),
            ],
        ),
        (
            "ehr_entries",
            [
                sa.Column("kind", sa.String(length=32), nullable=False),
                sa.Column("snomed_code", sa.String(length=32), nullable=True),
                sa.Column("text", sa.Text(), nullable=False),
                sa.Column("source", sa.String(length=64), nullable=True),
                sa.Column("recorded_at", TS, nullable=False),
            ],
        ),
    ):
        op.create_table(
            table,
            sa.Column("ehr_record_id", ID, nullable=False),
            *extra,
            sa.Column("id", ID, autoincrement=True, nullable=False),
            sa.Column("practice_group_id", ID, nullable=False),
            sa.ForeignKeyConstraint(
                ["ehr_record_id"],
                ["ehr_records.id"],
                name=op.f(f"fk_{table}_ehr_record_id_ehr_records"),
                ondelete="CASCADE",
            ),
            sa.ForeignKeyConstraint(
                ["practice_group_id"],
                ["practice_groups.id"],
                name=op.f(f"fk_{table}_practice_group_id_practice_groups"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(op.f(f"ix_{table}_ehr_record_id"), ["ehr_record_id"], unique=False)
            batch_op.create_index(op.f(f"ix_{table}_practice_group_id"), ["practice_group_id"], unique=False)

    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gp_ods_code", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("previous_nhs_number", sa.String(length=10), nullable=True))
        batch_op.create_index(
            "ix_patients_group_ehr_partner_id", ["practice_group_id", "ehr_partner_id"], unique=False
        )
        batch_op.create_index("ix_patients_group_emis_id", ["practice_group_id", "emis_id"], unique=False)
    # Case-insensitive name search (expression indexes work on SQLite and PostgreSQL alike).
    op.create_index(
        "ix_patients_group_lower_last",
        "patients",
        ["practice_group_id", sa.text("lower(last_name)"), sa.text("lower(first_name)")],
    )
    op.create_index(
        "ix_patients_group_lower_first", "patients", ["practice_group_id", sa.text("lower(first_name)")]
    )


def downgrade() -> None:
    op.drop_index("ix_patients_group_lower_first", table_name="patients")
    op.drop_index("ix_patients_group_lower_last", table_name="patients")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index("ix_patients_group_emis_id")
        batch_op.drop_index("ix_patients_group_ehr_partner_id")
        batch_op.drop_column("previous_nhs_number")
        batch_op.drop_column("gp_ods_code")
    op.drop_table("ehr_entries")
    op.drop_table("ehr_attachments")
    op.drop_table("ehr_records")
