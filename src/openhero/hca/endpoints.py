"""Booking - HCA: GET /v1/booking-hca/consultants, GET /v1/booking-hca/consultants/{gmc_number}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from openhero.core.auth import authenticate, require_scope
from openhero.core.pagination import PageDep, PageParams, array_filter, from_query
from openhero.core.routing import ApiRoute
from openhero.hca import schemas, service
from openhero.hca.directory import SEARCHABLE

router = APIRouter(route_class=ApiRoute, dependencies=[Depends(authenticate), Depends(require_scope("booking"))],
                   tags=["Booking - HCA"])

SANDBOX = ("openhero answers from a built-in sandbox directory of 15 fictional HCA Healthcare UK consultants "
           "(London and Manchester sites); needs the `booking` scope (403 without).")


@from_query
async def _consultant_search(
    page: PageDep,
    fields: Annotated[list[str], Depends(array_filter("fields", documented_name="fields",
                                                      description=" | ".join(SEARCHABLE)))],
    search: Annotated[str | None, Query(max_length=200)] = None,
) -> tuple[PageParams, list[str], str | None]:
    return page, fields, search


@router.get("/v1/booking-hca/consultants", operation_id="searchHcaConsultants",
            response_model=schemas.HcaConsultantList,
            summary="Search HCA consultants by free text, optionally choosing which fields are searched/returned.",
            description=f"{SANDBOX} Every word of `search` must appear (case-insensitive) in one of the searched "
                        f"fields; no `search` lists everyone. `fields` (repeat the key; `fields[]` accepted) "
                        f"chooses the searched fields: {', '.join(SEARCHABLE)} (default all; others → 400). "
                        "Items are always whole consultants. Sorted by last name; paged with page_index/page_size; "
                        "`{data, count}` (openhero's shape).")
async def search_consultants(
    query: Annotated[tuple[PageParams, list[str], str | None], Depends(_consultant_search)],
) -> schemas.HcaConsultantList:
    page, fields, search = query
    rows, count = service.search(search, service.check_fields(fields), page)
    return schemas.HcaConsultantList.model_validate({"data": rows, "count": count})


@router.get("/v1/booking-hca/consultants/{gmc_number}", operation_id="getHcaConsultant",
            response_model=schemas.HcaConsultant, summary="Look up one HCA consultant by GMC registration number.",
            description=f"{SANDBOX} `gmc_number` must be 7 digits (else 400); not in the directory → 404.")
async def get_consultant(gmc_number: str) -> schemas.HcaConsultant:
    return schemas.HcaConsultant.model_validate(service.get(gmc_number))
