"""Serialisation conventions shared by every schema: ids as digit strings, UTC timestamps with Z."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema


def _id_to_str(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


@functools.lru_cache(maxsize=8192)
def format_timestamp(value: datetime) -> str:
    """UTC ISO 8601 with millisecond precision and a Z, as JavaScript's toISOString() writes it.

    Remembered per value (bounded): the text depends on the instant alone, and the same timestamps come back
    page after page (hot reads hand out one object per stored value: core/reads.py); formatting one cost more
    than the rest of a task row's serialisation."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# An id exposed as a decimal digit string ("156").
Id = Annotated[
    str,
    BeforeValidator(_id_to_str),
    WithJsonSchema({"type": "string", "pattern": r"^\d+$"}),
]
# A UTC timestamp rendered as 2024-01-01T09:30:00.000Z.
Timestamp = Annotated[
    datetime,
    PlainSerializer(format_timestamp, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
DateStr = Annotated[date, PlainSerializer(lambda d: d.isoformat(), return_type=str)]


class ApiModel(BaseModel):
    """Base for response schemas; built from ORM objects."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


class RequestModel(BaseModel):
    """Base for request bodies. Unknown fields are ignored, as Hero's API does."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


T = TypeVar("T")


class ListResponse(ApiModel, Generic[T]):
    """The list envelope: ``count`` is the total matching, not the page length."""

    data: list[T]
    count: int
