"""foundation: tenancy (networks, practice groups, staff, locations, API keys), patients core,
tasks, appointment types, the event outbox, jobs and the audit log.

Revision ID: 0001_foundation
Revises: 
Create Date: 2026-11-24 23:00:40.747085
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import openhero.core.db

from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
revision: str = '0001_foundation'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('foundation',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('jobs',
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('practice_group_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('run_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', openhero.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('locked_by', sa.String(length=64), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', openhero.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_due', ['status', 'run_at'], unique=False)
        batch_op.create_index('ix_jobs_lease', ['status', 'locked_until'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_practice_group_id'), ['practice_group_id'], unique=False)

    op.create_table('networks',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_networks'))
    )
    op.create_table('practice_groups',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('ods_code', sa.String(length=20), nullable=True),
    sa.Column('sector', sa.String(length=20), nullable=False),
    sa.Column('network_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('address', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('reservation_hold_minutes', sa.Integer(), nullable=False),
    sa.Column('cancellation_policy_hours', sa.Integer(), nullable=False),
    sa.Column('prescription_partner_enabled', sa.Boolean(), nullable=False),
    sa.Column('prescription_partner', sa.String(length=64), nullable=True),
    sa.Column('prescription_partner_credentials', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('capabilities', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['networks.id'], name=op.f('fk_practice_groups_network_id_networks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_practice_groups'))
    )
    with op.batch_alter_table('practice_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_practice_groups_network_id'), ['network_id'], unique=False)

    op.create_table('admin_teams',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('practice_group_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('created_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['practice_group_id'], ['practice_groups.id'], name=op.f('fk_admin_teams_practice_group_id_practice_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_teams'))
    )
    with op.batch_alter_table('admin_teams', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admin_teams_practice_group_id'), ['practice_group_id'], unique=False)

    op.create_table('admins',
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=64), nullable=True),
    sa.Column('external_prescriber_id', sa.String(length=100), nullable=True),
    sa.Column('prescriber_details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('signature', sa.Text(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('practice_group_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('created_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['practice_group_id'], ['practice_groups.id'], name=op.f('fk_admins_practice_group_id_practice_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admins')),
    sa.UniqueConstraint('practice_group_id', 'email', name=op.f('uq_admins_practice_group_id_email'))
    )
    with op.batch_alter_table('admins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admins_practice_group_id'), ['practice_group_id'], unique=False)

    op.create_table('api_keys',
    sa.Column('practice_group_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('partner_name', sa.String(length=200), nullable=True),
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('permissions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', openhero.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rotated_to_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['practice_group_id'], ['practice_groups.id'], name=op.f('fk_api_keys_practice_group_id_practice_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('prefix', name=op.f('uq_api_keys_prefix'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_practice_group_id'), ['practice_group_id'], unique=False)

    op.create_table('appointment_types',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('partner_slot_name', sa.String(length=200), nullable=False),
    sa.Column('sector', sa.String(length=8), nullable=False),
    sa.Column('price', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('duration', sa.Integer(), nullable=False),
    sa.Column('video', sa.Boolean(), nullable=False),
    sa.Column('in_person', sa.Boolean(), nullable=False),
    sa.Column('telephone', sa.Boolean(), nullable=False),
    sa.Column('use_partner_bookable_slots', sa.Boolean(), nullable=False),
    sa.Column('admin_booking_invoice_required', sa.Boolean(), nullable=False),
    sa.Column('practitioner_type', sa.String(length=64), nullable=False),
    sa.Column('assignee_type', sa.String(length=16), nullable=True),
    sa.Column('assignee_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('form_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('practice_group_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('created_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['practice_group_id'], ['practice_groups.id'], name=op.f('fk_appointment_types_practice_group_id_practice_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_types'))
    )
    with op.batch_alter_table('appointment_types', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_types_practice_group_id'), ['practice_group_id'], unique=False)

    op.create_table('audit_log',
    sa.Column('key_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=32), nullable=False),
    sa.Column('object_id', sa.String(length=32), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('practice_group_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['practice_group_id'], ['practice_groups.id'], name=op.f('fk_audit_log_practice_group_id_practice_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_practice_group_id'), ['practice_group_id'], unique=False)

    op.create_table('events',
    sa.Column('practice_group_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=32), nullable=False),
    sa.Column('object_id', sa.String(length=32), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('dispatched_at', openhero.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['practice_group_id'], ['practice_groups.id'], name=op.f('fk_events_practice_group_id_practice_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_practice_group_id'), ['practice_group_id'], unique=False)
        batch_op.create_index('ix_events_undispatched', ['dispatched_at', 'id'], unique=False)

    op.create_table('locations',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('online_booking_enabled', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('practice_group_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('created_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['practice_group_id'], ['practice_groups.id'], name=op.f('fk_locations_practice_group_id_practice_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_locations'))
    )
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_locations_practice_group_id'), ['practice_group_id'], unique=False)

    op.create_table('patients',
    sa.Column('uid', sa.String(length=36), nullable=False),
    sa.Column('nhs_number', sa.String(length=10), nullable=True),
    sa.Column('emis_id', sa.String(length=64), nullable=True),
    sa.Column('ehr_partner_id', sa.String(length=64), nullable=True),
    sa.Column('ehr_partner', sa.String(length=32), nullable=True),
    sa.Column('ehr_registered', sa.Boolean(), nullable=False),
    sa.Column('title', sa.String(length=40), nullable=True),
    sa.Column('first_name', sa.String(length=100), nullable=True),
    sa.Column('last_name', sa.String(length=100), nullable=True),
    sa.Column('sex', sa.String(length=20), nullable=True),
    sa.Column('dob', sqlite.DATE().with_variant(sa.DATE(), 'postgresql'), nullable=True),
    sa.Column('deceased_at', openhero.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('emails', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('mobile', sa.String(length=40), nullable=True),
    sa.Column('landline', sa.String(length=40), nullable=True),
    sa.Column('address_line_1', sa.String(length=200), nullable=True),
    sa.Column('address_line_2', sa.String(length=200), nullable=True),
    sa.Column('address_line_3', sa.String(length=200), nullable=True),
    sa.Column('town', sa.String(length=100), nullable=True),
    sa.Column('county', sa.String(length=100), nullable=True),
    sa.Column('country', sa.String(length=100), nullable=True),
    sa.Column('postcode', sa.String(length=16), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('verification_credentials', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('data_source', sa.String(length=16), nullable=False),
    sa.Column('restricted', sa.Boolean(), nullable=False),
    sa.Column('sex_changed_at', openhero.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('last_sync_at', openhero.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('practice_group_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('created_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['practice_group_id'], ['practice_groups.id'], name=op.f('fk_patients_practice_group_id_practice_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients')),
    sa.UniqueConstraint('practice_group_id', 'nhs_number', name=op.f('uq_patients_practice_group_id_nhs_number')),
    sa.UniqueConstraint('uid', name=op.f('uq_patients_uid'))
    )
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index('ix_patients_group_dob', ['practice_group_id', 'dob'], unique=False)
        batch_op.create_index('ix_patients_group_names', ['practice_group_id', 'last_name', 'first_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_practice_group_id'), ['practice_group_id'], unique=False)

    op.create_table('practitioners',
    sa.Column('title', sa.String(length=20), nullable=True),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('practitioner_type', sa.String(length=64), nullable=False),
    sa.Column('gender', sa.String(length=20), nullable=True),
    sa.Column('gmc_number', sa.String(length=20), nullable=True),
    sa.Column('bio', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('practice_group_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('created_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['practice_group_id'], ['practice_groups.id'], name=op.f('fk_practitioners_practice_group_id_practice_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_practitioners'))
    )
    with op.batch_alter_table('practitioners', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_practitioners_practice_group_id'), ['practice_group_id'], unique=False)

    op.create_table('admin_team_members',
    sa.Column('admin_team_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('admin_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['admin_id'], ['admins.id'], name=op.f('fk_admin_team_members_admin_id_admins'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['admin_team_id'], ['admin_teams.id'], name=op.f('fk_admin_team_members_admin_team_id_admin_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('admin_team_id', 'admin_id', name=op.f('pk_admin_team_members'))
    )
    op.create_table('appointment_type_locations',
    sa.Column('appointment_type_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('location_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['appointment_type_id'], ['appointment_types.id'], name=op.f('fk_appointment_type_locations_appointment_type_id_appointment_types'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_appointment_type_locations_location_id_locations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('appointment_type_id', 'location_id', name=op.f('pk_appointment_type_locations'))
    )
    op.create_table('practitioner_locations',
    sa.Column('practitioner_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('location_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_practitioner_locations_location_id_locations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['practitioner_id'], ['practitioners.id'], name=op.f('fk_practitioner_locations_practitioner_id_practitioners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('practitioner_id', 'location_id', name=op.f('pk_practitioner_locations'))
    )
    op.create_table('tasks',
    sa.Column('type_label', sa.String(length=100), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.String(length=16), nullable=False),
    sa.Column('priority_rank', sa.Integer(), nullable=False),
    sa.Column('details', sa.Text(), nullable=True),
    sa.Column('assignee_type', sa.String(length=16), nullable=True),
    sa.Column('assignee_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('patient_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('appointment_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('form_response_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('message_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('triggered_by', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('system_alert_details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('closed_at', openhero.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('practice_group_id', sa.BigInteger().with_variant(sa.INTEGER(), 'sqlite'), nullable=False),
    sa.Column('created_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', openhero.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_tasks_patient_id_patients'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['practice_group_id'], ['practice_groups.id'], name=op.f('fk_tasks_practice_group_id_practice_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_group_assignee', ['practice_group_id', 'assignee_type', 'assignee_id'], unique=False)
        batch_op.create_index('ix_tasks_group_created', ['practice_group_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_tasks_group_priority', ['practice_group_id', 'priority_rank', 'created_at'], unique=False)
        batch_op.create_index('ix_tasks_group_status_created', ['practice_group_id', 'status', 'created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_practice_group_id'), ['practice_group_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tasks_practice_group_id'))
        batch_op.drop_index(batch_op.f('ix_tasks_patient_id'))
        batch_op.drop_index('ix_tasks_group_status_created')
        batch_op.drop_index('ix_tasks_group_priority')
        batch_op.drop_index('ix_tasks_group_created')
        batch_op.drop_index('ix_tasks_group_assignee')

    op.drop_table('tasks')
    op.drop_table('practitioner_locations')
    op.drop_table('appointment_type_locations')
    op.drop_table('admin_team_members')
    with op.batch_alter_table('practitioners', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_practitioners_practice_group_id'))

    op.drop_table('practitioners')
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_practice_group_id'))
        batch_op.drop_index('ix_patients_group_names')
        batch_op.drop_index('ix_patients_group_dob')

    op.drop_table('patients')
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_locations_practice_group_id'))

    op.drop_table('locations')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_undispatched')
        batch_op.drop_index(batch_op.f('ix_events_practice_group_id'))

    op.drop_table('events')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_practice_group_id'))

    op.drop_table('audit_log')
    with op.batch_alter_table('appointment_types', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_types_practice_group_id'))

    op.drop_table('appointment_types')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_practice_group_id'))

    op.drop_table('api_keys')
    with op.batch_alter_table('admins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_admins_practice_group_id'))

    op.drop_table('admins')
    with op.batch_alter_table('admin_teams', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_admin_teams_practice_group_id'))

    op.drop_table('admin_teams')
    with op.batch_alter_table('practice_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_practice_groups_network_id'))

    op.drop_table('practice_groups')
    op.drop_table('networks')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_practice_group_id'))
        batch_op.drop_index('ix_jobs_lease')
        batch_op.drop_index('ix_jobs_due')

    op.drop_table('jobs')
