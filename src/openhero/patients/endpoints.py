"""Patient operations (tag Patients). Open to every scope: any valid key may register and look up."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from openhero.core.auth import PrincipalDep, authenticate
from openhero.core.deps import ClockDep, ReadSessionDep, SessionDep, SettingsDep
from openhero.core.errors import ValidationFailed, error_item
from openhero.core.pagination import PageDep, PageParams, from_query
from openhero.core.routing import ApiRoute
from openhero.core.schemas import ListResponse
from openhero.patients import ehr, merge, schemas, service, views
from openhero.patients.nhs import normalise_nhs_number, parse_dob
from openhero.patients.pds import PdsAdapter, get_pds_adapter

router = APIRouter(route_class=ApiRoute, dependencies=[Depends(authenticate)], tags=["Patients"])


async def pds_adapter(request: Request, settings: SettingsDep) -> PdsAdapter:
    """The configured adapter; ``app.state.pds_adapter`` overrides it (tests, embedding)."""
    adapter = getattr(request.app.state, "pds_adapter", None)
    return adapter if adapter is not None else get_pds_adapter(settings)


PdsDep = Annotated[PdsAdapter, Depends(pds_adapter)]


@router.post(
    "/v1/patients/register_pds",
    operation_id="registerPatientPds",
    response_model=schemas.PatientIdResponse | schemas.IdentityVerificationRequired,
    summary="Trace a patient on the NHS Spine (PDS) and return their Hero patient id, creating the Hero "
    "record when it does not exist yet.",
    description="Send `nhs_number` + `dob`, or `forename` + `surname` + `dob` + `postcode` (when "
    "`nhs_number` is present it is used). NHS numbers may be spaced; a bad check digit is 400 with path "
    '`["nhs_number"]`; `dob` is `YYYY-MM-DD` or a date-time. Outcomes: traced → `{patient_id}` '
    "(the same id on every repeat; demographics refreshed from PDS); identity check needed → 200 "
    "`{message, login_url}` and nothing stored; not traced or dob mismatch → 404 "
    "`patient_not_found`. openhero: deceased → 409 `patient_deceased`; PDS unreachable, timing out, "
    "rate-limiting (429) or failing (5xx) after bounded retries → 503, PDS refusing the request (4xx) or "
    "answering something unreadable → 502, nothing stored in either case; a restricted "
    "(sensitive) record is registered without address or contact details; a superseded NHS "
    "number registers the patient under the current number. `ehr_partner_id` links the patient "
    "to that record of the practice's EHR when it exists.",
)
async def register_patient_pds(
    body: schemas.RegisterPatientPdsRequest,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    adapter: PdsDep,
) -> schemas.PatientIdResponse | schemas.IdentityVerificationRequired:
    # End the read-only transaction authentication opened: SQLite holds its write lock from BEGIN
    # IMMEDIATE, and no other writer should wait while PDS is being asked.
    await session.commit()
    result = await service.register_pds(
        session, principal, adapter, body, clock.now(), correlation_id=request.headers.get("X-Correlation-ID")
    )
    if isinstance(result, service.IdentityCheck):
        return schemas.IdentityVerificationRequired(message=result.message, login_url=result.login_url)
    return schemas.PatientIdResponse(patient_id=result.id)


@router.post(
    "/v1/patients/register",
    operation_id="registerPatient",
    response_model=schemas.PatientIdResponse,
    summary="Create, or update when NHS number and date of birth already match a patient of the practice "
    "group, a patient from demographics supplied by the caller (no Spine trace).",
    description="Required: `dob`, `first_name`, `last_name`, `mobile`. With `nhs_number` the patient is "
    "matched on NHS number + dob and updated (only the fields sent change); the same NHS number with another "
    "dob is 409 `nhs_number_dob_mismatch` (openhero). Without `nhs_number`, openhero matches on "
    "first name + last name + dob + mobile so that a retried request does not create a duplicate. "
    "`mobile`/`landline` must be 7-15 digits (spaces, dashes and a leading + allowed).",
)
async def register_patient(
    body: schemas.RegisterPatientRequest, session: SessionDep, principal: PrincipalDep, clock: ClockDep
) -> schemas.PatientIdResponse:
    patient = await service.register(session, principal, body, clock.now())
    return schemas.PatientIdResponse(patient_id=patient.id)


FieldQuery = Annotated[
    str | None, Query(description="Patient attribute to search on: " + " | ".join(service.SEARCH_FIELDS))
]
SearchQuery = Annotated[
    str | None,
    Query(
        description="Value the field must equal (names and email ignore "
        "case; nhs_number may be spaced; dob YYYY-MM-DD)."
    ),
]
ByField = tuple[PageParams, str | None, str | None]


@from_query
async def _by_field(page: PageDep, field: FieldQuery = None, search: SearchQuery = None) -> ByField:
    return page, field, search


_FIELD_DESCRIPTION = (
    "openhero: `field` is one of " + ", ".join(service.SEARCH_FIELDS) + "; `search` is an "
    "exact match (case-insensitive for names and email). Without both, every patient is "
    "listed. Paged with page_index/page_size; archived (merged) records are left out; "
    "response `{data, count}`."
)


@router.get(
    "/v1/patients",
    operation_id="listPatients",
    response_model=ListResponse[schemas.PatientOut],
    summary="List the practice group's patients, optionally narrowed by a single field/search pair.",
    description=_FIELD_DESCRIPTION + " Items are in the v1 patient shape.",
)
async def list_patients(
    session: ReadSessionDep,
    principal: PrincipalDep,
    query: Annotated[ByField, Depends(_by_field)],
) -> ListResponse[schemas.PatientOut]:
    page, field, search = query
    _no_control_characters(field=field, search=search)
    rows, count = await service.list_by_field(session, principal, field, search, page)
    return ListResponse(data=[views.patient_v1(p) for p in rows], count=count)


@router.get(
    "/v2/patients",
    operation_id="listPatientsV2",
    response_model=ListResponse[schemas.PatientV2Out],
    summary="Older patient search that takes one field name plus one search value (superseded by /v3/patients).",
    description=_FIELD_DESCRIPTION + " Items are in the v2 patient shape.",
)
async def list_patients_v2(
    session: ReadSessionDep,
    principal: PrincipalDep,
    query: Annotated[ByField, Depends(_by_field)],
) -> ListResponse[schemas.PatientV2Out]:
    page, field, search = query
    _no_control_characters(field=field, search=search)
    rows, count = await service.list_by_field(session, principal, field, search, page)
    return ListResponse(data=[views.patient_v2(p) for p in rows], count=count)


def _no_control_characters(**params: str | None) -> None:
    """Query values are compared in SQL; PostgreSQL refuses NUL, so refuse control characters here."""
    bad = [name for name, value in params.items() if value and any(ord(ch) < 32 for ch in value)]
    if bad:
        raise ValidationFailed(
            "Query values may not contain control characters",
            items=[
                error_item("invalid_string", "printable text", [name], "control characters are not allowed")
                for name in bad
            ],
        )


@from_query
async def _v3_filter(
    first_name: Annotated[str | None, Query()] = None,
    last_name: Annotated[str | None, Query()] = None,
    dob: Annotated[str | None, Query(description="Exact date of birth, YYYY-MM-DD.", examples=["1990-12-31"])] = None,
    nhs_number: Annotated[str | None, Query()] = None,
    ehr_partner_id: Annotated[str | None, Query(description="The patient's identifier in the connected EHR.")] = None,
) -> service.PatientSearch:
    _no_control_characters(
        first_name=first_name, last_name=last_name, dob=dob, nhs_number=nhs_number, ehr_partner_id=ehr_partner_id
    )
    items = []
    parsed_dob = parsed_nhs = None
    try:
        parsed_dob = parse_dob(dob) if dob else None
    except ValueError as exc:
        items.append(error_item("invalid_date", "YYYY-MM-DD", ["dob"], str(exc)))
    try:
        parsed_nhs = normalise_nhs_number(nhs_number) if nhs_number else None
    except ValueError as exc:
        items.append(error_item("invalid_string", "a valid 10-digit NHS number", ["nhs_number"], str(exc)))
    if items:
        raise ValidationFailed("Invalid search filters", items=items)
    flt = service.PatientSearch(
        first_name=(first_name or "").strip() or None,
        last_name=(last_name or "").strip() or None,
        dob=parsed_dob,
        nhs_number=parsed_nhs,
        ehr_partner_id=(ehr_partner_id or "").strip() or None,
    )
    if flt.is_empty():
        raise ValidationFailed(
            "At least one filter is required",
            code="missing_filter",
            expected="one of first_name, last_name, dob, nhs_number, ehr_partner_id",
            path=["first_name"],
        )
    return flt


@router.get(
    "/v3/patients",
    operation_id="listPatientsV3",
    response_model=ListResponse[schemas.PatientV2Out],
    summary="Structured patient search combining several named filters in one call; at least one filter is mandatory.",
    description="Filters combine with AND. openhero: names match whole words ignoring case (`smith` finds "
    "Smith, not Smithson); `dob` is exact; `nhs_number` may be spaced and must be valid. No "
    "filter → 400 `missing_filter`. Items are the v2 patient shape (with `ods_code`, the "
    "registered GP practice from PDS), ordered by last name, first name (ignoring case), id; archived "
    "(merged) records are left out.",
)
async def list_patients_v3(
    session: ReadSessionDep,
    principal: PrincipalDep,
    page: PageDep,
    flt: Annotated[service.PatientSearch, Depends(_v3_filter)],
) -> ListResponse[schemas.PatientV2Out]:
    rows, count = await service.search(session, principal, flt, page)
    return ListResponse(data=[views.patient_v2(p) for p in rows], count=count)


@router.get(
    "/v1/patients/{id}",
    operation_id="getPatientById",
    response_model=schemas.PatientOut,
    summary="Fetch one Hero patient record (v1 shape) by its Hero id.",
    description="Unknown id, another practice group's id or a non-numeric id → 404. `dob` is a date-time "
    "at midnight UTC. Archived (merged-away) records are still readable, with "
    "`status: archived`.",
)
async def get_patient(id: str, session: ReadSessionDep, principal: PrincipalDep) -> schemas.PatientOut:
    return views.patient_v1(await service.get_patient(session, principal, id))


DataSource = Literal["hero", "ehr"]


@from_query
async def _data_source(data_source: Annotated[DataSource, Query()] = "hero") -> DataSource:
    return data_source


@router.get(
    "/v2/patients/{id}",
    operation_id="getPatientByIdV2",
    response_model=schemas.PatientV2Out,
    summary="Fetch one patient in the v2 shape (flattened address, identifiers array), optionally read "
    "from the EHR instead of Hero.",
    description="`data_source=hero` (default) answers from Hero's record; `data_source=ehr` answers from "
    "the linked record of the practice's EHR (openhero: 404 `not_linked_to_ehr` when the "
    "patient has none). `identifiers[]` lists the NHS number (main), the EHR id and the Hero "
    "id/uid.",
)
async def get_patient_v2(
    id: str,
    session: ReadSessionDep,
    principal: PrincipalDep,
    data_source: Annotated[DataSource, Depends(_data_source)],
) -> schemas.PatientV2Out:
    patient = await service.get_patient(session, principal, id)
    if data_source == "ehr":
        return views.patient_v2_from_ehr(await ehr.ehr_view(session, patient), patient)
    return views.patient_v2(patient)


@router.get(
    "/v1/patients/{id}/attachments",
    operation_id="listPatientAttachments",
    response_model=ListResponse[schemas.PatientAttachmentOut],
    summary="List the EHR attachments held for a patient.",
    description="openhero: the documents held in the linked EHR record, newest first, paged, as "
    "`{data: [{id, uuid, file_name, content_type, size_bytes, description, created_at}], "
    "count}`; a patient not linked to the EHR has none (empty list). `uuid` is what "
    "attachment links take as `attachment_uuid`.",
)
async def list_attachments(
    id: str, session: ReadSessionDep, principal: PrincipalDep, page: PageDep
) -> ListResponse[schemas.PatientAttachmentOut]:
    patient = await service.get_patient(session, principal, id)
    rows, count = await ehr.attachments(session, patient, page)
    return ListResponse(data=[views.attachment_out(a) for a in rows], count=count)


@router.get(
    "/v1/patients/{id}/ehr/candidates",
    operation_id="listPatientEhrCandidates",
    response_model=ListResponse[schemas.PatientEhrCandidateOut],
    summary="List EHR records that could be the same person as the given Hero patient, for linking.",
    description="openhero: a record is a candidate when it has the patient's NHS number, or the same first "
    "name, last name (ignoring case) and dob without a conflicting NHS number. NHS-number "
    "matches come first; `match` says which rule matched; `hero_id` names the Hero patient "
    "already linked to the record, if any. Paged `{data, count}`.",
)
async def list_ehr_candidates(
    id: str, session: ReadSessionDep, principal: PrincipalDep, page: PageDep
) -> ListResponse[schemas.PatientEhrCandidateOut]:
    patient = await service.get_patient(session, principal, id)
    rows, count = await ehr.candidates(session, patient, page)
    return ListResponse(data=[views.ehr_candidate(r, ehr.match_reason(patient, r)) for r in rows], count=count)


@router.post(
    "/v1/patients/{id}/ehr/connect",
    operation_id="connectPatientEhr",
    response_model=schemas.PatientV2Out,
    summary="Link a Hero patient to a specific patient record in the EHR, identified by its EHR id.",
    description="openhero: `ehr_partner_id` is required and must be one of the patient's EHR candidates "
    "(unknown → 400 `ehr_record_not_found`; not matching the patient → 409 "
    "`ehr_record_mismatch`; linked to another patient → 409 `ehr_record_already_linked`, "
    "merge them instead). Sets `ehr_partner_id`, `ehr_registered: true` (and the NHS number "
    "if the patient had none) and answers the patient in the v2 shape. Repeating it is "
    "harmless.",
)
async def connect_ehr(
    id: str,
    body: schemas.ConnectPatientEhrRequest,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> schemas.PatientV2Out:
    patient = await service.get_patient(session, principal, id, for_update=True)
    return views.patient_v2(await ehr.connect(session, principal, patient, body.ehr_partner_id, clock.now()))


@router.post(
    "/v1/patients/{id}/merge/preview",
    operation_id="previewPatientMerge",
    response_model=schemas.MergePreviewOut,
    summary="Show what merging another patient into this one would produce and hand back a token for the real merge.",
    description="Body `{patient_id}`: the other record of the same person. openhero: the record linked to "
    "the EHR is kept (otherwise the one in the path); the kept record's empty fields are "
    "filled from the other. The answer is the merged patient (v1 fields) plus "
    "`merge_token` (valid 10 minutes, and only while neither record changes), "
    "`kept_patient_id`, `archived_patient_id` and `moves` (rows per table that would move). "
    "A patient of another practice group → 404; different NHS numbers, an archived record or "
    "two different EHR links → 409.",
)
async def preview_merge(
    id: str,
    body: schemas.PreviewPatientMergeRequest,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> schemas.MergePreviewOut:
    plan, token, expires = await merge.preview(
        session, principal, id, body.patient_id, secret=settings.secret_key, now=clock.now()
    )
    return schemas.MergePreviewOut.model_validate(
        {
            **views.patient_v1_values(plan.merged),
            "merge_token": token,
            "merge_token_expires_at": expires,
            "kept_patient_id": plan.kept.id,
            "archived_patient_id": plan.other.id,
            "moves": plan.moves,
        }
    )


@router.post(
    "/v1/patients/{id}/merge",
    operation_id="mergePatient",
    response_model=schemas.MergeResultOut,
    summary="Merge one patient record into another (presumably using the token from the preview call).",
    description="openhero: body `{merge_token}` from the preview of the same path id. Keeps the EHR-linked "
    "record, moves every row that points at the other patient (appointments, messages, form "
    "responses, tasks, ...) to it, and archives the other (`status: archived`). An expired, "
    "forged, reused or stale token (a record changed since the preview) → 400 "
    "`invalid_merge_token`; another practice group's patient → 404.",
)
async def merge_patient(
    id: str,
    body: schemas.MergePatientRequest,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> schemas.MergeResultOut:
    plan, moved = await merge.merge(
        session, principal, id, body.merge_token, secret=settings.secret_key, now=clock.now()
    )
    return schemas.MergeResultOut(patient_id=plan.kept.id, archived_patient_id=plan.other.id, moved=moved)
