"""The sandbox's test clock and fault switches (openhero extensions; sandbox mode only, 404 elsewhere).

Both belong to the acting practice group: one partner moving time or breaking PDS never affects another.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from openhero.core.auth import PrincipalDep, authenticate
from openhero.core.deps import ClockDep, SessionDep
from openhero.core.errors import NotFound, ValidationFailed
from openhero.core.routing import ApiRoute
from openhero.core.sandbox import FAULTS, SandboxState, sandbox_state
from openhero.sandbox import schemas

SANDBOX_ONLY = True
router = APIRouter(route_class=ApiRoute, dependencies=[Depends(authenticate)], tags=["Sandbox (openhero)"])

CLOCK_NOTE = (
    "Sandbox mode only. Everything time-driven for this practice group follows its clock: reservation holds "
    "and their expiry, cancellation windows, booking and form link expiry, scheduled sends, the NHS App to "
    "SMS fallback, write-to-record approval windows, tokens minted under it, slot availability, and worker "
    "jobs and webhook retries, which fall due by the group's time within one worker poll interval (delivery "
    "signatures keep real time)."
)


async def _state(request: Request) -> SandboxState:
    state = sandbox_state(request.app.state.clock)
    if state is None:  # the router is only mounted in sandbox mode; defensive
        raise NotFound("Route")
    return state


StateDep = Annotated[SandboxState, Depends(_state)]


def _clock_out(clock: ClockDep, state: SandboxState, group_id: int) -> schemas.ClockOut:
    offset = state.offset(group_id)
    return schemas.ClockOut(now=clock.now(), offset_seconds=int(offset.total_seconds()))


@router.get("/openhero/v1/sandbox/clock", operation_id="getSandboxClock", response_model=schemas.ClockOut,
            summary="The practice group's sandbox clock", description=CLOCK_NOTE)
async def get_clock(principal: PrincipalDep, clock: ClockDep, state: StateDep) -> schemas.ClockOut:
    return _clock_out(clock, state, principal.practice_group_id)


@router.post("/openhero/v1/sandbox/clock/advance", operation_id="advanceSandboxClock",
             response_model=schemas.ClockOut, summary="Move the practice group's clock forward",
             description=CLOCK_NOTE + " `seconds` must be positive: time never goes back.")
async def advance_clock(body: schemas.AdvanceIn, session: SessionDep, principal: PrincipalDep, clock: ClockDep,
                        state: StateDep) -> schemas.ClockOut:
    await state.advance(session, principal.practice_group_id, body.seconds)
    return _clock_out(clock, state, principal.practice_group_id)


@router.delete("/openhero/v1/sandbox/clock", operation_id="resetSandboxClock", response_model=schemas.ClockOut,
               summary="Put the practice group's clock back to real time", description=CLOCK_NOTE)
async def reset_clock(session: SessionDep, principal: PrincipalDep, clock: ClockDep,
                      state: StateDep) -> schemas.ClockOut:
    await state.reset_clock(session, principal.practice_group_id)
    return _clock_out(clock, state, principal.practice_group_id)


FAULT_NOTE = (
    "Sandbox mode only. Faults: `pds` (`unavailable` → PDS calls answer 503, `timeout` → 503 after the "
    "adapter's timeout, `error` → 502, `identity_check` → every trace needs an identity check), `sms`, "
    "`email`, `nhs_app` (`fail` → the provider refuses the message, `bounce` → accepted then "
    "permanently failed, `delay` → the provider is unavailable and the send is retried later), `webhooks` "
    "(`drop` → deliveries fail as if the receiver answered 500, so retries run), `ehr_write` (`reject` → "
    "write-to-record fails with a practice task). With `for_seconds` the fault clears itself after that long "
    "in the group's time."
)


def _fault_out(name: str, mode: str, expires_at) -> schemas.FaultOut:  # type: ignore[no-untyped-def]
    return schemas.FaultOut(name=name, mode=mode, expires_at=expires_at)  # type: ignore[arg-type]


def _active(state: SandboxState, group_id: int) -> list[schemas.FaultOut]:
    return [_fault_out(f["name"], f["mode"], f["expires_at"]) for f in state.active_faults(group_id)]


def _check_name(name: str) -> str:
    if name not in FAULTS:
        raise NotFound("Fault", path=["name"])
    return name


@router.get("/openhero/v1/sandbox/faults", operation_id="listSandboxFaults", response_model=schemas.FaultList,
            summary="The practice group's active faults", description=FAULT_NOTE)
async def list_faults(principal: PrincipalDep, state: StateDep) -> schemas.FaultList:
    faults = _active(state, principal.practice_group_id)
    return schemas.FaultList(data=faults, count=len(faults))


@router.put("/openhero/v1/sandbox/faults/{name}", operation_id="setSandboxFault", response_model=schemas.FaultOut,
            summary="Switch a fault on for the practice group", description=FAULT_NOTE)
async def set_fault(name: Annotated[str, Path(description="pds | sms | email | nhs_app | webhooks | ehr_write")],
                    body: schemas.FaultIn, session: SessionDep, principal: PrincipalDep, clock: ClockDep,
                    state: StateDep) -> schemas.FaultOut:
    _check_name(name)
    if body.mode not in FAULTS[name]:
        raise ValidationFailed(f"'{body.mode}' is not a mode of the {name} fault",
                               expected=" | ".join(FAULTS[name]), path=["mode"], code="invalid_enum_value")
    expires_at = clock.now() + timedelta(seconds=body.for_seconds) if body.for_seconds else None
    await state.set_fault(session, principal.practice_group_id, name, body.mode, expires_at)
    return _fault_out(name, body.mode, expires_at)


@router.delete("/openhero/v1/sandbox/faults/{name}", operation_id="clearSandboxFault",
               response_model=schemas.FaultList, summary="Switch a fault off (the remaining faults are returned)",
               description=FAULT_NOTE)
async def clear_fault(name: str, session: SessionDep, principal: PrincipalDep,
                      state: StateDep) -> schemas.FaultList:
    _check_name(name)
    await state.clear_fault(session, principal.practice_group_id, name)
    faults = _active(state, principal.practice_group_id)
    return schemas.FaultList(data=faults, count=len(faults))


@router.delete("/openhero/v1/sandbox/faults", operation_id="clearSandboxFaults", response_model=schemas.FaultList,
               summary="Switch every fault off", description=FAULT_NOTE)
async def clear_faults(session: SessionDep, principal: PrincipalDep, state: StateDep) -> schemas.FaultList:
    await state.clear_fault(session, principal.practice_group_id)
    return schemas.FaultList(data=[], count=0)
