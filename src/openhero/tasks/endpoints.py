"""Task operations: PATCH /v1/tasks/{id}, GET /v2/tasks/{id}, GET /v2/tasks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any, get_args

import orjson
from fastapi import APIRouter, Depends, Response
from pydantic import TypeAdapter

from openhero.core.auth import PrincipalDep, authenticate
from openhero.core.deps import ClockDep, ReadSessionDep, SessionDep
from openhero.core.pagination import PageDep, array_filter, array_filters, enum_error, parse_ids, parse_sort
from openhero.core.routing import ApiRoute
from openhero.core.schemas import ListResponse, format_timestamp
from openhero.tasks import schemas, service
from openhero.tasks.models import Task

router = APIRouter(route_class=ApiRoute, dependencies=[Depends(authenticate)], tags=["Task"])

# Accept the spellings seen in Hero's docs for tasks (admin/admin_team) and episodes (Admin/AdminTeam).
_ASSIGNEE_TYPES = {"admin": "admin", "admin_team": "admin_team", "adminteam": "admin_team",
                   "unassigned": "unassigned"}
_ORDER_BY = ("created_at", "priority", "updated_at", "status")


_TASK_FIELDS = ("id", "type_label", "status", "details", "category", "priority", "note", "triggered_by",
                "system_alert_details", "created_at", "updated_at", "closed_at")


def _linked(value: int | None) -> dict[str, int] | None:
    return {"id": value} if value is not None else None


def _task_values(task: Any, patient: Any) -> dict[str, Any]:
    """The TaskOut input from an ORM task or a list row (same attribute names)."""
    return {
        **{n: getattr(task, n) for n in _TASK_FIELDS},
        "assignee": {"type": task.assignee_type, "id": task.assignee_id} if task.assignee_type else None,
        "patient": patient,
        "form_response": _linked(task.form_response_id), "appointment": _linked(task.appointment_id),
        "communication": _linked(task.message_id),
    }


def task_out(task: Task) -> schemas.TaskOut:
    return schemas.TaskOut.model_validate(_task_values(task, task.patient))


def _row_patient(row: Any) -> dict[str, Any] | None:
    if row.patient__id is None:
        return None
    return {key[9:]: value for key, value in row._mapping.items() if key.startswith("patient__")}


_TASK_PAGE = TypeAdapter(ListResponse[schemas.TaskOut])
_STATUSES = frozenset(get_args(schemas.TaskStatus))
_PRIORITIES = frozenset(get_args(schemas.TaskPriority))
_ASSIGNEE_KINDS = frozenset({"admin", "admin_team"})
_PATIENT_TEXT = ("uid", "ehr_partner_id", "emis_id")
_PATIENT_NAMES = ("title", "first_name", "last_name", "nhs_number")


class _Unusual(Exception):
    """A row the direct serialiser does not vouch for: the page goes through the documented model."""


def _int_text(value: Any) -> str:
    if type(value) is not int:
        raise _Unusual
    return str(value)


def _time_text(value: Any) -> str:
    if type(value) is not datetime:
        raise _Unusual
    return format_timestamp(value)


def _linked_text(value: Any) -> dict[str, str] | None:
    return None if value is None else {"id": _int_text(value)}


def _optional(value: Any, kind: type) -> Any:
    """``value`` when it is None or exactly of ``kind`` (what the model passes through unchanged)."""
    if value is not None and type(value) is not kind:
        raise _Unusual
    return value


def _text(value: Any) -> str:
    if type(value) is not str:
        raise _Unusual
    return value


def _fast_patient(row: Any) -> dict[str, Any] | None:
    if row.patient__id is None:
        return None
    get = row._mapping.__getitem__
    deceased, dob = get("patient__deceased_at"), _optional(get("patient__dob"), date)
    return {
        "id": _int_text(row.patient__id),
        **{name: _optional(get(f"patient__{name}"), str) for name in _PATIENT_TEXT},
        "deceased_at": None if deceased is None else _time_text(deceased),
        "dob": None if dob is None else schemas.dob_timestamp(dob),
        **{name: _optional(get(f"patient__{name}"), str) for name in _PATIENT_NAMES},
    }


def _fast_task(row: Any) -> dict[str, Any]:
    """A list row as ``TaskOut`` renders it, field for field in the model's order, without building the model.
    Anything the model would coerce or refuse (a value of another type, an unknown status) raises _Unusual."""
    if row.status not in _STATUSES or row.priority not in _PRIORITIES:
        raise _Unusual
    kind = row.assignee_type
    if kind is not None and kind not in _ASSIGNEE_KINDS:
        raise _Unusual
    return {
        "id": _int_text(row.id), "type_label": _text(row.type_label), "status": row.status,
        "details": _optional(row.details, str), "category": _text(row.category), "priority": row.priority,
        "assignee": {"type": kind, "id": _int_text(row.assignee_id)} if kind else None,
        "patient": _fast_patient(row),
        "form_response": _linked_text(row.form_response_id), "appointment": _linked_text(row.appointment_id),
        "communication": _linked_text(row.message_id),
        "note": _optional(row.note, str), "triggered_by": _optional(row.triggered_by, dict),
        "system_alert_details": _optional(row.system_alert_details, dict),
        "created_at": _time_text(row.created_at), "updated_at": _time_text(row.updated_at),
        "closed_at": None if row.closed_at is None else _time_text(row.closed_at),
    }


def page_json(rows: Sequence[Any], count: int) -> bytes:
    """A page of list rows as ``ListResponse[TaskOut]`` JSON, byte for byte.

    The hot path writes the rows straight to JSON (orjson); validating a page of 20 against the documented
    model and dumping it cost more than the page's query. Every value is checked to be of the exact type the
    model would pass through unchanged; a row with anything else (or JSON orjson cannot write, such as an
    integer past 64 bits) sends the page through the model, which answers exactly as it always did. Tested
    against the model on rows of every shape (tests/tasks/test_task_page_json.py)."""
    try:
        return orjson.dumps({"data": [_fast_task(r) for r in rows], "count": count})
    except (_Unusual, TypeError):  # orjson.JSONEncodeError is a TypeError
        body = {"data": [_task_values(r, _row_patient(r)) for r in rows], "count": count}
        return _TASK_PAGE.dump_json(_TASK_PAGE.validate_python(body), by_alias=True)


async def _task_filter(
    arrays: Annotated[dict[str, list[str]], Depends(array_filters(
        statuses=array_filter("status", schemas.TaskStatus, documented_name="status[]"),
        priorities=array_filter("priority", schemas.TaskPriority, documented_name="priority[]"),
        assignee_ids=array_filter("assignee_id", documented_name="assignee_id[]",
                                  description="admin ids; with assignee_type[]=admin_team, admin team ids"),
        assignee_types=array_filter(
            "assignee_type", documented_name="assignee_type[]",
            description="admin | admin_team | unassigned (Admin, AdminTeam, Unassigned also accepted)"),
        order_by=array_filter("order_by", documented_name="order_by[]",
                              description="created_at (default) | priority | updated_at | status"),
        order_descending=array_filter("order_descending", documented_name="order_descending[]",
                                      description="true | false per order_by entry (default true: newest "
                                                  "first)"),
    ))],
) -> service.TaskFilter:
    statuses, priorities, assignee_ids = arrays["statuses"], arrays["priorities"], arrays["assignee_ids"]
    assignee_types, order_by, order_descending = (arrays["assignee_types"], arrays["order_by"],
                                                  arrays["order_descending"])
    types = []
    for i, raw in enumerate(assignee_types):
        value = _ASSIGNEE_TYPES.get(raw.strip().lower())
        if value is None:
            raise enum_error("assignee_type", i, ("admin", "admin_team", "unassigned"), raw)
        types.append(value)
    keys, descending = parse_sort(order_by, order_descending, _ORDER_BY)
    return service.TaskFilter(statuses=statuses, priorities=priorities,
                              assignee_ids=parse_ids("assignee_id", assignee_ids), assignee_types=types,
                              order_by=keys, descending=descending)


@router.get("/v2/tasks", operation_id="listTasks", response_model=ListResponse[schemas.TaskOut],
            summary="Page through the practice group's task inbox with assignee/status/priority filters and "
                    "ordering.",
            description="Filters combine with AND; values inside one array filter with OR. Array keys may be sent "
                        "as `status[]=open` or `status=open`. `assignee_type[]=unassigned` finds tasks with no "
                        "assignee. Default order: created_at descending. Response `{data, count}` (openhero: "
                        "count is the total matching).")
async def list_tasks(session: ReadSessionDep, principal: PrincipalDep, page: PageDep,
                     flt: Annotated[service.TaskFilter, Depends(_task_filter)]) -> Response:
    rows, count = await service.list_tasks(session, principal, flt, page)
    return Response(page_json(rows, count), media_type="application/json")


@router.get("/v2/tasks/{id}", operation_id="getTask", response_model=schemas.TaskOut,
            summary="Fetch one task (v2 shape) including its patient and linked records.",
            description="Linked records (form_response, appointment, communication) are `{id}` objects or null "
                        "(openhero's shape; Hero's was not published); assignee is `{type, id}` or null.")
async def get_task(id: str, session: ReadSessionDep, principal: PrincipalDep) -> schemas.TaskOut:
    return task_out(await service.get_task(session, principal, id))


@router.patch("/v1/tasks/{id}", operation_id="updateTask", response_model=schemas.UpdateTaskResponse,
              summary="Change a task's status, priority or assignee.",
              description="Send only what changes. The assignee must be an admin or admin team of the same "
                          "practice group (otherwise 400).")
async def update_task(id: str, body: schemas.UpdateTaskRequest, session: SessionDep, principal: PrincipalDep,
                      clock: ClockDep) -> schemas.UpdateTaskResponse:
    task = await service.update_task(session, principal, id, body.model_dump(exclude_unset=True), clock.now())
    return schemas.UpdateTaskResponse(data=schemas.UpdateTaskResponseData(id=str(task.id)))
