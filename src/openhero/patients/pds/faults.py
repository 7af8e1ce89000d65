"""Sandbox fault switches for PDS (see core.sandbox), applied to whichever adapter is configured:

- ``unavailable``: PDS cannot be reached (503);
- ``timeout``: PDS does not answer in time (503, after a pause of up to ``TIMEOUT_PAUSE`` seconds);
- ``error``: PDS answers with an error (502);
- ``identity_check``: every trace that finds someone needs the patient to verify their identity first.
"""

from __future__ import annotations

import asyncio
from typing import Any

from openhero.core.sandbox import current_group, fault_for
from openhero.patients.pds.base import (
    PdsAdapter,
    PdsBadResponse,
    PdsIdentityCheckRequired,
    PdsPatient,
    PdsUnavailable,
)
from openhero.patients.pds.mapping import identity_login_url

TIMEOUT_PAUSE = 2.0


class FaultInjectingPdsAdapter:
    def __init__(self, inner: PdsAdapter, *, public_base_url: str, secret_key: str, timeout: float) -> None:
        self.inner = inner
        self._base_url = public_base_url
        self._secret = secret_key
        self._pause = min(timeout, TIMEOUT_PAUSE)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def _before(self) -> str | None:
        mode = fault_for(current_group.get(), "pds")  # read again: the switch may have changed since
        if mode == "unavailable":
            raise PdsUnavailable("PDS could not be reached (sandbox fault: unavailable)")
        if mode == "timeout":
            await asyncio.sleep(self._pause)
            raise PdsUnavailable("PDS did not answer in time (sandbox fault: timeout)")
        if mode == "error":
            raise PdsBadResponse("PDS answered with an error (sandbox fault: error)")
        return mode

    def _after(self, mode: str | None, patient: PdsPatient) -> PdsPatient:
        if mode == "identity_check":
            raise PdsIdentityCheckRequired(identity_login_url(self._base_url, self._secret, patient.nhs_number))
        return patient

    async def trace_by_nhs_number(self, *args: Any, **kwargs: Any) -> PdsPatient:
        mode = await self._before()
        return self._after(mode, await self.inner.trace_by_nhs_number(*args, **kwargs))

    async def trace_by_demographics(self, *args: Any, **kwargs: Any) -> PdsPatient:
        mode = await self._before()
        return self._after(mode, await self.inner.trace_by_demographics(*args, **kwargs))
