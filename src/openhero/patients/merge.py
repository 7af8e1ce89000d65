"""Merging two records of one person: preview (merged view + short-lived token), then merge.

The EHR-linked record is kept (the practice's clinical system already knows it); without one, the
record named in the path is kept. Everything that points at the other record through a
``patient_id`` column (appointments, messages, form responses, tasks... whatever domains exist)
moves to the kept record, and the other is archived with ``merged_into_id`` set.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core import audit, tokens
from openhero.core.auth import Principal
from openhero.core.errors import Conflict, ValidationFailed
from openhero.core.tenancy import get_owned
from openhero.models import load_all
from openhero.patients.models import EhrRecord, Patient

TOKEN_PURPOSE = "patient_merge"
TOKEN_TTL = timedelta(minutes=10)
# Demographic fields a merge may fill on the kept record from the other one when it lacks them.
FILLABLE = (
    "uid",
    "emis_id",
    "nhs_number",
    "title",
    "first_name",
    "last_name",
    "sex",
    "dob",
    "deceased_at",
    "email",
    "emails",
    "mobile",
    "landline",
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "town",
    "county",
    "country",
    "postcode",
    "notes",
    "gp_ods_code",
)


@dataclass
class MergePlan:
    kept: Patient
    other: Patient
    merged: dict[str, Any]
    moves: dict[str, int]


def patient_tables() -> list[Table]:
    """Every table with a ``patient_id`` foreign key to patients, as the domains define them today."""
    out = []
    for table in load_all().metadata.sorted_tables:
        column = table.columns.get("patient_id")
        if column is not None and any(fk.column.table.name == "patients" for fk in column.foreign_keys):
            out.append(table)
    return out


def _fingerprint(kept: Patient, other: Patient) -> str:
    """Any change to either record's content after the preview makes its token stale."""
    parts = []
    for patient in (kept, other):
        values = {c: getattr(patient, c) for c in Patient.__table__.columns.keys() if c != "updated_at"}
        parts.append(repr(sorted(values.items())))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _choose(this: Patient, other: Patient) -> tuple[Patient, Patient]:
    if this.ehr_registered and other.ehr_registered and this.ehr_partner_id != other.ehr_partner_id:
        raise Conflict(
            "Both patients are linked to different EHR records; they cannot be merged here",
            code="both_linked_to_ehr",
            expected="at most one EHR-linked patient",
            path=["patient_id"],
        )
    if other.ehr_registered and not this.ehr_registered:
        return other, this
    return this, other


def _merged_values(kept: Patient, other: Patient) -> dict[str, Any]:
    values = {name: getattr(kept, name) for name in Patient.__table__.columns.keys()}
    for name in FILLABLE:
        if values.get(name) in (None, "", []) and name != "uid":
            values[name] = getattr(other, name)
    if kept.restricted or other.restricted:
        # The sensitive flag wins: a merge must not re-expose what one record withheld.
        values["restricted"] = True
        for name in (
            "mobile",
            "landline",
            "email",
            "emails",
            "address_line_1",
            "address_line_2",
            "address_line_3",
            "town",
            "county",
            "country",
            "postcode",
        ):
            values[name] = None
    return values


async def _count_moves(session: AsyncSession, other: Patient) -> dict[str, int]:
    moves = {}
    for table in patient_tables():
        stmt = select(func.count()).select_from(table).where(table.c.patient_id == other.id)
        if "practice_group_id" in table.c:
            stmt = stmt.where(table.c.practice_group_id == other.practice_group_id)
        moves[table.name] = int((await session.execute(stmt)).scalar_one())
    return moves


async def _plan(
    session: AsyncSession, principal: Principal, raw_id: str, raw_other: str, *, for_update: bool = False
) -> MergePlan:
    this = await get_owned(session, Patient, raw_id, principal, "Patient")
    other = await get_owned(session, Patient, raw_other, principal, "Patient")
    if for_update and this.id != other.id:
        # Lock both rows in id order, so two opposite merges of one pair cannot deadlock.
        await session.execute(
            select(Patient.id).where(Patient.id.in_([this.id, other.id])).order_by(Patient.id).with_for_update()
        )
        await session.refresh(this)
        await session.refresh(other)
    if this.id == other.id:
        raise ValidationFailed(
            "A patient cannot be merged with itself",
            code="invalid_merge",
            expected="the id of a different patient",
            path=["patient_id"],
        )
    for patient in (this, other):
        if patient.status == "archived":
            raise Conflict(
                f"Patient {patient.id} is archived (already merged)",
                code="patient_archived",
                expected="two unarchived patients",
                path=["patient_id"],
            )
    if this.nhs_number and other.nhs_number and this.nhs_number != other.nhs_number:
        raise Conflict(
            "The patients have different NHS numbers: they are different people",
            code="nhs_number_mismatch",
            expected="two records of the same person",
            path=["patient_id"],
        )
    kept, dropped = _choose(this, other)
    return MergePlan(
        kept=kept,
        other=dropped,
        merged=_merged_values(kept, dropped),
        moves=await _count_moves(session, dropped),
    )


