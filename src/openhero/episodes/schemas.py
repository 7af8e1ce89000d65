"""Episode shapes, named after the contract's schemas (EpisodeListItem, Episode, EpisodeNote...)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema, field_validator

from openhero.core.schemas import ApiModel, Id, RequestModel, Timestamp

EpisodeStatus = Literal["open", "closed", "in_progress"]
EpisodePriority = Literal["lowest", "low", "medium", "high", "highest"]
AssigneeType = Literal["Admin", "AdminTeam", "Unassigned"]


def _date_as_timestamp(value: date) -> str:
    # Hero renders dates of birth as midnight UTC date-times (format: date-time in the contract).
    return datetime(value.year, value.month, value.day, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


DobTimestamp = Annotated[date, PlainSerializer(_date_as_timestamp, return_type=str),
                         WithJsonSchema({"type": ["string", "null"], "format": "date-time"})]


def _int_to_str(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


IdInput = Annotated[str, BeforeValidator(_int_to_str), Field(pattern=r"^[0-9]{1,18}$")]


class EpisodeAssignee(ApiModel):
    type: AssigneeType | None
    id: Id | None = None
    name: str | None


class EpisodeListPatient(ApiModel):
    id: Id
    uid: str | None = None
    ehr_partner_id: str | None = None
    emis_id: str | None = None
    deceased_at: Timestamp | None = None
    dob: DobTimestamp | None
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    nhs_number: str | None = None


class Address(ApiModel):
    line1: str | None = None
    line2: str | None = None
    line3: str | None = None
    town: str
    county: str | None = None
    country: str
    postcode: str


class EpisodeTaskPatient(ApiModel):
    id: Id
    uid: str | None = None
    ehr_partner_id: str | None = None
    emis_id: str | None = None
    deceased_at: Timestamp | None = None
    dob: DobTimestamp | None
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    sex: Literal["unspecified", "male", "female", "other"]
    nhs_number: str | None = None
    email: str | None = None
    mobile: str | None = None
    last_sync_at: Timestamp | None = None
    full_name: str
    contact_emails: list[str] | None
    registered_practitioner_name: str | None
    notes: str | None
    membership_scheme_names: list[str] | None
    address: Address


class EpisodeTask(ApiModel):
    id: Id
    type_label: str
    details: str | None
    category: str
    status: str
    priority: str
    created_at: Timestamp
    patient: EpisodeTaskPatient


class EpisodeListItem(ApiModel):
    id: Id
    status: EpisodeStatus
    priority: EpisodePriority
    title: str
    type: str
    assignees: list[EpisodeAssignee] = []
    tasks: list[EpisodeTask] = []
    patient: EpisodeListPatient | None
    created_at: Timestamp
    updated_at: Timestamp
    closed_at: Timestamp | None


class EpisodeList(ApiModel):
    data: list[EpisodeListItem]
    count: int


class NoteAdmin(ApiModel):
    id: Id
    first_name: str
    last_name: str
    full_name: str


class EpisodeNote(ApiModel):
    id: Id
    episode_id: Id
    description: str
    admin: NoteAdmin | None
    practice_group_id: Id
    archived_at: Timestamp | None
    created_at: Timestamp


class Episode(EpisodeListItem):
    notes: list[EpisodeNote] = []


class EpisodeListItemV2(ApiModel):
    """v2 rows are lighter: task and note counts instead of the embedded tasks."""

    id: Id
    status: EpisodeStatus
    priority: EpisodePriority
    title: str
    type: str
    assignees: list[EpisodeAssignee] = []
    patient: EpisodeListPatient | None
    task_count: int
    open_task_count: int
    note_count: int
    created_at: Timestamp
    updated_at: Timestamp
    closed_at: Timestamp | None


class EpisodeListV2(ApiModel):
    data: list[EpisodeListItemV2]
    count: int


class AssigneeIn(RequestModel):
    type: str = Field(max_length=20, examples=["Admin"])
    id: IdInput | None = None
    name: str | None = None  # ignored: the name comes from the admin or team record


class UpdateEpisodeRequest(RequestModel):
    status: EpisodeStatus | None = None
    priority: EpisodePriority | None = None
    assignees: list[AssigneeIn] | None = Field(default=None, max_length=20)


class CreateEpisodeNoteRequest(RequestModel):
    episode_id: IdInput
    description: str = Field(min_length=1, max_length=10000,
                             examples=["Patient reported improved symptoms today."])
    admin_id: IdInput | None = Field(default=None, description="openhero: the admin writing the note (optional)")

    @field_validator("description")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        # PostgreSQL cannot store NUL; refuse it as bad input rather than fail on insert.
        if "\x00" in value:
            raise ValueError("description may not contain NUL characters")
        return value
