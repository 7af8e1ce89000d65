"""The one list of domain packages, and the loader every registry uses.

A domain contributes by the modules it has: ``models`` (tables), ``endpoints``/``pages`` (routers),
``jobs`` (worker handlers and pollers), ``cli`` (an ``openhero <domain>`` command group), ``demo``
(demo-data hooks). Adding a domain is one line here.
"""

from __future__ import annotations

import importlib
from types import ModuleType

DOMAINS = (
    "practice", "tasks", "patients", "booking", "messaging", "webhooks", "links", "forms",
    "episodes", "prescriptions", "partners", "hca", "invoicing", "sandbox",
)


def import_optional(name: str) -> ModuleType | None:
    """Import ``name`` if it exists; None when that module (or its package) does not. A missing import
    *inside* an existing module is a real error and propagates."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            return None
        raise


def domain_modules(kind: str) -> list[tuple[str, ModuleType]]:
    """``(domain, module)`` for every domain that has ``openhero.<domain>.<kind>``, in DOMAINS order."""
    found = []
    for domain in DOMAINS:
        module = import_optional(f"openhero.{domain}.{kind}")
        if module is not None:
            found.append((domain, module))
    return found
