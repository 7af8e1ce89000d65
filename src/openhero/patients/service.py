"""Registering, tracing and finding patients. Services flush; the request's session commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core import audit
from openhero.core.auth import Principal
from openhero.core.errors import BadGateway, Conflict, NotFound, ServiceUnavailable, ValidationFailed, error_item
from openhero.core.pagination import PageParams
from openhero.core.tenancy import get_owned
from openhero.patients.models import EhrRecord, Patient
from openhero.patients.nhs import normalise_nhs_number, parse_dob
from openhero.patients.pds import (
    PdsAdapter,
    PdsBadResponse,
    PdsDeceased,
    PdsIdentityCheckRequired,
    PdsNotFound,
    PdsPatient,
    PdsUnavailable,
)
from openhero.patients.schemas import RegisterPatientPdsRequest, RegisterPatientRequest
from openhero.practice.models import PracticeGroup

_CONTACT_FIELDS = (
    "mobile",
    "landline",
    "email",
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "town",
    "county",
    "postcode",
)
_NAME_FIELDS = ("title", "first_name", "last_name")
_ADDRESS_FIELDS = ("address_line_1", "address_line_2", "address_line_3", "town", "county", "postcode")
# Each group is taken from PDS whole or not at all: a new address must not keep the old county.
_PDS_GROUPS = (_NAME_FIELDS, _ADDRESS_FIELDS, ("mobile",), ("landline",), ("email",), ("sex",))


@dataclass(frozen=True)
class IdentityCheck:
    """register_pds's second success shape: the patient must verify identity first."""

    message: str
    login_url: str


def _group_id(principal_or_group_id: Principal | int) -> int:
    if isinstance(principal_or_group_id, int):
        return principal_or_group_id
    return principal_or_group_id.practice_group_id


async def _find_by_nhs(session: AsyncSession, group_id: int, numbers: list[str]) -> Patient | None:
    stmt = select(Patient).where(Patient.practice_group_id == group_id, Patient.nhs_number.in_(numbers))
    rows = (await session.execute(stmt)).scalars().all()
    # Prefer the record holding the current number when both old and new exist.
    return next((p for p in rows if p.nhs_number == numbers[0]), rows[0] if rows else None)


def _apply_pds(patient: Patient, traced: PdsPatient, now: datetime) -> None:
    """Refresh the stored patient from PDS. What PDS left out is kept: an answer without a
    telecom or address (or with only ended ones we could not use) never erases what we hold."""
    for group in _PDS_GROUPS:
        if any(getattr(traced, name) is not None for name in group):
            for name in group:
                setattr(patient, name, getattr(traced, name))
    patient.dob = traced.dob
    if traced.deceased_at is not None:
        patient.deceased_at = traced.deceased_at
    patient.nhs_number = traced.nhs_number
    patient.restricted = traced.restricted
    if traced.gp_ods_code is not None:
        patient.gp_ods_code = traced.gp_ods_code
    if traced.superseded_nhs_number:
        patient.previous_nhs_number = traced.superseded_nhs_number
    if traced.restricted:
        # A sensitive record: never keep an address or contact details, even ones stored before.
        for name in (*_CONTACT_FIELDS, "emails", "country"):
            setattr(patient, name, None)
    patient.last_sync_at = now
    patient.updated_at = now


async def register_from_pds(
    session: AsyncSession, principal_or_group_id: Principal | int, pds_patient: PdsPatient, now: datetime
) -> Patient:
    """Create or refresh the practice's patient for a traced person (idempotent upsert).

    Used by register_pds and by batch-message enrichment. Two concurrent calls for one person
    make one patient: the loser of the (practice_group_id, nhs_number) unique index rolls back to
    its savepoint and updates the winner's row instead.
    """
    group_id = _group_id(principal_or_group_id)
    numbers = [pds_patient.nhs_number]
    if pds_patient.superseded_nhs_number:
        numbers.append(pds_patient.superseded_nhs_number)
    existing = await _find_by_nhs(session, group_id, numbers)
    if existing is None:
        patient = Patient(
            practice_group_id=group_id,
            data_source="pds",
            status="unarchived",
            ehr_registered=False,
            created_at=now,
        )
        _apply_pds(patient, pds_patient, now)
        try:
            async with session.begin_nested():
                session.add(patient)
                await session.flush()
            return patient
        except IntegrityError:
            existing = await _find_by_nhs(session, group_id, numbers)
            if existing is None:
                raise
    _apply_pds(existing, pds_patient, now)
    await session.flush()
    return existing


