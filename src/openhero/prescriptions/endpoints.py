"""Prescription operations: GET /v1/prescriber/{id}/pharmacies, POST /v1/pharmacies."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from openhero.core.auth import PrincipalDep, authenticate
from openhero.core.deps import ClockDep, ReadSessionDep, SessionDep
from openhero.core.pagination import PageDep
from openhero.core.routing import ApiRoute
from openhero.prescriptions import schemas, service
from openhero.prescriptions.models import Pharmacy

router = APIRouter(route_class=ApiRoute, dependencies=[Depends(authenticate)], tags=["Prescription"])

PRESCRIBER_RULE = ("A prescriber is an admin of the practice group with an `external_prescriber_id` (set with "
                   "PATCH /v1/admins/{id}); prescriber ids are admin ids. Any valid key (openhero).")


def pharmacy_out(pharmacy: Pharmacy, prescriber_id: int) -> schemas.Pharmacy:
    return schemas.Pharmacy(id=str(pharmacy.id), prescriber_id=str(prescriber_id), name=pharmacy.name,
                            email=pharmacy.email, mobile=pharmacy.mobile, ods_code=pharmacy.ods_code,
                            postcode=pharmacy.postcode)


@router.get("/v1/prescriber/{id}/pharmacies", operation_id="getPrescriberPharmacies",
            response_model=schemas.PharmacyList, summary="List the pharmacies registered against a prescriber.",
            description=f"{PRESCRIBER_RULE} An admin who is not a prescriber, or another practice group's, is "
                        "404. Sorted by name; paged with page_index/page_size (openhero: default 20, max 100); "
                        "`count` is the total.")
async def get_prescriber_pharmacies(id: str, session: ReadSessionDep, principal: PrincipalDep,
                                    page: PageDep) -> schemas.PharmacyList:
    prescriber_id, rows, count = await service.prescriber_pharmacies_page(session, principal, id, page)
    return schemas.PharmacyList(data=[pharmacy_out(p, prescriber_id) for p in rows], count=count)


@router.post("/v1/pharmacies", operation_id="createPharmacy", response_model=schemas.Pharmacy,
             summary="Register a new pharmacy for a prescriber.",
             description=f"{PRESCRIBER_RULE} `prescriber_id` that is not such an admin → 400. `email` must be an "
                         "email address (stored lower-case), `mobile` a UK number (stored without spaces); optional "
                         "`ods_code` (F + 4 letters/digits) and `postcode` (UK, normalised) are openhero additions. "
                         "A pharmacy is identified by its email within the practice group: registering it again "
                         "updates its details and links it to the prescriber (idempotent, never a duplicate).")
async def create_pharmacy(body: schemas.CreatePharmacyRequest, session: SessionDep, principal: PrincipalDep,
                          clock: ClockDep) -> schemas.Pharmacy:
    pharmacy = await service.create_pharmacy(session, principal, name=body.name, email=body.email,
                                             mobile=body.mobile, prescriber_id=body.prescriber_id,
                                             ods_code=body.ods_code, postcode=body.postcode, now=clock.now())
    return pharmacy_out(pharmacy, int(body.prescriber_id))
