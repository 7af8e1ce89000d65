"""Imports every table definition so the metadata is complete (Alembic, schema checks)."""

from __future__ import annotations

import importlib

from openhero.core.db import Base
from openhero.domains import domain_modules

# Core tables that belong to no domain.
CORE_MODEL_MODULES = ("openhero.core.outbox", "openhero.core.audit", "openhero.core.jobs",
                      "openhero.core.idempotency", "openhero.core.sandbox", "openhero.core.instance")


def load_all() -> type[Base]:
    for name in CORE_MODEL_MODULES:
        importlib.import_module(name)
    domain_modules("models")
    return Base
