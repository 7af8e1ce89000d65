"""Issue 11's smaller shape fixes, over real HTTP: note ids are decimal strings, TaskPatient.dob is the same
date-time /v1/patients/{id} answers, and PATCH /v1/admins/{id} never stores an all-null prescriber object."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest

from openhero.practice.models import Admin
from tests.builders import make_admin, make_patient, make_task
from tests.episodes.builders import make_episode


@pytest.fixture
async def http(live_server: str, tenant: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, headers=tenant.headers, timeout=30) as c:
        yield c


async def test_note_ids_are_decimal_strings_on_create_and_read(http, clean, tenant):
    admin = await make_admin(clean, tenant.id, first_name="Amira", last_name="Khan")
    episode = await make_episode(clean, tenant.id)
    r = await http.post("/v1/notes", json={"episode_id": str(episode.id), "description": "Seen today",
                                            "admin_id": str(admin.id)})
    assert r.status_code == 200, r.text
    note = r.json()
    assert note["id"].isdigit() and note["episode_id"] == str(episode.id)
    assert note["practice_group_id"] == str(tenant.id) and note["admin"]["id"] == str(admin.id)
    read = (await http.get(f"/v1/episodes/{episode.id}")).json()["notes"]
    assert read == [note]


async def test_task_patient_dob_is_the_patients_date_time(http, clean, tenant):
    patient = await make_patient(clean, tenant.id, nhs_number="9000000009", dob=date(1975, 12, 31))
    task = await make_task(clean, tenant.id, patient_id=patient.id)
    got = (await http.get(f"/v2/tasks/{task.id}")).json()["patient"]["dob"]
    assert got == "1975-12-31T00:00:00.000Z"
    assert got == (await http.get(f"/v1/patients/{patient.id}")).json()["dob"]
    listed = (await http.get("/v2/tasks")).json()["data"][0]["patient"]["dob"]
    assert listed == got


async def _details(clean: Any, admin_id: int) -> Any:
    async with clean.session(write=False) as s:
        return (await s.get(Admin, admin_id)).prescriber_details


async def test_empty_prescriber_details_clear_instead_of_storing_nulls(http, clean, tenant):
    admin = await make_admin(clean, tenant.id)
    path = f"/v1/admins/{admin.id}"

    async def listed() -> Any:
        rows = (await http.get("/v1/admins")).json()["data"]
        return next(a for a in rows if a["id"] == str(admin.id))["prescriber_details"]

    assert (await http.patch(path, json={"prescriber_details": {}})).status_code == 200
    assert await _details(clean, admin.id) is None and await listed() is None

    await http.patch(path, json={"prescriber_details": {"name": "Dr A", "registration_code": "GMC1"}})
    # Values merge; a null field keeps what is stored.
    await http.patch(path, json={"prescriber_details": {"email": "dr.a@example.com", "name": None}})
    assert await listed() == {"name": "Dr A", "email": "dr.a@example.com", "registration_code": "GMC1"}

    for clearing in ({}, {"name": None, "email": None}, None):
        await http.patch(path, json={"prescriber_details": {"name": "Dr B"}})
        assert (await http.patch(path, json={"prescriber_details": clearing})).status_code == 200
        assert await _details(clean, admin.id) is None, clearing
        assert await listed() is None
