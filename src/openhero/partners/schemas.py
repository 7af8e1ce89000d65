"""Partner integration shapes."""

from __future__ import annotations

from openhero.core.schemas import ApiModel, Timestamp


class HeidiToken(ApiModel):
    token: str
    expiration_time: Timestamp
