"""Schema management through Alembic only (no create_all on production paths)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", database_url)
    cfg.set_main_option("path_separator", "os")
    return cfg


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Bring the schema to the newest revision of every domain branch. Call outside a running loop."""
    command.upgrade(alembic_config(database_url), revision)
