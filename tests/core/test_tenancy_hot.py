"""get_owned in a read session (core/tenancy.py): a plain model's row comes by a hot read and is handed to the
session as loaded — the same instance state an ORM select gives; everything else keeps the ORM's path."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, text

from openhero.booking.models import Slot
from openhero.core.auth import Principal
from openhero.core.db import Database
from openhero.core.errors import NotFound
from openhero.core.tenancy import _by_id, _hot_columns, get_owned
from openhero.patients.models import Patient
from openhero.tasks.models import Task
from tests.booking.builders import make_world
from tests.builders import make_patient, make_task, make_tenant


def _principal(group_id: int) -> Principal:
    return Principal(key_id=1, practice_group_id=group_id, home_practice_group_id=group_id, scopes=frozenset(),
                     permissions=frozenset())


def _state(obj: Any) -> dict[str, Any]:
    mapper = sa_inspect(type(obj))
    return {attr.key: getattr(obj, attr.key) for attr in mapper.column_attrs}


async def _orm_loaded(db: Database, model: Any, row_id: int, group_id: int) -> Any:
    async with db.session(write=False) as session:
        obj = (await session.execute(_by_id(model), {"owner": group_id, "row_id": row_id})).scalar_one()
        return _state(obj), set(sa_inspect(obj).unloaded)


@pytest.mark.parametrize("model", [Slot, Patient])
async def test_a_hot_instance_is_what_the_orm_loads(clean: Database, clock: Any, model: Any) -> None:
    world = await make_world(clean, clock.now(), slots=2)
    group = world.tenant.id
    row_id = world.slot_ids[0] if model is Slot else (await make_patient(clean, group, nhs_number="9434765919",
                                                                        address_line_1="1 High St")).id
    assert _hot_columns(model) is not None
    orm_state, orm_unloaded = await _orm_loaded(clean, model, row_id, group)
    served = clean.hot.served
    async with clean.session(write=False) as session:
        obj = await get_owned(session, model, str(row_id), _principal(group), "Thing")
        assert clean.hot.served == served + 1  # it came hot
        state = sa_inspect(obj)
        assert state.persistent and not session.dirty and not session.new
        assert _state(obj) == orm_state and set(state.unloaded) == orm_unloaded
        assert await get_owned(session, model, row_id, _principal(group)) is obj  # the session's own, as the ORM
        with pytest.raises(NotFound):  # another group's row is missing, hot as by the ORM
            await get_owned(session, model, row_id, _principal(group + 1_000_000), "Thing")


async def test_a_change_to_a_hot_instance_is_written_like_any_other(clean: Database, clock: Any) -> None:
    tenant = await make_tenant(clean)
    patient = await make_patient(clean, tenant.id)
    async with clean.session(write=False) as session:
        obj = await get_owned(session, Patient, patient.id, _principal(tenant.id))
        obj.first_name = "Changed"
        assert obj in session.dirty
        await session.commit()
    async with clean.engine.connect() as conn:
        name = (await conn.execute(text("SELECT first_name FROM patients WHERE id = :id"), {"id": patient.id})
                ).scalar_one()
    assert name == "Changed"


async def test_what_the_orm_must_load_keeps_the_orm_path(clean: Database, clock: Any) -> None:
    tenant = await make_tenant(clean)
    patient = await make_patient(clean, tenant.id)
    task = await make_task(clean, tenant.id, patient_id=patient.id)
    assert _hot_columns(Task) is None  # its patient is loaded with it (lazy="joined")
    served = clean.hot.served
    async with clean.session(write=False) as session:
        loaded = await get_owned(session, Task, task.id, _principal(tenant.id))
        assert "patient" not in sa_inspect(loaded).unloaded and loaded.patient.id == patient.id
        # A session with a change the ORM would flush first, a row locked for update: the ORM's path too.
        session.add(Patient(practice_group_id=tenant.id, first_name="New", last_name="Pending",
                            data_source="hero", status="unarchived"))
        await get_owned(session, Patient, patient.id, _principal(tenant.id))
        await session.rollback()
    async with clean.session() as session:  # a write session never reads hot
        await get_owned(session, Patient, patient.id, _principal(tenant.id), for_update=True)
        await get_owned(session, Patient, patient.id, _principal(tenant.id))
    assert clean.hot.served == served


async def test_found_and_missing_answer_over_http(api: Any, clock: Any, clean: Database, tenant: Any) -> None:
    world = await make_world(clean, clock.now(), slots=2, tenant=tenant)
    got = await api.get(f"/v1/slots/{world.slot_ids[0]}")
    assert got.status_code == 200 and got.json()["id"] == str(world.slot_ids[0])
    missing = await api.get("/v1/slots/999999999")
    assert missing.status_code == 404 and missing.json()["statusCode"] == 404
    async with clean.session(write=False) as session:
        assert (await session.execute(select(Slot.id).where(Slot.id == world.slot_ids[0]))).scalar_one()
