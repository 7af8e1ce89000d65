"""The task inbox: every filter, sort and paging rule of GET /v2/tasks, GET /v2/tasks/{id}, PATCH /v1/tasks/{id}."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.builders import make_admin, make_admin_team, make_patient, make_task, make_tenant
from tests.core.test_auth import assert_error

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
async def inbox(clean, tenant):
    admin = await make_admin(clean, tenant.id)
    team = await make_admin_team(clean, tenant.id)
    patient = await make_patient(clean, tenant.id, nhs_number="9000000009")
    specs = [  # status, priority, assignee
        ("open", "high", ("admin", admin.id)),
        ("open", "low", ("admin_team", team.id)),
        ("in_progress", "highest", ("admin", admin.id)),
        ("closed", "medium", (None, None)),
        ("open", "lowest", (None, None)),
    ]
    tasks = []
    for i, (status, priority, (atype, aid)) in enumerate(specs):
        tasks.append(await make_task(clean, tenant.id, status=status, priority=priority, assignee_type=atype,
                                     assignee_id=aid, patient_id=patient.id, created_at=T0 + timedelta(hours=i),
                                     updated_at=T0 + timedelta(hours=i)))
    return {"admin": admin, "team": team, "patient": patient, "tasks": tasks}


def ids(r) -> list[str]:
    assert r.status_code == 200, r.text
    return [t["id"] for t in r.json()["data"]]


async def test_default_order_is_newest_first_with_total_count(api, inbox):
    r = await api.get("/v2/tasks")
    expected = [str(t.id) for t in reversed(inbox["tasks"])]
    assert ids(r) == expected and r.json()["count"] == 5


async def test_paging_counts_all_matching(api, inbox):
    r = await api.get("/v2/tasks", params={"page_size": "2", "page_index": "1"})
    assert ids(r) == [str(inbox["tasks"][2].id), str(inbox["tasks"][1].id)]
    assert r.json()["count"] == 5
    assert ids(await api.get("/v2/tasks?page_size=2&page_index=3")) == []


@pytest.mark.parametrize("query,code", [("page_size=abc", "invalid_type"), ("page_index=-1", "too_small"),
                                         ("page_size=101", "too_big"), ("page_size=0", "too_small")])
async def test_bad_paging_is_400(api, inbox, query, code):
    assert_error(await api.get(f"/v2/tasks?{query}"), 400, code)


async def test_status_filter_both_spellings(api, inbox):
    t = inbox["tasks"]
    assert set(ids(await api.get("/v2/tasks?status[]=open"))) == {str(t[0].id), str(t[1].id), str(t[4].id)}
    assert set(ids(await api.get("/v2/tasks?status=closed&status=in_progress"))) == {str(t[2].id), str(t[3].id)}
    assert_error(await api.get("/v2/tasks?status[]=done"), 400, "invalid_enum_value")
    # The error names the filter and the position, whichever spelling was sent (it used to say only [1]).
    for query in ("status[]=open&status[]=done", "status=open&status=done", "status[0]=open&status[1]=done"):
        r = await api.get(f"/v2/tasks?{query}")
        assert r.status_code == 400 and r.json()["message"][0]["path"] == ["status", 1], (query, r.text)


async def test_priority_filter(api, inbox):
    t = inbox["tasks"]
    assert set(ids(await api.get("/v2/tasks?priority[]=high&priority[]=highest"))) == {str(t[0].id), str(t[2].id)}
    assert_error(await api.get("/v2/tasks?priority[]=urgent"), 400, "invalid_enum_value")


async def test_assignee_filters(api, inbox):
    t, admin, team = inbox["tasks"], inbox["admin"], inbox["team"]
    assert set(ids(await api.get(f"/v2/tasks?assignee_id[]={admin.id}"))) == {str(t[0].id), str(t[2].id)}
    assert set(ids(await api.get("/v2/tasks?assignee_type[]=admin_team"))) == {str(t[1].id)}
    by_team = await api.get(f"/v2/tasks?assignee_id[]={team.id}&assignee_type[]=admin_team")
    assert set(ids(by_team)) == {str(t[1].id)}
    assert set(ids(await api.get("/v2/tasks?assignee_type[]=AdminTeam"))) == {str(t[1].id)}
    assert set(ids(await api.get("/v2/tasks?assignee_type[]=unassigned"))) == {str(t[3].id), str(t[4].id)}
    both = await api.get("/v2/tasks?assignee_type[]=admin&assignee_type[]=Unassigned")
    assert set(ids(both)) == {str(t[0].id), str(t[2].id), str(t[3].id), str(t[4].id)}
    assert_error(await api.get("/v2/tasks?assignee_type[]=robot"), 400, "invalid_enum_value")
    assert_error(await api.get("/v2/tasks?assignee_id[]=x"), 400, "invalid_string")


async def test_filters_combine_with_and(api, inbox):
    t = inbox["tasks"]
    r = await api.get("/v2/tasks?status[]=open&assignee_type[]=admin")
    assert ids(r) == [str(t[0].id)]


async def test_sort_by_priority_and_created_at(api, inbox):
    t = inbox["tasks"]
    r = await api.get("/v2/tasks?order_by[]=priority&order_descending[]=true")
    assert ids(r) == [str(x.id) for x in (t[2], t[0], t[3], t[1], t[4])]
    r = await api.get("/v2/tasks?order_by[]=priority&order_descending[]=false")
    assert ids(r) == [str(x.id) for x in (t[4], t[1], t[3], t[0], t[2])]
    r = await api.get("/v2/tasks?order_by[]=created_at&order_descending[]=false")
    assert ids(r) == [str(x.id) for x in t]
    assert_error(await api.get("/v2/tasks?order_by[]=colour"), 400, "invalid_enum_value")
    assert_error(await api.get("/v2/tasks?order_by[]=priority&order_descending[]=maybe"), 400, "invalid_type")


async def test_get_task_v2_shape(api, inbox):
    task = inbox["tasks"][0]
    r = await api.get(f"/v2/tasks/{task.id}")
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == str(task.id) and body["status"] == "open" and body["priority"] == "high"
    assert body["assignee"] == {"type": "admin", "id": str(inbox["admin"].id)}
    assert body["patient"]["id"] == str(inbox["patient"].id)
    # A date-time, exactly as /v1/patients/{id} renders it (issue 11).
    assert body["patient"]["dob"] == "1980-01-01T00:00:00.000Z"
    assert (await api.get(f"/v1/patients/{inbox['patient'].id}")).json()["dob"] == body["patient"]["dob"]
    assert body["created_at"] == "2026-01-05T09:00:00.000Z"
    for key in ("type_label", "category", "details", "form_response", "appointment", "communication", "note",
                "triggered_by", "system_alert_details"):
        assert key in body


async def test_another_tenants_task_is_404(api, clean, inbox):
    other = await make_tenant(clean)
    foreign = await make_task(clean, other.id)
    assert_error(await api.get(f"/v2/tasks/{foreign.id}"), 404, "not_found")
    assert_error(await api.patch(f"/v1/tasks/{foreign.id}", json={"status": "closed"}), 404, "not_found")
    assert str(foreign.id) not in ids(await api.get("/v2/tasks?page_size=100"))


async def test_update_status_priority_assignee(api, inbox, clock):
    task, team = inbox["tasks"][4], inbox["team"]
    r = await api.patch(f"/v1/tasks/{task.id}", json={"status": "closed", "priority": "highest",
                                                       "assignee_type": "admin_team", "assignee_id": str(team.id)})
    assert r.status_code == 200 and r.json() == {"data": {"id": str(task.id)}}
    body = (await api.get(f"/v2/tasks/{task.id}")).json()
    assert body["status"] == "closed" and body["priority"] == "highest"
    assert body["assignee"] == {"type": "admin_team", "id": str(team.id)}
    assert body["closed_at"] is not None
    body = (await api.patch(f"/v1/tasks/{task.id}", json={"status": "open"})) and (
        await api.get(f"/v2/tasks/{task.id}")).json()
    assert body["status"] == "open" and body["closed_at"] is None


async def test_assigning_to_other_groups_admin_is_400_and_changes_nothing(api, clean, inbox):
    other = await make_tenant(clean)
    stranger = await make_admin(clean, other.id)
    task = inbox["tasks"][0]
    r = await api.patch(f"/v1/tasks/{task.id}", json={"assignee_type": "admin", "assignee_id": str(stranger.id),
                                                       "status": "closed"})
    body = assert_error(r, 400, "invalid_assignee")
    assert body["message"][0]["path"] == ["assignee_id"]
    after = (await api.get(f"/v2/tasks/{task.id}")).json()
    assert after["status"] == "open" and after["assignee"]["id"] == str(inbox["admin"].id)


async def test_update_validation(api, inbox):
    task = inbox["tasks"][0]
    assert_error(await api.patch(f"/v1/tasks/{task.id}", json={"status": "done"}), 400, "invalid_enum_value")
    assert_error(await api.patch(f"/v1/tasks/{task.id}", json={"assignee_id": "12a"}), 400, "invalid_string")


async def test_create_task_service_rejects_foreign_assignee(clean, tenant):
    from openhero.core.errors import ValidationFailed
    from openhero.tasks.service import create_task

    other = await make_tenant(clean)
    stranger = await make_admin(clean, other.id)
    async with clean.session() as s:
        with pytest.raises(ValidationFailed):
            await create_task(s, practice_group_id=tenant.id, type_label="x", category="general",
                              assignee_type="admin", assignee_id=stranger.id)
        task = await create_task(s, practice_group_id=tenant.id, type_label="Appointment booked",
                                 category="appointment", priority="high", appointment_id=7)
        await s.commit()
    assert task.priority_rank == 3 and task.status == "open"
