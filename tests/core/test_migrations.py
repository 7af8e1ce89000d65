"""The migrated schema is exactly what the models describe (no drift between Alembic and the code)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from openhero.models import load_all


async def test_migrations_match_models(database):
    metadata = load_all().metadata

    def diff(sync_conn):  # type: ignore[no-untyped-def]
        ctx = MigrationContext.configure(sync_conn, opts={"compare_type": False})
        return compare_metadata(ctx, metadata)

    async with database.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []
