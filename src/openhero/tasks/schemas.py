"""Task schemas (v2 read shape, v1 update)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, PlainSerializer, WithJsonSchema

from openhero.core.schemas import ApiModel, Id, RequestModel, Timestamp

TaskStatus = Literal["open", "closed", "in_progress"]
TaskPriority = Literal["lowest", "low", "medium", "high", "highest"]


def dob_timestamp(value: date) -> str:
    # The contract's TaskPatient.dob is a date-time, as /v1/patients/{id} renders it: midnight UTC.
    return datetime(value.year, value.month, value.day, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


DobTimestamp = Annotated[date, PlainSerializer(dob_timestamp, return_type=str),
                         WithJsonSchema({"type": "string", "format": "date-time"})]


class TaskPatient(ApiModel):
    id: Id
    uid: str | None = None
    ehr_partner_id: str | None = None
    emis_id: str | None = None
    deceased_at: Timestamp | None = None
    dob: DobTimestamp | None = None
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    nhs_number: str | None = None


class LinkedRecord(ApiModel):
    """openhero's shape for the linked records Hero names without showing: ``{"id": "..."}``."""

    id: Id


class TaskAssignee(ApiModel):
    type: Literal["admin", "admin_team"]
    id: Id


class TaskOut(ApiModel):
    id: Id
    type_label: str
    status: TaskStatus
    details: str | None
    category: str
    priority: TaskPriority
    assignee: TaskAssignee | None
    patient: TaskPatient | None
    form_response: LinkedRecord | None
    appointment: LinkedRecord | None
    communication: LinkedRecord | None
    note: str | None
    triggered_by: dict[str, Any] | None
    system_alert_details: dict[str, Any] | None
    created_at: Timestamp
    updated_at: Timestamp
    closed_at: Timestamp | None


class UpdateTaskRequest(RequestModel):
    status: TaskStatus | None = None
    priority: TaskPriority | None = None
    assignee_type: Literal["admin", "admin_team"] | None = None
    assignee_id: str | None = Field(default=None, pattern=r"^[0-9]+$", max_length=18)


class UpdateTaskResponseData(ApiModel):
    id: Id


class UpdateTaskResponse(ApiModel):
    data: UpdateTaskResponseData