async def _link_ehr(
    session: AsyncSession, patient: Patient, ehr_partner_id: str | None, ehr_partner: str | None
) -> None:
    """Record the partner's EHR id; when the local EHR holds that record, link it."""
    if not ehr_partner_id:
        return
    record = (
        await session.execute(
            select(EhrRecord).where(
                EhrRecord.practice_group_id == patient.practice_group_id,
                EhrRecord.ehr_partner_id == ehr_partner_id,
            )
        )
    ).scalar_one_or_none()
    if record is not None and record.linked_patient_id not in (None, patient.id):
        raise Conflict(
            "That EHR record is already linked to another patient",
            code="ehr_record_already_linked",
            expected="an EHR record not linked to another patient",
            path=["ehr_partner_id"],
        )
    patient.ehr_partner_id = ehr_partner_id
    patient.ehr_partner = (record.ehr_partner if record else None) or ehr_partner or patient.ehr_partner
    if patient.ehr_partner == "emis":
        patient.emis_id = ehr_partner_id
    if record is not None:
        record.linked_patient_id = patient.id
        patient.ehr_registered = True
    await session.flush()


async def trace(
    adapter: PdsAdapter,
    body: RegisterPatientPdsRequest,
    *,
    ods_code: str | None = None,
    correlation_id: str | None = None,
) -> PdsPatient:
    """Ask PDS, turning its outcomes into API errors (nothing is stored on any failure).

    ``ods_code`` is the acting practice group's (PDS attributes the call to it) and
    ``correlation_id`` the caller's ``X-Correlation-ID``, passed on to PDS."""
    context = {"ods_code": ods_code, "correlation_id": correlation_id}
    try:
        if body.nhs_number:
            return await adapter.trace_by_nhs_number(body.nhs_number, body.dob_date, **context)
        return await adapter.trace_by_demographics(
            body.forename or "", body.surname or "", body.dob_date, body.postcode or "", **context
        )
    except PdsNotFound as exc:
        path: list[str | int] = ["nhs_number" if body.nhs_number else "surname"]
        reason = str(exc)
        if reason and reason != "No patient found":  # ambiguous search, unverifiable record
            expected = "an NHS number and dob, or demographics, that PDS can verify"
            item = error_item("patient_not_found", expected, path, reason)
            raise NotFound("Patient", items=[item]) from None
        raise NotFound("Patient", code="patient_not_found", path=path) from None
    except PdsDeceased:
        raise Conflict(
            "PDS records this patient as deceased",
            code="patient_deceased",
            expected="a living patient",
            path=["nhs_number" if body.nhs_number else "surname"],
        ) from None
    except PdsBadResponse as exc:
        raise BadGateway(f"PDS failed: {exc}", expected="a valid answer from PDS") from None
    except PdsUnavailable as exc:
        raise ServiceUnavailable(f"PDS is unavailable: {exc}", expected="PDS to answer; retry later") from None


