"""PDS tracing, shared by every domain.

    adapter = get_pds_adapter(settings, http)
    patient = await adapter.trace_by_nhs_number("9000000009", date(2010, 10, 22))

Outcomes other than a ``PdsPatient`` are exceptions: ``PdsNotFound``, ``PdsIdentityCheckRequired``
(``.login_url``), ``PdsDeceased`` (``.patient``), ``PdsUnavailable`` (and its subclass
``PdsBadResponse`` for an unreadable answer). Restricted records come back with ``restricted=True``
and no address or contacts; a trace by a superseded number sets ``superseded_nhs_number``.
"""

from __future__ import annotations

import httpx

from openhero.core import metrics as _metrics
from openhero.patients.pds.base import (
    PdsAdapter,
    PdsBadResponse,
    PdsDeceased,
    PdsError,
    PdsIdentityCheckRequired,
    PdsNotFound,
    PdsPatient,
    PdsUnavailable,
)
from openhero.patients.pds.fhir import FhirPdsAdapter
from openhero.patients.pds.sandbox import SandboxPdsAdapter
from openhero.settings import Settings

__all__ = [
    "FhirPdsAdapter",
    "PdsAdapter",
    "PdsBadResponse",
    "PdsDeceased",
    "PdsError",
    "PdsIdentityCheckRequired",
    "PdsNotFound",
    "PdsPatient",
    "PdsUnavailable",
    "SandboxPdsAdapter",
    "get_pds_adapter",
]


_TRACES = ("trace_by_nhs_number", "trace_by_demographics")  # counted and timed (openhero_external_calls_*)


def get_pds_adapter(settings: Settings, http: httpx.AsyncClient | None = None) -> PdsAdapter:
    """The adapter chosen by ``OPENHERO_PDS_ADAPTER`` (``sandbox`` by default, or ``pds_fhir``)."""
    if settings.pds_adapter == "pds_fhir":
        if not settings.pds_base_url:
            raise RuntimeError("OPENHERO_PDS_ADAPTER=pds_fhir needs OPENHERO_PDS_BASE_URL")
        return _metrics.instrument(FhirPdsAdapter(
            base_url=settings.pds_base_url,
            timeout=settings.pds_timeout_seconds,
            public_base_url=settings.public_base_url,
            secret_key=settings.secret_key,
            http=http,
            access_token=getattr(settings, "pds_access_token", None),
        ), "pds", _TRACES)
    return SandboxPdsAdapter(public_base_url=settings.public_base_url, secret_key=settings.secret_key)
