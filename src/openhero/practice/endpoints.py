"""Practice Group and Admin operations, and Elements access tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from openhero.core import tokens
from openhero.core.auth import ACCESS_TOKEN_PURPOSE, Principal, PrincipalDep, authenticate, require_any_scope
from openhero.core.deps import ClockDep, ReadSessionDep, SessionDep, SettingsDep
from openhero.core.errors import Forbidden
from openhero.core.ids import parse_ids
from openhero.core.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    PageDep,
    PageParams,
    array_filter,
    from_query,
    parse_bool,
)
from openhero.core.routing import ApiRoute
from openhero.core.schemas import ListResponse
from openhero.practice import schemas, service
from openhero.practice.models import Practitioner

router = APIRouter(route_class=ApiRoute, dependencies=[Depends(authenticate)])

SNOMED_DEFAULTS = {"sms": "279991000000102", "email": "401271004", "nhs_app": "401271004"}
ReferenceDataScope = Depends(require_any_scope("booking", "booking_links"))


@router.post("/v1/access_token", operation_id="createAccessToken", tags=["Practice Group"],
             response_model=schemas.AccessTokenResponse,
             summary="Issue a short-lived JWT for embedding Hero Elements / SDK components.",
             description="Mints an HS256 JWT (iss, sub = API key id, practice_group_id, scopes, iat, exp = iat + "
                         "30 minutes). Elements send it as `Authorization: Bearer <token>` instead of the API "
                         "key. openhero: a token cannot mint another token (the API key is required here).")
async def create_access_token(principal: PrincipalDep, settings: SettingsDep, clock: ClockDep
                              ) -> schemas.AccessTokenResponse:
    if principal.via_token:
        raise Forbidden("Access tokens are minted with an API key, not with another token",
                        expected="x-api-key header", path=["authorization"])
    token = tokens.mint(settings.secret_key, purpose=ACCESS_TOKEN_PURPOSE, now=clock.now(),
                        ttl=timedelta(seconds=settings.access_token_ttl_seconds), sub=str(principal.key_id),
                        practice_group_id=str(principal.practice_group_id), scopes=sorted(principal.scopes))
    return schemas.AccessTokenResponse(access_token=token)


def _group_out(group) -> schemas.PracticeGroupOut:  # type: ignore[no-untyped-def]
    fields = group if isinstance(group, dict) else {c: getattr(group, c) for c in service.GROUP_VIEW_COLUMNS}
    return schemas.PracticeGroupOut.model_validate({**fields, "address": fields["address"] or {}})


@router.get("/v1/me", operation_id="getPracticeGroupById", tags=["Practice Group"],
            response_model=schemas.PracticeGroupOut,
            summary="Fetch the practice group that the request is authenticated as.",
            description="The group named by x-practice-group-id (a group in the key's network when the key "
                        "acts cross-organisation). openhero completes Hero's guide-level shape with ods_code, "
                        "network_id, phone, email and the prescription partner switch.")
async def get_me(session: ReadSessionDep, principal: PrincipalDep) -> schemas.PracticeGroupOut:
    return _group_out(await service.practice_group_view(session, principal))


@router.patch("/v1/me", operation_id="updatePracticeGroup", tags=["Practice Group"],
              response_model=schemas.PracticeGroupOut,
              summary="Partially update the authenticated practice group.",
              description="Send only what changes. openhero answers with the updated practice group (Hero's "
                          "response was not published); prescription partner credentials are stored but never "
                          "returned. openhero extension: `email_from` and `email_reply_to` set the From and "
                          "Reply-To of the group's emails sent through the SMTP relay (null clears them).")
async def update_me(body: schemas.UpdatePracticeGroupRequest, session: SessionDep, principal: PrincipalDep
                    ) -> schemas.PracticeGroupOut:
    return _group_out(await service.update_practice_group(session, principal, body))


@router.get("/v1/me/capabilities", operation_id="getCapabilities", tags=["Practice Group"],
            response_model=schemas.CapabilitiesOut,
            summary="Report which capabilities the authenticated practice group has.",
            description="openhero's shape: one boolean per feature, combining the practice group's switches "
                        "and the calling key's scopes.")
async def get_capabilities(session: ReadSessionDep, principal: PrincipalDep) -> schemas.CapabilitiesOut:
    group = await service.get_practice_group(session, principal)
    switches = {"sms": True, "email": True, "nhs_app": True, "write_to_record": True, "webhooks": True,
                **(group.capabilities or {})}
    messaging = principal.has_scope("messaging")
    return schemas.CapabilitiesOut(
        practice_group_id=str(group.id), messaging=messaging, sms=messaging and switches["sms"],
        email=messaging and switches["email"], nhs_app=messaging and switches["nhs_app"],
        batch_messaging=messaging, booking=principal.has_scope("booking"),
        booking_links=principal.has_scope("booking_links"), form_links=principal.has_scope("booking_links"),
        webhooks=switches["webhooks"], write_to_record=messaging and switches["write_to_record"],
        prescriptions=group.prescription_partner_enabled, scopes=sorted(principal.scopes),
        permissions=sorted(principal.permissions))


@router.get("/v1/me/configuration", operation_id="getConfiguration", tags=["Practice Group"],
            response_model=schemas.ConfigurationOut,
            summary="Read the configuration settings of the authenticated practice group.",
            description="openhero's shape: the settings that change how the API behaves for this group.")
async def get_configuration(session: ReadSessionDep, principal: PrincipalDep, settings: SettingsDep
                            ) -> schemas.ConfigurationOut:
    group = await service.get_practice_group(session, principal)
    return schemas.ConfigurationOut(
        practice_group_id=str(group.id), timezone=group.timezone,
        reservation_hold_minutes=group.reservation_hold_minutes,
        cancellation_policy_hours=group.cancellation_policy_hours,
        access_token_ttl_seconds=settings.access_token_ttl_seconds, default_page_size=DEFAULT_PAGE_SIZE,
        max_page_size=MAX_PAGE_SIZE, write_to_record_snomed_defaults=SNOMED_DEFAULTS)


@router.get("/v1/locations", operation_id="listLocations", tags=["Practice Group"],
            response_model=ListResponse[schemas.LocationOut], dependencies=[ReferenceDataScope],
            summary="List the locations set up for online booking.",
            description="Locations enabled for online booking, as `{data, count}`. Needs the booking or "
                        "booking_links scope.")
async def list_locations(session: ReadSessionDep, principal: PrincipalDep) -> ListResponse[schemas.LocationOut]:
    rows = await service.list_locations(session, principal)
    data = [schemas.LocationOut.model_validate({**_attrs(r, "id", "name", "phone", "online_booking_enabled"),
                                                "address": r.address or {}}) for r in rows]
    return ListResponse(data=data, count=len(data))


def _attrs(row, *names: str) -> dict:  # type: ignore[no-untyped-def]
    return {n: getattr(row, n) for n in names}


def practitioner_out(p: Practitioner) -> schemas.PractitionerOut:
    full = " ".join(x for x in (p.title, p.first_name, p.last_name) if x)
    return schemas.PractitionerOut.model_validate({
        **_attrs(p, "id", "title", "first_name", "last_name", "practitioner_type", "gender", "gmc_number", "bio"),
        "full_name": full, "location_ids": [loc.id for loc in p.locations]})


@from_query
async def _practitioner_filters(
    location_ids: Annotated[list[str], Depends(array_filter("location_ids"))],
    appointment_type_ids: Annotated[list[str], Depends(array_filter("appointment_type_ids"))],
    has_availability: Annotated[str | None, Query(description="true: only practitioners with free slots")] = None,
) -> tuple[list[str], list[str], str | None]:
    return location_ids, appointment_type_ids, has_availability


@router.get("/v1/practitioners", operation_id="listPractitioners", tags=["Practice Group"],
            response_model=ListResponse[schemas.PractitionerOut], dependencies=[ReferenceDataScope],
            summary="List practitioners, optionally filtered by location, appointment type and availability.",
            description="`appointment_type_ids` keeps practitioners of the types' practitioner_type at the types' "
                        "locations; `has_availability=true` keeps practitioners with at least one free future "
                        "slot. Response `{data, count}` (openhero's shape).")
async def list_practitioners(
    session: ReadSessionDep, principal: PrincipalDep, clock: ClockDep,
    filters: Annotated[tuple[list[str], list[str], str | None], Depends(_practitioner_filters)],
) -> ListResponse[schemas.PractitionerOut]:
    from openhero.booking import availability

    location_ids, appointment_type_ids, has_availability = filters
    locations = parse_ids("location_ids", location_ids)
    if location_ids and not locations:
        return ListResponse(data=[], count=0)
    type_ids = parse_ids("appointment_type_ids", appointment_type_ids)
    types, type_locations = await availability.practitioner_constraints(
        session, principal, type_ids) if appointment_type_ids else (None, [])
    only = None
    if parse_bool("has_availability", has_availability):
        only = await availability.practitioners_with_free_slots(session, principal, now=clock.now())
    rows = await service.list_practitioners(session, principal, location_ids=locations or type_locations,
                                            practitioner_types=types, only_ids=only)
    data = [practitioner_out(p) for p in rows]
    return ListResponse(data=data, count=len(data))


@router.get("/v1/practitioners/{id}", operation_id="getPractitioner", tags=["Practice Group"],
            response_model=schemas.PractitionerOut, dependencies=[ReferenceDataScope],
            summary="Fetch one practitioner by id.")
async def get_practitioner(id: str, session: ReadSessionDep, principal: PrincipalDep) -> schemas.PractitionerOut:
    return practitioner_out(await service.get_practitioner(session, principal, id))


@from_query
async def _admin_list(
    page: PageDep,
    order_by: Annotated[str | None, Query(pattern="^first_name$")] = None,
    order_descending: Annotated[str | None, Query()] = None,
) -> tuple[PageParams, str | None]:
    return page, order_descending


@router.get("/v1/admins", operation_id="listAdmins", tags=["Admin"], response_model=ListResponse[schemas.AdminOut],
            summary="List the practice group's admin users (paged, sortable by first name).")
async def list_admins(
    session: ReadSessionDep, principal: PrincipalDep,
    query: Annotated[tuple[PageParams, str | None], Depends(_admin_list)],
) -> ListResponse[schemas.AdminOut]:
    page, order_descending = query
    rows, count = await service.list_admins(session, principal, page,
                                            descending=parse_bool("order_descending", order_descending))
    return ListResponse(data=[schemas.AdminOut.model_validate(a) for a in rows], count=count)


@router.patch("/v1/admins/{id}", operation_id="updateAdmin", tags=["Admin"],
              response_model=schemas.UpdateAdminResponse,
              summary="Set an admin's external prescriber id and/or prescriber details.",
              description="openhero: send either field or both. `prescriber_details` with values is merged "
                          "into the stored details (a null field keeps the stored value); `null`, `{}` or an "
                          "object of only nulls clears them (`prescriber_details: null` in reads).")
async def update_admin(id: str, body: schemas.UpdateAdminRequest, session: SessionDep, principal: PrincipalDep
                       ) -> schemas.UpdateAdminResponse:
    admin = await service.update_admin(session, principal, id, body)
    return schemas.UpdateAdminResponse(admin_id=str(admin.id))


__all__ = ["router", "Principal"]
