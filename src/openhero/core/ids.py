"""One id parser for paths, queries, bodies and headers.

An id is 1-19 ASCII digits naming a value within BIGINT (at most 2**63-1). ``str.isdigit()`` is not
enough: it accepts superscripts ('³', which ``int()`` then refuses: a 500) and other scripts' digits
('٢', which ``int()`` reads as 2: another row). Pydantic's ``\\d`` is Unicode-aware too, so schemas use
``ID_PATTERN``.

- ``to_id(raw)``: the id or ``None`` (for code that decides itself what a non-id means);
- ``parse_id(raw, what)``: a path id; anything else cannot name a row, so 404;
- ``require_id(raw, path)``: a body, query or header id; anything else is a 400 naming the field;
- ``parse_ids(name, values)``: the ids of an array filter, 400 naming ``[name, index]``;
- ``IdIn``: the Pydantic type for an id in a request body (a digit string or a JSON integer).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from openhero.core.errors import NotFound, PathItem, ValidationFailed, error_item

MAX_ID = 2**63 - 1
MAX_ID_DIGITS = 19
ID_PATTERN = r"^[0-9]{1,19}$"
EXPECTED = "a numeric id string (ASCII digits, at most 2^63-1)"


def to_id(raw: object) -> int | None:
    """The id ``raw`` names (a decimal digit string or a non-negative int), else ``None``."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 0 <= raw <= MAX_ID else None
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not (0 < len(text) <= MAX_ID_DIGITS and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def is_id(raw: object) -> bool:
    return to_id(raw) is not None


def parse_id(raw: object, what: str = "Resource") -> int:
    """A path id: anything but an id cannot name a row, so it is a 404 like a missing row."""
    value = to_id(raw)
    if value is None:
        raise NotFound(what)
    return value


def id_error(path: list[PathItem], raw: object) -> ValidationFailed:
    name = ".".join(str(p) for p in path) or "id"
    shown = raw if isinstance(raw, int | str) else type(raw).__name__
    return ValidationFailed(f"{name} must be a numeric id", items=[
        error_item("invalid_string", EXPECTED, path, f"{str(shown)[:40]!r} is not an id")])


def require_id(raw: object, path: list[PathItem]) -> int:
    """A body, query or header id: anything but an id is a 400 naming ``path``."""
    value = to_id(raw)
    if value is None:
        raise id_error(path, raw)
    return value


def parse_ids(name: str, raw_values: list[str]) -> list[int]:
    """Ids of an array filter (``assignee_id[]=12``); anything but an id is a 400 at ``[name, index]``."""
    return [require_id(raw, [name, i]) for i, raw in enumerate(raw_values)]


def _id_in(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _check_id(value: str) -> str:
    number = to_id(value)
    if number is None:
        raise ValueError(f"must be {EXPECTED}")
    return str(number)


# An id in a request body: "156" or 156; anything else is a 400 naming the field.
IdIn = Annotated[
    str,
    BeforeValidator(_id_in),
    AfterValidator(_check_id),
    WithJsonSchema({"type": "string", "pattern": ID_PATTERN}),
]