async def preview(
    session: AsyncSession, principal: Principal, raw_id: str, raw_other: str, *, secret: str, now: datetime
) -> tuple[MergePlan, str, datetime]:
    plan = await _plan(session, principal, raw_id, raw_other)
    this_id = int(raw_id)
    token = tokens.mint(
        secret,
        purpose=TOKEN_PURPOSE,
        now=now,
        ttl=TOKEN_TTL,
        practice_group_id=str(principal.practice_group_id),
        path_id=str(this_id),
        other_id=str(plan.other.id if plan.kept.id == this_id else plan.kept.id),
        fp=_fingerprint(plan.kept, plan.other),
    )
    return plan, token, now + TOKEN_TTL


def _bad_token(message: str) -> ValidationFailed:
    return ValidationFailed(
        message,
        code="invalid_merge_token",
        expected="a merge_token from POST /v1/patients/{id}/merge/preview, used within "
        "10 minutes and before either record changes",
        path=["merge_token"],
    )


async def merge(
    session: AsyncSession, principal: Principal, raw_id: str, token: str, *, secret: str, now: datetime
) -> tuple[MergePlan, dict[str, int]]:
    try:
        claims = tokens.verify(secret, token, purpose=TOKEN_PURPOSE, now=now)
    except tokens.TokenError as exc:
        raise _bad_token(f"Merge token rejected: {exc}") from None
    # Resolve the path id first so another tenant's id is a 404, as everywhere else.
    await get_owned(session, Patient, raw_id, principal, "Patient")
    if claims.get("practice_group_id") != str(principal.practice_group_id) or claims.get("path_id") != str(int(raw_id)):
        raise _bad_token("Merge token was issued for another merge")
    try:
        plan = await _plan(session, principal, raw_id, claims["other_id"], for_update=True)
    except Conflict as exc:
        if any(item.get("code") == "patient_archived" for item in exc.items):
            raise _bad_token("Merge token is stale: a patient was merged since the preview") from None
        raise
    if claims.get("fp") != _fingerprint(plan.kept, plan.other):
        raise _bad_token("Merge token is stale: a patient changed since the preview")
    kept, other = plan.kept, plan.other
    moved = {}
    try:
        async with session.begin_nested():
            for table in patient_tables():
                stmt = update(table).where(table.c.patient_id == other.id).values(patient_id=kept.id)
                if "practice_group_id" in table.c:
                    stmt = stmt.where(table.c.practice_group_id == principal.practice_group_id)
                moved[table.name] = (await session.execute(stmt)).rowcount or 0
            # Free the NHS number on the archived record first: it is unique per practice group.
            other_nhs = other.nhs_number
            other.nhs_number, other.status, other.merged_into_id = None, "archived", kept.id
            other.previous_nhs_number = other_nhs or other.previous_nhs_number
            other.updated_at = now
            # Both records may name the same EHR record; the link belongs to the kept one.
            await session.execute(
                update(EhrRecord)
                .where(EhrRecord.practice_group_id == principal.practice_group_id)
                .where(EhrRecord.linked_patient_id == other.id)
                .values(linked_patient_id=kept.id)
            )
            await session.flush()
            for name, value in plan.merged.items():
                if name not in ("id", "practice_group_id", "created_at", "uid"):
                    setattr(kept, name, value)
            kept.updated_at = now
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "Rows of the two patients collide (a record cannot hold both); resolve them first",
            code="merge_conflict",
            expected="patients whose linked records do not collide",
        ) from None
    await audit.record(
        session,
        principal,
        "patient.merge",
        "Patient",
        kept.id,
        now=now,
        details={"archived_patient_id": other.id, "moved": moved},
    )
    return plan, moved
