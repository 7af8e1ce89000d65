"""Partner integrations: GET /v1/partners/heidi/token."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from openhero.core.auth import PrincipalDep, authenticate
from openhero.core.deps import ClockDep, SettingsDep
from openhero.core.routing import ApiRoute
from openhero.partners import schemas, service

router = APIRouter(route_class=ApiRoute, dependencies=[Depends(authenticate)], tags=["Partners"])


@router.get("/v1/partners/heidi/token", operation_id="getHeidiToken", response_model=schemas.HeidiToken,
            summary="Obtain a Heidi (partner) token for the current admin and practice group.",
            description="openhero mints the token itself (a sandbox of the Heidi integration; no call to Heidi): "
                        "an HS256 JWT signed with the server's secret, purpose `heidi`, bound to the calling API "
                        "key (`sub`) and the practice group it acts for, valid 15 minutes; `expiration_time` is "
                        "its expiry (UTC). Any valid key; no parameters.")
async def get_heidi_token(principal: PrincipalDep, settings: SettingsDep, clock: ClockDep) -> schemas.HeidiToken:
    token, expires = service.mint_heidi_token(settings.secret_key, principal, clock.now())
    return schemas.HeidiToken(token=token, expiration_time=expires)