async def register_pds(
    session: AsyncSession,
    principal: Principal,
    adapter: PdsAdapter,
    body: RegisterPatientPdsRequest,
    now: datetime,
    *,
    correlation_id: str | None = None,
) -> Patient | IdentityCheck:
    missing = body.missing_for_demographics()
    if missing:
        raise ValidationFailed(
            "Send nhs_number + dob, or forename + surname + dob + postcode",
            items=[
                {
                    "code": "invalid_type",
                    "expected": "a value (required without nhs_number)",
                    "path": [name],
                    "message": "Required",
                }
                for name in missing
            ],
        )
    ods_code = (
        await session.execute(select(PracticeGroup.ods_code).where(PracticeGroup.id == principal.practice_group_id))
    ).scalar_one_or_none()
    # Nothing to hold open while PDS answers (SQLite keeps its write lock from BEGIN IMMEDIATE).
    await session.commit()
    try:
        traced = await trace(adapter, body, ods_code=ods_code, correlation_id=correlation_id)
    except PdsIdentityCheckRequired as exc:
        return IdentityCheck(message=exc.message, login_url=exc.login_url)
    patient = await register_from_pds(session, principal, traced, now)
    await _link_ehr(session, patient, body.ehr_partner_id, body.ehr_partner)
    await audit.record(
        session,
        principal,
        "patient.register_pds",
        "Patient",
        patient.id,
        now=now,
        details={
            "nhs_number": patient.nhs_number,
            "route": "nhs_number" if body.nhs_number else "demographics",
            "superseded": traced.superseded_nhs_number,
        },
    )
    return patient


