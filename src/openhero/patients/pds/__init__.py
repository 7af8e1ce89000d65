"""PDS tracing, shared by every domain.

    adapter = get_pds_adapter(settings, http)
    patient = await adapter.trace_by_nhs_number("9000000009", date(2010, 10, 22))

With ``OPENHERO_PDS_TOKEN_URL`` set, ``pds_fhir`` uses application-restricted access (NHS signed
JWT, see ``auth``); pass the acting organisation's ``ods_code`` and the caller's ``correlation_id``.

Outcomes other than a ``PdsPatient`` are exceptions: ``PdsNotFound``, ``PdsIdentityCheckRequired``
(``.login_url``), ``PdsDeceased`` (``.patient``), ``PdsUnavailable`` (and its subclass
``PdsBadResponse`` for an unreadable answer). Restricted records come back with ``restricted=True``
and no address or contacts; a trace by a superseded number sets ``superseded_nhs_number``.
"""

from __future__ import annotations

import httpx

from openhero.core import metrics as _metrics
from openhero.core.sandbox import current_group, fault_for
from openhero.patients.pds.auth import PdsTokenSource, token_source_for
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
    "PdsTokenSource",
    "PdsUnavailable",
    "SandboxPdsAdapter",
    "get_pds_adapter",
    "pds_token_source",
]

_AUTH_SETTINGS = ("pds_api_key", "pds_private_key_file", "pds_key_id")


def pds_token_source(settings: Settings) -> PdsTokenSource | None:
    """The shared token source for application-restricted access, or None without a token URL.

    Incomplete token settings do not fail here (that would be a 500 on every request): the source
    refuses to mint a token, so each trace is a 503 naming the missing setting, logged once per trace."""
    if not settings.pds_token_url:
        return None
    missing = [f"OPENHERO_{name.upper()}" for name in _AUTH_SETTINGS if not getattr(settings, name)]
    return token_source_for(
        token_url=settings.pds_token_url,
        api_key=settings.pds_api_key or "",
        private_key_file=settings.pds_private_key_file or "",
        key_id=settings.pds_key_id or "",
        missing=tuple(missing),
    )


_TRACES = ("trace_by_nhs_number", "trace_by_demographics")  # counted and timed (openhero_external_calls_*)


def get_pds_adapter(settings: Settings, http: httpx.AsyncClient | None = None) -> PdsAdapter:
    """The adapter chosen by ``OPENHERO_PDS_ADAPTER`` (``sandbox`` by default, or ``pds_fhir``); in sandbox
    mode, while the acting practice group has the ``pds`` fault switched on, wrapped to misbehave."""
    adapter = _configured_adapter(settings, http)
    if settings.sandbox and fault_for(current_group.get(), "pds") is not None:
        from openhero.patients.pds.faults import FaultInjectingPdsAdapter

        return FaultInjectingPdsAdapter(adapter, public_base_url=settings.public_base_url,  # type: ignore[return-value]
                                        secret_key=settings.secret_key, timeout=settings.pds_timeout_seconds)
    return adapter


def _configured_adapter(settings: Settings, http: httpx.AsyncClient | None) -> PdsAdapter:
    if settings.pds_adapter == "pds_fhir":
        if not settings.pds_base_url:
            raise RuntimeError("OPENHERO_PDS_ADAPTER=pds_fhir needs OPENHERO_PDS_BASE_URL")
        return _metrics.instrument(FhirPdsAdapter(
            base_url=settings.pds_base_url,
            timeout=settings.pds_timeout_seconds,
            public_base_url=settings.public_base_url,
            secret_key=settings.secret_key,
            http=http,
            token_source=pds_token_source(settings),
        ), "pds", _TRACES)
    return SandboxPdsAdapter(public_base_url=settings.public_base_url, secret_key=settings.secret_key)
