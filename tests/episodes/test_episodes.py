"""Episodes: list filters/sorts/paging (v1 and v2), read shape, updates, notes, filing tasks, tenancy."""

from datetime import UTC, datetime, timedelta

import pytest

from openhero.episodes import service
from tests.builders import make_admin, make_admin_team, make_patient, make_task, make_tenant
from tests.core.test_auth import assert_error
from tests.episodes.builders import make_episode

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
async def inbox(clean, tenant):
    admin = await make_admin(clean, tenant.id, first_name="Amira", last_name="Khan")
    team = await make_admin_team(clean, tenant.id, name="Prescriptions team")
    patient = await make_patient(clean, tenant.id, nhs_number="9000000009", title="Mrs", first_name="Jane",
                                 last_name="Doe", sex="female", town="Leeds", postcode="LS1 6AE")
    task = await make_task(clean, tenant.id, patient_id=patient.id, type_label="Repeat request", details="Ramipril",
                           created_at=T0, updated_at=T0)
    specs = [  # status, priority, assignees
        ("open", "high", [("admin", admin.id)]),
        ("open", "low", [("admin_team", team.id)]),
        ("in_progress", "highest", [("admin", admin.id), ("admin_team", team.id)]),
        ("closed", "medium", []),
        ("open", "lowest", []),
    ]
    episodes = []
    for i, (status, priority, assignees) in enumerate(specs):
        episodes.append(await make_episode(clean, tenant.id, status=status, priority=priority, assignees=assignees,
                                           patient_id=patient.id, task_ids=[task.id] if i == 0 else [],
                                           created_at=T0 + timedelta(hours=i), updated_at=T0 + timedelta(hours=i)))
    return {"admin": admin, "team": team, "patient": patient, "task": task, "episodes": episodes}


def ids(r) -> list[str]:
    assert r.status_code == 200, r.text
    return [e["id"] for e in r.json()["data"]]


def eids(inbox, *indexes: int) -> list[str]:
    return [str(inbox["episodes"][i].id) for i in indexes]


@pytest.mark.parametrize("path", ["/v1/episodes", "/v2/episodes"])
async def test_default_order_paging_and_count(api, inbox, path):
    r = await api.get(path)
    assert ids(r) == eids(inbox, 4, 3, 2, 1, 0) and r.json()["count"] == 5
    r = await api.get(path, params={"page_size": "2", "page_index": "1"})
    assert ids(r) == eids(inbox, 2, 1) and r.json()["count"] == 5
    assert_error(await api.get(f"{path}?page_size=101"), 400, "too_big")
    assert_error(await api.get(f"{path}?page_index=x"), 400, "invalid_type")


async def test_status_priority_and_assignee_filters(api, inbox):
    assert set(ids(await api.get("/v1/episodes?status[]=open"))) == set(eids(inbox, 0, 1, 4))
    assert set(ids(await api.get("/v1/episodes?status=closed&status=in_progress"))) == set(eids(inbox, 2, 3))
    assert set(ids(await api.get("/v1/episodes?priority[]=high&priority[]=highest"))) == set(eids(inbox, 0, 2))
    admin, team = inbox["admin"].id, inbox["team"].id
    assert set(ids(await api.get(f"/v1/episodes?assignee_id[]={admin}"))) == set(eids(inbox, 0, 2))
    by_team = await api.get(f"/v1/episodes?assignee_id[]={team}&assignee_type[]=AdminTeam")
    assert set(ids(by_team)) == set(eids(inbox, 1, 2))
    assert set(ids(await api.get("/v1/episodes?assignee_type[]=Unassigned"))) == set(eids(inbox, 3, 4))
    r = await api.get("/v2/episodes?status[]=open&assignee_type[]=Admin")
    assert ids(r) == eids(inbox, 0)
    for bad, code in [("status[]=done", "invalid_enum_value"), ("priority[]=urgent", "invalid_enum_value"),
                      ("assignee_type[]=Robot", "invalid_enum_value"), ("assignee_id[]=x", "invalid_string"),
                      ("order_by[]=colour", "invalid_enum_value"), ("order_descending[]=maybe", "invalid_type")]:
        assert_error(await api.get(f"/v1/episodes?{bad}"), 400, code)


async def test_sort_by_priority_both_ways(api, inbox):
    r = await api.get("/v1/episodes?order_by[]=priority&order_descending[]=true")
    assert ids(r) == eids(inbox, 2, 0, 3, 1, 4)
    r = await api.get("/v2/episodes?order_by[]=priority&order_descending[]=false")
    assert ids(r) == eids(inbox, 4, 1, 3, 0, 2)
    r = await api.get("/v1/episodes?order_by[]=created_at&order_descending[]=false")
    assert ids(r) == eids(inbox, 0, 1, 2, 3, 4)


