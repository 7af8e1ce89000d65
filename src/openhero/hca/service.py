"""Searching the sandbox HCA directory."""

from __future__ import annotations

from typing import Any

from openhero.core.errors import NotFound, ValidationFailed, error_item
from openhero.core.pagination import PageParams
from openhero.hca.directory import BY_GMC, CONSULTANTS, SEARCHABLE


def check_fields(fields: list[str]) -> list[str]:
    expected = " | ".join(f"'{f}'" for f in SEARCHABLE)
    for i, name in enumerate(fields):
        if name not in SEARCHABLE:
            raise ValidationFailed("unknown search field", items=[
                error_item("invalid_enum_value", expected, ["fields", i], f"{name!r} is not one of {expected}")])
    return list(dict.fromkeys(fields)) or list(SEARCHABLE)


def search(text: str | None, fields: list[str], page: PageParams) -> tuple[list[dict[str, Any]], int]:
    """Every word of ``text`` must appear (case-insensitive substring) in one of ``fields``."""
    words = (text or "").lower().split()
    found = []
    for consultant in CONSULTANTS:
        haystack = " \n ".join(v for f in fields for v in SEARCHABLE[f](consultant)).lower()
        if all(w in haystack for w in words):
            found.append(consultant)
    found.sort(key=lambda c: (c["last_name"], c["first_name"]))
    return found[page.offset:page.offset + page.page_size], len(found)


def get(gmc_number: str) -> dict[str, Any]:
    text = gmc_number.strip()
    if not (text.isascii() and text.isdigit() and len(text) == 7):
        raise ValidationFailed("gmc_number must be 7 digits", code="invalid_string", expected="a 7-digit GMC number",
                               path=["gmc_number"])
    consultant = BY_GMC.get(text)
    if consultant is None:
        raise NotFound("Consultant")
    return consultant
