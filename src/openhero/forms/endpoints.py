"""Forms: list and read the practice's forms, read a submitted response. Any valid key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from openhero.core.auth import PrincipalDep, authenticate
from openhero.core.deps import ReadSessionDep
from openhero.core.errors import ValidationFailed, error_item
from openhero.core.pagination import PageDep, PageParams, from_query, parse_bool
from openhero.core.routing import ApiRoute
from openhero.forms import schemas, service
from openhero.forms.models import FORM_TYPES, Form, FormResponse

router = APIRouter(route_class=ApiRoute, dependencies=[Depends(authenticate)])


def form_summary(form: Form) -> schemas.FormSummaryOut:
    return schemas.FormSummaryOut.model_validate(form)


def form_out(form: Form) -> schemas.FormOut:
    fields = [schemas.FormFieldOut(form_question_id=str(q.id), name=q.name, type=q.kind,  # type: ignore[arg-type]
                                   required=q.required, options=q.options, help_text=q.help_text)
              for q in form.questions]
    return schemas.FormOut(id=str(form.id), form_type=form.form_type, title=form.title,  # type: ignore[arg-type]
                           description=form.description, patient_title=form.patient_title,
                           patient_description=form.patient_description, snomed_code=form.snomed_code,
                           fields=fields)


def response_out(response: FormResponse) -> schemas.FormResponseOut:
    return schemas.FormResponseOut(
        id=response.id, form_id=response.form_id, client_id=response.patient_id,
        appointment_id=response.appointment_id, invoice_id=response.invoice_id,
        practice_group_id=response.practice_group_id, created_at=response.created_at,
        updated_at=response.updated_at, hidden=response.hidden, emis_file_record_at=response.emis_file_record_at,
        short_link_id=response.short_link_id, admin_id=response.admin_id,
        write_to_record_error=response.write_to_record_error,
        answers=[schemas.FormAnswerOut.model_validate(a) for a in response.answers or []])


FormFilters = tuple[PageParams, str | None, str | None, str | None]


@from_query
async def _form_filters(
    page: PageDep,
    search: Annotated[str | None, Query()] = None,
    reply_form: Annotated[str | None, Query(description="true or false")] = None,
    form_type: Annotated[str | None, Query(description="questionnaire | response | appointment | "
                                                       "care_navigation")] = None,
) -> FormFilters:
    return page, search, reply_form, form_type


@router.get("/v1/forms", operation_id="listForms", tags=["Form"], response_model=schemas.FormListResponse,
            summary="List the forms that the calling practice group has set up, optionally filtered.",
            description="`search` matches title or description (case-insensitive substring); `reply_form` and "
                        "`form_type` filter exactly. openhero: the list is paged like every list "
                        "(`page_index`, `page_size`, default 20, max 100) and ordered by title; `count` is the "
                        "total matching. Any valid key.")
async def list_forms(
    session: ReadSessionDep, principal: PrincipalDep, filters: Annotated[FormFilters, Depends(_form_filters)],
) -> schemas.FormListResponse:
    page, search, reply_form, form_type = filters
    if form_type and form_type not in FORM_TYPES:
        raise ValidationFailed("form_type is not a form type", items=[error_item(
            "invalid_enum_value", " | ".join(f"'{t}'" for t in FORM_TYPES), ["form_type"],
            f"form_type must be one of {', '.join(FORM_TYPES)}")])
    reply = None if reply_form in (None, "") else parse_bool("reply_form", reply_form)
    forms, count = await service.list_forms(session, principal, search=(search or "").strip() or None,
                                            reply_form=reply, form_type=form_type, page=page)
    return schemas.FormListResponse(data=[form_summary(f) for f in forms], count=count)


@router.get("/v1/forms/{id}", operation_id="getForm", tags=["Form"], response_model=schemas.FormOut,
            summary="Fetch one form together with its question fields.",
            description="Each field carries Hero's `form_question_id` and `name` plus openhero's `type`, "
                        "`required`, `options` and `help_text` (Hero's page was cut off after `name`). "
                        "Another practice group's form is 404. Any valid key.")
async def get_form(id: str, session: ReadSessionDep, principal: PrincipalDep) -> schemas.FormOut:
    return form_out(await service.get_form(session, principal, id))


@router.get("/v1/form_response/{id}", operation_id="getFormResponse", tags=["Form Response"],
            response_model=schemas.FormResponseOut,
            summary="Fetch a single submitted form response by its identifier.",
            description="Ids are numbers here, as in Hero's example. `client_id` is the patient who submitted; "
                        "`short_link_id` the booking or form link it came through; openhero adds `answers` "
                        "(question id, question, value; multi-choice values are arrays). Any valid key.")
async def get_form_response(id: str, session: ReadSessionDep, principal: PrincipalDep) -> schemas.FormResponseOut:
    return response_out(await service.get_response(session, principal, id))
