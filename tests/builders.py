"""Builders for test data: ``make_x(db_or_session, **overrides)`` returns a stored row."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from openhero.core.auth import PERMISSIONS, SCOPES
from openhero.core.db import Database
from openhero.practice import keys as key_service
from openhero.practice.models import Admin, AdminTeam, ApiKey, Location, Network, PracticeGroup, Practitioner


@dataclass
class Tenant:
    group: PracticeGroup
    key: ApiKey
    raw_key: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.group.id

    @property
    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.raw_key, "x-practice-group-id": str(self.group.id)}


_counter = 0


def _next() -> int:
    global _counter
    _counter += 1
    return _counter


async def make_network(db: Database, name: str | None = None) -> Network:
    async with db.session() as s:
        network = Network(name=name or f"Network {_next()}")
        s.add(network)
        await s.commit()
        return network


async def make_practice_group(db: Database, **overrides: Any) -> PracticeGroup:
    n = _next()
    values: dict[str, Any] = {"name": f"Test Surgery {n}", "ods_code": f"T{n:05d}", "sector": "nhs",
                              "address": {"line_1": f"{n} High Street", "town": "Leeds", "postcode": "LS1 1AA"}}
    values.update(overrides)
    async with db.session() as s:
        group = PracticeGroup(**values)
        s.add(group)
        await s.commit()
        return group


async def make_key(db: Database, group: PracticeGroup | int, *, scopes: tuple[str, ...] | list[str] = SCOPES,
                   permissions: tuple[str, ...] | list[str] = PERMISSIONS, name: str = "test key"
                   ) -> tuple[ApiKey, str]:
    group_id = group if isinstance(group, int) else group.id
    async with db.session() as s:
        key, raw = await key_service.create_key(s, practice_group_id=group_id, scopes=list(scopes),
                                                permissions=list(permissions), name=name)
        await s.commit()
        return key, raw


async def make_tenant(db: Database, *, scopes: tuple[str, ...] | list[str] = SCOPES,
                      permissions: tuple[str, ...] | list[str] = PERMISSIONS, **group_overrides: Any) -> Tenant:
    group = await make_practice_group(db, **group_overrides)
    key, raw = await make_key(db, group, scopes=scopes, permissions=permissions)
    return Tenant(group=group, key=key, raw_key=raw)


async def make_row(db: Database, model: type, **values: Any) -> Any:
    async with db.session() as s:
        row = model(**values)
        s.add(row)
        await s.commit()
        return row


async def make_admin(db: Database, group_id: int, **overrides: Any) -> Admin:
    n = _next()
    values = {"practice_group_id": group_id, "first_name": f"Alex{n}", "last_name": "Admin",
              "email": f"admin{n}@surgery.test"}
    values.update(overrides)
    return await make_row(db, Admin, **values)


async def make_admin_team(db: Database, group_id: int, **overrides: Any) -> AdminTeam:
    values = {"practice_group_id": group_id, "name": f"Team {_next()}"}
    values.update(overrides)
    return await make_row(db, AdminTeam, **values)


async def make_location(db: Database, group_id: int, **overrides: Any) -> Location:
    values = {"practice_group_id": group_id, "name": f"Site {_next()}",
              "address": {"line_1": "1 Park Row", "town": "Leeds", "postcode": "LS1 5AB"}}
    values.update(overrides)
    return await make_row(db, Location, **values)


async def make_practitioner(db: Database, group_id: int, **overrides: Any) -> Practitioner:
    values = {"practice_group_id": group_id, "first_name": "Sam", "last_name": f"Doctor{_next()}",
              "practitioner_type": "GP", "title": "Dr"}
    values.update(overrides)
    return await make_row(db, Practitioner, **values)


async def make_patient(db: Database, group_id: int, **overrides: Any) -> Any:
    from openhero.patients.models import Patient

    n = _next()
    values: dict[str, Any] = {"practice_group_id": group_id, "first_name": "Pat", "last_name": f"Patient{n}",
                              "dob": date(1980, 1, 1), "mobile": "07700900123", "email": f"pat{n}@example.com",
                              "data_source": "hero", "status": "unarchived"}
    values.update(overrides)
    return await make_row(db, Patient, **values)


async def make_task(db: Database, group_id: int, **overrides: Any) -> Any:
    from openhero.tasks.models import PRIORITY_RANK, Task

    values: dict[str, Any] = {"practice_group_id": group_id, "type_label": "Admin task", "category": "general",
                              "status": "open", "priority": "medium"}
    values.update(overrides)
    values["priority_rank"] = PRIORITY_RANK[values["priority"]]
    return await make_row(db, Task, **values)