async def test_list_item_and_get_shape(api, inbox):
    item = next(e for e in (await api.get("/v1/episodes")).json()["data"] if e["id"] == eids(inbox, 0)[0])
    assert item["status"] == "open" and item["priority"] == "high"
    assert item["assignees"] == [{"type": "Admin", "id": str(inbox["admin"].id), "name": "Amira Khan"}]
    assert item["patient"]["dob"] == "1980-01-01T00:00:00.000Z" and item["patient"]["title"] == "Mrs"
    r = await api.get(f"/v1/episodes/{inbox['episodes'][0].id}")
    assert r.status_code == 200
    body = r.json()
    (task,) = body["tasks"]
    assert task["type_label"] == "Repeat request" and task["details"] == "Ramipril"
    patient = task["patient"]
    assert patient["full_name"] == "Mrs Jane Doe" and patient["sex"] == "female"
    assert patient["address"]["town"] == "Leeds" and patient["address"]["postcode"] == "LS1 6AE"
    assert patient["contact_emails"] and patient["membership_scheme_names"] == []
    assert body["notes"] == [] and body["created_at"] == "2026-01-05T09:00:00.000Z"
    v2 = (await api.get("/v2/episodes?order_by[]=created_at&order_descending[]=false")).json()["data"][0]
    assert v2["task_count"] == 1 and v2["open_task_count"] == 1 and v2["note_count"] == 0 and "tasks" not in v2


