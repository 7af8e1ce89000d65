"""Episode operations: GET /v1/episodes, GET/PATCH /v1/episodes/{id}, POST /v1/notes, GET /v2/episodes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from openhero.core.auth import PrincipalDep, authenticate
from openhero.core.deps import ClockDep, ReadSessionDep, SessionDep
from openhero.core.pagination import PageDep, array_filter, enum_error, parse_ids, parse_sort
from openhero.core.routing import ApiRoute
from openhero.episodes import schemas, service, views

router = APIRouter(route_class=ApiRoute, dependencies=[Depends(authenticate)], tags=["Episode"])

_ORDER_BY = ("created_at", "priority", "updated_at")

TASKS_RULE = ("Tasks reach episodes automatically (openhero): every new task that has a patient is filed by "
              "the worker into that patient's latest episode that is not closed, or opens a new episode titled "
              "after the task; an episode's priority rises to its most urgent task's. A task belongs to one "
              "episode (a task whose patient record is gone is not listed). Episodes take any valid key.")
FILTER_RULE = ("Filters combine with AND, values inside one array filter with OR; keys may be sent as "
               "`status[]=open` or `status=open`. `assignee_type[]` is Admin | AdminTeam | Unassigned "
               "(admin/admin_team accepted); `assignee_id[]` names admins, or admin teams with "
               "`assignee_type[]=AdminTeam`. `order_by[]` created_at (default) | priority | updated_at, each "
               "with an `order_descending[]` true/false (default true). Paging: page_index (0-based), page_size "
               "(default 20, max 100). Response `{data, count}`, count = total matching (openhero).")


async def _episode_filter(
    statuses: Annotated[list[str], Depends(array_filter("status", schemas.EpisodeStatus,
                                                        documented_name="status[]"))],
    priorities: Annotated[list[str], Depends(array_filter("priority", schemas.EpisodePriority,
                                                          documented_name="priority[]"))],
    assignee_ids: Annotated[list[str], Depends(array_filter("assignee_id", documented_name="assignee_id[]"))],
    assignee_types: Annotated[list[str], Depends(array_filter(
        "assignee_type", documented_name="assignee_type[]", description="Admin | AdminTeam | Unassigned"))],
    patient_ids: Annotated[list[str], Depends(array_filter(
        "patient_id", documented_name="patient_id[]", description="openhero: episodes of these patients"))],
    order_by: Annotated[list[str], Depends(array_filter("order_by", documented_name="order_by[]",
                                                        description="created_at | priority | updated_at"))],
    order_descending: Annotated[list[str], Depends(array_filter(
        "order_descending", documented_name="order_descending[]", description="true | false per order_by"))],
) -> service.EpisodeFilter:
    types = []
    for i, raw in enumerate(assignee_types):
        value = service.assignee_type(raw)
        if value is None:
            raise enum_error("assignee_type", i, ("Admin", "AdminTeam", "Unassigned"), raw)
        types.append(value)
    keys, descending = parse_sort(order_by, order_descending, _ORDER_BY)
    return service.EpisodeFilter(statuses=statuses, priorities=priorities,
                                 assignee_ids=parse_ids("assignee_id", assignee_ids), assignee_types=types,
                                 patient_ids=parse_ids("patient_id", patient_ids), order_by=keys,
                                 descending=descending)


FilterDep = Annotated[service.EpisodeFilter, Depends(_episode_filter)]


@router.get("/v1/episodes", operation_id="listEpisodes", response_model=schemas.EpisodeList,
            summary="Page through the practice group's episodes, filtering by assignee, status and priority and "
                    "choosing sort order.",
            description=f"{FILTER_RULE} Each item embeds its assignees `{{type, id, name}}` (empty when "
                        f"unassigned), its tasks (oldest first) and a patient summary. {TASKS_RULE}")
async def list_episodes(session: ReadSessionDep, principal: PrincipalDep, page: PageDep,
                        flt: FilterDep) -> schemas.EpisodeList:
    rows, count = await service.list_episodes(session, principal, flt, page)
    return schemas.EpisodeList(data=await views.list_items(session, rows), count=count)


@router.get("/v2/episodes", operation_id="listEpisodesV2", response_model=schemas.EpisodeListV2,
            summary="Second-generation episode listing (page \"List Episodes (v2)\").",
            description="openhero's v2 (Hero's was not published): the same filters, sorting and paging as "
                        "GET /v1/episodes, plus `patient_id[]`, with lighter rows: `task_count`, "
                        f"`open_task_count` and `note_count` instead of embedded tasks. {FILTER_RULE}")
async def list_episodes_v2(session: ReadSessionDep, principal: PrincipalDep, page: PageDep,
                           flt: FilterDep) -> schemas.EpisodeListV2:
    rows, count = await service.list_episodes(session, principal, flt, page)
    return schemas.EpisodeListV2(data=await views.list_items_v2(session, rows), count=count)


@router.get("/v1/episodes/{id}", operation_id="getEpisode", response_model=schemas.Episode,
            summary="Fetch one episode with its assignees and linked tasks.",
            description="Adds to the list item the episode's live (unarchived) notes, oldest first (openhero). "
                        f"Another practice group's episode is 404. {TASKS_RULE}")
async def get_episode(id: str, session: ReadSessionDep, principal: PrincipalDep) -> schemas.Episode:
    return await views.full(session, await service.get_episode(session, principal, id))


@router.patch("/v1/episodes/{id}", operation_id="updateEpisode", response_model=schemas.Episode,
              summary="Change an episode's status, priority and/or assignees.",
              description="Send only what changes. `assignees` replaces the whole list: each `{type, id}` with "
                          "type Admin or AdminTeam naming an admin or team of this practice group (otherwise "
                          "400); `[]` or `[{\"type\": \"Unassigned\"}]` unassigns; `name` is ignored. Closing "
                          "sets `closed_at`; reopening clears it; the episode's tasks are left as they are. "
                          "Answers with the updated episode, as GET /v1/episodes/{id} (openhero).")
async def update_episode(id: str, body: schemas.UpdateEpisodeRequest, session: SessionDep,
                         principal: PrincipalDep, clock: ClockDep) -> schemas.Episode:
    changes = body.model_dump(exclude_unset=True)
    episode = await service.update_episode(session, principal, id, changes, clock.now())
    return await views.full(session, episode)


@router.post("/v1/notes", operation_id="createEpisodeNote", response_model=schemas.EpisodeNote,
             summary="Attach a free-text note to an episode (page title \"Create a note\").",
             description="`episode_id` and `description` (1-10000 characters) are required; an episode of "
                         "another practice group or none is 404. Optional `admin_id` (openhero) names the admin "
                         "writing the note, else `admin` is null. Ids in the answer are numbers, as in Hero's "
                         "example.")
async def create_note(body: schemas.CreateEpisodeNoteRequest, session: SessionDep, principal: PrincipalDep,
                      clock: ClockDep) -> schemas.EpisodeNote:
    note, admin = await service.create_note(session, principal, episode_id=body.episode_id,
                                            description=body.description, admin_id=body.admin_id,
                                            now=clock.now())
    return views.note_out(note, admin)
