"""Bodies of the sandbox's clock and fault operations."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from openhero.core.schemas import Timestamp

FaultName = Literal["pds", "sms", "email", "nhs_app", "webhooks", "ehr_write"]
FaultMode = Literal["unavailable", "timeout", "error", "identity_check", "fail", "bounce", "delay", "drop", "reject"]


class ClockOut(BaseModel):
    now: Timestamp = Field(description="The practice group's current time (UTC).")
    offset_seconds: int = Field(description="How far the group's clock is ahead of real time.")


class AdvanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: int = Field(gt=0, le=10 * 366 * 24 * 3600, description="Seconds to move forward (positive only).")


class FaultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: FaultMode
    for_seconds: int | None = Field(default=None, gt=0, le=366 * 24 * 3600,
                                    description="Clear the fault by itself after this long (group time).")


class FaultOut(BaseModel):
    name: FaultName
    mode: FaultMode
    expires_at: Timestamp | None = None


class FaultList(BaseModel):
    data: list[FaultOut]
    count: int