def _apply_values(patient: Patient, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(patient, name, value)
    if patient.restricted:
        # PDS marked this person's record sensitive: keep no address or contacts, whoever sends them.
        for name in (*_CONTACT_FIELDS, "emails", "country"):
            setattr(patient, name, None)


async def register(session: AsyncSession, principal: Principal, body: RegisterPatientRequest, now: datetime) -> Patient:
    """Create, or update the patient matched on NHS number + dob (or, without an NHS number, on
    name + dob + mobile, so a retried request does not duplicate the patient). No PDS call."""
    dob = date.fromisoformat(body.dob)
    group = principal.practice_group_id
    if body.nhs_number:
        existing = await _find_by_nhs(session, group, [body.nhs_number])
        if existing is not None and existing.dob != dob:
            raise Conflict(
                "A patient with this NHS number has a different date of birth",
                code="nhs_number_dob_mismatch",
                expected="the date of birth on record for this NHS number",
                path=["dob"],
            )
    else:
        existing = (
            await session.execute(
                select(Patient)
                .where(
                    Patient.practice_group_id == group,
                    Patient.nhs_number.is_(None),
                    Patient.status == "unarchived",
                    Patient.dob == dob,
                    Patient.mobile == body.mobile,
                    func.lower(Patient.first_name) == body.first_name.lower(),
                    func.lower(Patient.last_name) == body.last_name.lower(),
                )
                .limit(1)
            )
        ).scalar_one_or_none()
    values: dict[str, Any] = body.model_dump(exclude={"ehr_partner_id", "dob", "data_source"}, exclude_unset=True)
    values.update(first_name=body.first_name, last_name=body.last_name, mobile=body.mobile, dob=dob)
    created = existing is None
    patient = existing or Patient(
        practice_group_id=group,
        status="unarchived",
        ehr_registered=False,
        data_source=body.data_source or "hero",
        created_at=now,
    )
    _apply_values(patient, values)
    if body.data_source:
        patient.data_source = body.data_source
    patient.updated_at = now
    try:
        async with session.begin_nested():
            session.add(patient)
            await session.flush()
    except IntegrityError:
        # A concurrent register for the same NHS number won; update that record instead.
        raced = await _find_by_nhs(session, group, [body.nhs_number or ""])
        if raced is None or raced.dob != dob:
            raise Conflict(
                "A patient with this NHS number was registered concurrently",
                code="conflict",
                expected="a retry",
                path=["nhs_number"],
            ) from None
        _apply_values(raced, values)
        patient, created = raced, False
        await session.flush()
    await _link_ehr(session, patient, body.ehr_partner_id, None)
    await audit.record(
        session,
        principal,
        "patient.register" if created else "patient.update",
        "Patient",
        patient.id,
        now=now,
        details={"nhs_number": patient.nhs_number},
    )
    return patient


async def get_patient(session: AsyncSession, principal: Principal, raw_id: str, *, for_update: bool = False) -> Patient:
    return await get_owned(session, Patient, raw_id, principal, "Patient", for_update=for_update)


# --- lists ---------------------------------------------------------------------------------------

SEARCH_FIELDS = (
    "emis_id",
    "ehr_partner_id",
    "nhs_number",
    "first_name",
    "last_name",
    "dob",
    "email",
    "mobile",
    "uid",
    "postcode",
)


def _base(principal: Principal) -> Select[tuple[Patient]]:
    # Records archived by a merge are history, not patients to pick from a list.
    return select(Patient).where(
        Patient.practice_group_id == principal.practice_group_id, Patient.status == "unarchived"
    )


def _field_condition(name: str, value: str) -> Any:
    if name in ("first_name", "last_name", "email"):
        return func.lower(getattr(Patient, name)) == value.strip().lower()
    if name == "nhs_number":
        return Patient.nhs_number == value
    if name == "dob":
        return Patient.dob == value
    return getattr(Patient, name) == value.strip()


async def list_by_field(
    session: AsyncSession, principal: Principal, field: str | None, search: str | None, page: PageParams
) -> tuple[list[Patient], int]:
    stmt = _base(principal)
    if field is not None or search is not None:
        if field not in SEARCH_FIELDS:
            raise ValidationFailed(
                "Unknown search field",
                code="invalid_enum_value",
                expected=" | ".join(SEARCH_FIELDS),
                path=["field"],
            )
        if not search:
            raise ValidationFailed(
                "search is required with field",
                code="invalid_type",
                expected="a value to search for",
                path=["search"],
            )
        stmt = stmt.where(_field_condition(field, _normalise_search(field, search)))
    return await page_and_count(session, stmt.order_by(Patient.id), page)


def _normalise_search(field: str, value: str) -> Any:
    try:
        if field == "nhs_number":
            return normalise_nhs_number(value)
        if field == "dob":
            return parse_dob(value)
    except ValueError as exc:
        raise ValidationFailed(str(exc), code="invalid_string", expected=f"a valid {field}", path=["search"]) from None
    return value


@dataclass(frozen=True)
class PatientSearch:
    first_name: str | None = None
    last_name: str | None = None
    dob: date | None = None
    nhs_number: str | None = None
    ehr_partner_id: str | None = None

    def is_empty(self) -> bool:
        return not any((self.first_name, self.last_name, self.dob, self.nhs_number, self.ehr_partner_id))


async def search(
    session: AsyncSession, principal: Principal, flt: PatientSearch, page: PageParams
) -> tuple[list[Patient], int]:
    """v3 search: every given filter must match (AND); names match whole, ignoring case."""
    stmt = _base(principal)
    if flt.nhs_number:
        stmt = stmt.where(Patient.nhs_number == flt.nhs_number)
    if flt.ehr_partner_id:
        stmt = stmt.where(Patient.ehr_partner_id == flt.ehr_partner_id)
    if flt.dob:
        stmt = stmt.where(Patient.dob == flt.dob)
    if flt.last_name:
        stmt = stmt.where(func.lower(Patient.last_name) == flt.last_name.lower())
    if flt.first_name:
        stmt = stmt.where(func.lower(Patient.first_name) == flt.first_name.lower())
    # Ordering on the indexed expressions lets the name index deliver rows already sorted.
    order = (func.lower(Patient.last_name), func.lower(Patient.first_name), Patient.id)
    return await page_and_count(session, stmt.order_by(*order), page)


async def page_and_count(
    session: AsyncSession, stmt: Select[tuple[Patient]], page: PageParams
) -> tuple[list[Patient], int]:
    """Like ``paginate``, but a first page shorter than the page size is the whole answer, so the
    count query (a second round trip) is only run when there may be more rows than fit."""
    rows = list((await session.execute(stmt.limit(page.page_size).offset(page.offset))).scalars().all())
    if page.offset == 0 and len(rows) < page.page_size:
        return rows, len(rows)
    count = (await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))).scalar_one()
    return rows, int(count)