async def test_update_status_priority_assignees(api, inbox, clock):
    episode, team = inbox["episodes"][4], inbox["team"]
    r = await api.patch(f"/v1/episodes/{episode.id}", json={
        "status": "closed", "priority": "high", "assignees": [{"type": "AdminTeam", "id": str(team.id), "name": "x"}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "closed" and body["priority"] == "high" and body["closed_at"] is not None
    assert body["assignees"] == [{"type": "AdminTeam", "id": str(team.id), "name": "Prescriptions team"}]
    r = await api.patch(f"/v1/episodes/{episode.id}", json={"status": "open", "assignees": [{"type": "Unassigned"}]})
    assert r.json()["closed_at"] is None and r.json()["assignees"] == [] and r.json()["priority"] == "high"
    assert set(ids(await api.get("/v1/episodes?priority[]=high"))) == set(eids(inbox, 0, 4))


async def test_update_validation(api, clean, inbox):
    episode = inbox["episodes"][0]
    other_admin = await make_admin(clean, (await make_tenant(clean)).id)
    cases = [({"status": "done"}, "invalid_enum_value"), ({"priority": 3}, "invalid_enum_value"),
             ({"assignees": [{"type": "Robot", "id": "1"}]}, "invalid_enum_value"),
             ({"assignees": [{"type": "Admin"}]}, "invalid_type"),
             ({"assignees": [{"type": "Admin", "id": str(other_admin.id)}]}, "invalid_assignee")]
    for body, code in cases:
        assert_error(await api.patch(f"/v1/episodes/{episode.id}", json=body), 400, code)
    after = (await api.get(f"/v1/episodes/{episode.id}")).json()
    assert after["status"] == "open" and after["assignees"][0]["id"] == str(inbox["admin"].id)


async def test_notes(api, inbox, clock):
    episode, admin = inbox["episodes"][1], inbox["admin"]
    r = await api.post("/v1/notes", json={"episode_id": str(episode.id), "description": " Improved today. ",
                                          "admin_id": str(admin.id)})
    assert r.status_code == 200, r.text
    note = r.json()
    # Ids are decimal strings, as everywhere else (issue 11).
    assert note["id"].isdigit() and note["practice_group_id"] == str(episode.practice_group_id)
    assert note["episode_id"] == str(episode.id) and note["description"] == "Improved today."
    assert note["admin"] == {"id": str(admin.id), "first_name": "Amira", "last_name": "Khan",
                             "full_name": "Amira Khan"}
    assert note["archived_at"] is None and note["created_at"].endswith("Z")
    r = await api.post("/v1/notes", json={"episode_id": episode.id, "description": "No admin"})
    assert r.status_code == 200 and r.json()["admin"] is None
    got = (await api.get(f"/v1/episodes/{episode.id}")).json()
    assert [n["description"] for n in got["notes"]] == ["Improved today.", "No admin"]
    for body, status, code in [({"description": "x"}, 400, "invalid_type"),
                               ({"episode_id": str(episode.id), "description": "  "}, 400, "too_small"),
                               ({"episode_id": str(episode.id), "description": "a\x00b"}, 400, "custom"),
                               ({"episode_id": "abc", "description": "x"}, 400, "invalid_string"),
                               ({"episode_id": str(episode.id), "description": "x", "admin_id": "999999"}, 400,
                                "invalid_admin"),
                               ({"episode_id": "999999", "description": "x"}, 404, "not_found")]:
        assert_error(await api.post("/v1/notes", json=body), status, code)


async def test_other_tenants_episode_is_404(api, clean, inbox):
    other = await make_tenant(clean)
    foreign = await make_episode(clean, other.id)
    assert_error(await api.get(f"/v1/episodes/{foreign.id}"), 404, "not_found")
    assert_error(await api.patch(f"/v1/episodes/{foreign.id}", json={"status": "closed"}), 404, "not_found")
    assert_error(await api.post("/v1/notes", json={"episode_id": str(foreign.id), "description": "x"}), 404,
                 "not_found")
    assert str(foreign.id) not in ids(await api.get("/v1/episodes"))
    assert_error(await api.get("/v1/episodes/abc"), 404, "not_found")


async def test_new_tasks_are_filed_into_episodes(clean, tenant, client, clock):
    now = clock.now()
    patient = await make_patient(clean, tenant.id)
    loner = await make_patient(clean, tenant.id)
    first = await make_task(clean, tenant.id, patient_id=patient.id, priority="low", type_label="Booked appointment",
                            category="appointment", created_at=now, updated_at=now)
    urgent = await make_task(clean, tenant.id, patient_id=patient.id, priority="highest", created_at=now,
                             updated_at=now)
    await make_task(clean, tenant.id, patient_id=None, created_at=now, updated_at=now)  # no patient: not filed
    await make_task(clean, tenant.id, patient_id=loner.id, created_at=now - timedelta(days=30))  # too old
    async with clean.session() as session:
        assert await service.file_new_tasks(session, now, postgres=clean.is_postgres) == 2
        await session.commit()
    async with clean.session() as session:
        assert await service.file_new_tasks(session, now, postgres=clean.is_postgres) == 0
    r = await client.get("/v1/episodes", headers=tenant.headers)
    (episode,) = r.json()["data"]
    assert episode["priority"] == "highest" and episode["title"] == "Booked appointment"
    assert episode["type"] == "appointment" and episode["patient"]["id"] == str(patient.id)
    assert [t["id"] for t in episode["tasks"]] == [str(first.id), str(urgent.id)]
    # Once the episode is closed, the patient's next task opens a new episode.
    await client.patch(f"/v1/episodes/{episode['id']}", headers=tenant.headers, json={"status": "closed"})
    await make_task(clean, tenant.id, patient_id=patient.id, created_at=now, updated_at=now)
    async with clean.session() as session:
        assert await service.file_new_tasks(session, now, postgres=clean.is_postgres) == 1
        await session.commit()
    assert (await client.get("/v1/episodes?status[]=open", headers=tenant.headers)).json()["count"] == 1


async def test_demo_seed_is_browsable_and_idempotent(clean, tenant, api, clock):
    from openhero.episodes.demo import seed_demo_episodes

    await make_admin(clean, tenant.id)
    await make_admin_team(clean, tenant.id)
    for _ in range(5):
        await make_patient(clean, tenant.id)
    for _ in range(2):
        async with clean.session() as session:
            await seed_demo_episodes(session, tenant.id, clock.now())
            await session.commit()
    body = (await api.get("/v1/episodes?order_by[]=priority")).json()
    assert body["count"] == 5 and body["data"][0]["title"] == "Care navigation: chest pain"
    results = next(e for e in body["data"] if e["title"] == "Blood test results to review")
    assert len(results["tasks"]) == 2 and results["assignees"][0]["type"] == "Admin"
    assert len((await api.get(f"/v1/episodes/{results['id']}")).json()["notes"]) == 2


async def test_filing_reads_back_below_its_cursor(clean, tenant, clock):
    """A task whose id is below the cursor (its transaction committed late) is still filed."""
    from sqlalchemy import select

    from openhero.episodes.models import EpisodeFilingCursor, episode_tasks

    now = clock.now()
    patient = await make_patient(clean, tenant.id)
    base = (await make_task(clean, tenant.id, created_at=now, updated_at=now)).id  # no patient
    ahead = await make_task(clean, tenant.id, id=base + 300, patient_id=patient.id, created_at=now, updated_at=now)
    async with clean.session() as session:
        assert await service.file_new_tasks(session, now, postgres=clean.is_postgres) == 1
        await session.commit()
    late = await make_task(clean, tenant.id, id=base + 200, patient_id=patient.id, created_at=now, updated_at=now)
    async with clean.session() as session:
        assert await service.file_new_tasks(session, now, postgres=clean.is_postgres) == 1
        await session.commit()
    async with clean.session() as session:
        assert (await session.execute(select(EpisodeFilingCursor.last_task_id))).scalar_one() == ahead.id
        linked = (await session.execute(select(episode_tasks.c.task_id, episode_tasks.c.episode_id))).all()
    assert {t for t, _ in linked} == {ahead.id, late.id} and len({e for _, e in linked}) == 1


async def test_worker_files_tasks(clean, tenant, client, settings, clock):
    from openhero.core.worker import Worker

    patient = await make_patient(clean, tenant.id)
    task = await make_task(clean, tenant.id, patient_id=patient.id, created_at=clock.now(), updated_at=clock.now())
    await Worker(clean, settings, clock).drain()
    (episode,) = (await client.get("/v1/episodes", headers=tenant.headers)).json()["data"]
    assert [t["id"] for t in episode["tasks"]] == [str(task.id)]
