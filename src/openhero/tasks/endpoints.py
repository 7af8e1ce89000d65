"""Task operations: PATCH /v1/tasks/{id}, GET /v2/tasks/{id}, GET /v2/tasks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import TypeAdapter

from openhero.core.auth import PrincipalDep, authenticate
from openhero.core.deps import ClockDep, ReadSessionDep, SessionDep
from openhero.core.pagination import PageDep, array_filter, array_filters, enum_error, parse_ids, parse_sort
from openhero.core.routing import ApiRoute
from openhero.core.schemas import ListResponse
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
    # Validated once against the documented model and serialised straight to JSON bytes (returning the
    # model would validate it a second time as the response_model).
    body = {"data": [_task_values(r, _row_patient(r)) for r in rows], "count": count}
    return Response(_TASK_PAGE.dump_json(_TASK_PAGE.validate_python(body), by_alias=True),
                    media_type="application/json")


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
