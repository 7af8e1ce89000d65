"""Imports every domain's models so the metadata is complete (Alembic, schema checks)."""

from __future__ import annotations

import importlib

from openhero.core.db import Base

MODEL_MODULES = (
    "openhero.practice.models",
    "openhero.patients.models",
    "openhero.tasks.models",
    "openhero.core.outbox",
    "openhero.core.audit",
    "openhero.core.jobs",
    "openhero.booking.models",
    "openhero.messaging.models",
    "openhero.webhooks.models",
    "openhero.links.models",
    "openhero.forms.models",
    "openhero.episodes.models",
    "openhero.prescriptions.models",
    "openhero.invoicing.models",
)


def load_all() -> type[Base]:
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise  # a real import error inside an existing module
    return Base
