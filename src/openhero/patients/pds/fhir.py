"""PDS FHIR R4 over HTTP: ``GET Patient/{nhs_number}`` and ``GET Patient?family=&given=&birthdate=...``.

With a ``PdsTokenSource`` the adapter uses application-restricted access (NHS signed JWT): every
request carries the bearer token, and a 401 fetches a new token and tries once more. Without one
it calls PDS unauthenticated (the NHS public sandbox). Every request carries a UUID
``X-Request-ID`` (the same one on retries of that request, as PDS asks), the caller's
``X-Correlation-ID`` when there is one, and ``NHSD-End-User-Organisation-ODS`` when the acting
organisation is known.

Failure mapping: connection errors, timeouts, 408, 429 and 5xx are retried with backoff and jitter
while the request budget (``timeout``) lasts, then ``PdsUnavailable`` (we answer 503); any other
error status or a body that is not valid FHIR -> ``PdsBadResponse`` (502); 404, an empty search or
``TOO_MANY_MATCHES`` -> ``PdsNotFound``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from datetime import date
from typing import Any

import httpx

from openhero.patients.pds.auth import PdsTokenSource
from openhero.patients.pds.base import PdsBadResponse, PdsNotFound, PdsPatient, PdsUnavailable
from openhero.patients.pds.mapping import (
    identity_login_url,
    outcome_codes,
    parse_search_bundle,
    patient_from_fhir,
    settle_trace,
)

log = logging.getLogger("openhero.patients.pds")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_ATTEMPTS = 4
BACKOFF_BASE_SECONDS = 0.2
BACKOFF_CAP_SECONDS = 2.0
ODS_HEADER = "NHSD-End-User-Organisation-ODS"


class FhirPdsAdapter:
    def __init__(
        self,
        *,
        base_url: str,
        timeout: float,
        public_base_url: str,
        secret_key: str,
        http: httpx.AsyncClient | None = None,
        token_source: PdsTokenSource | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._budget = timeout
        self._http = http
        self._public_base_url = public_base_url
        self._secret = secret_key
        self._tokens = token_source

    @property
    def application_restricted(self) -> bool:
        return self._tokens is not None

    async def _get(
        self, path: str, params: dict[str, str] | None, *, ods_code: str | None, correlation_id: str | None
    ) -> tuple[int, dict[str, Any]]:
        if self._http is not None:
            return await self._request(self._http, path, params, ods_code, correlation_id)
        async with httpx.AsyncClient() as client:
            return await self._request(client, path, params, ods_code, correlation_id)

    async def _request(
        self,
        http: httpx.AsyncClient,
        path: str,
        params: dict[str, str] | None,
        ods_code: str | None,
        correlation_id: str | None,
    ) -> tuple[int, dict[str, Any]]:
        deadline = time.monotonic() + self._budget
        headers = {"Accept": "application/fhir+json", "X-Request-ID": str(uuid.uuid4())}
        if correlation_id:
            headers["X-Correlation-ID"] = correlation_id
        if ods_code:
            headers[ODS_HEADER] = ods_code
        token = await self._tokens.token(http, self._budget) if self._tokens else None
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            if token:
                headers["Authorization"] = f"Bearer {token}"
            response = await self._send(http, f"{self._base_url}/{path}", params, headers, deadline)
            status = response.status_code if response is not None else None
            if status == 401 and self._tokens is not None and not refreshed and token:
                # The token was revoked or expired early: one new token, one more try.
                refreshed = True
                token = await self._tokens.refresh(http, max(deadline - time.monotonic(), 0.1), token)
                continue
            if status is not None and status not in RETRY_STATUSES:
                return self._read(response)  # type: ignore[arg-type]
            pause = _backoff(attempt, response)
            if attempt >= MAX_ATTEMPTS or time.monotonic() + pause >= deadline:
                raise PdsUnavailable(_unavailable_reason(response, attempt))
            await asyncio.sleep(pause)

    async def _send(
        self,
        http: httpx.AsyncClient,
        url: str,
        params: dict[str, str] | None,
        headers: dict[str, str],
        deadline: float,
    ) -> httpx.Response | None:
        """One attempt; None when PDS could not be reached (the caller decides whether to retry)."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PdsUnavailable("PDS did not answer in time")
        try:
            return await http.get(url, params=params, headers=headers, timeout=httpx.Timeout(remaining))
        except httpx.TimeoutException:
            raise PdsUnavailable("PDS did not answer in time") from None
        except httpx.HTTPError as exc:
            log.warning("PDS could not be reached: %s", type(exc).__name__)
            return None

    def _read(self, response: httpx.Response) -> tuple[int, dict[str, Any]]:
        if response.status_code == 404:
            return 404, {}
        body: Any = None
        try:
            body = response.json()
        except ValueError:
            if response.status_code < 400:
                raise PdsBadResponse("PDS answered with a body that is not JSON") from None
        if response.status_code >= 400:
            codes = outcome_codes(body) if isinstance(body, dict) else ""
            log.warning("PDS answered HTTP %s %s", response.status_code, codes)
            raise PdsBadResponse(f"PDS answered HTTP {response.status_code}" + (f" ({codes})" if codes else ""))
        if not isinstance(body, dict):
            raise PdsBadResponse("PDS answered with a body that is not a FHIR resource")
        return response.status_code, body

    def _settle(self, resource: dict[str, Any], requested: str | None, dob: date) -> PdsPatient:
        traced, verified = patient_from_fhir(resource)
        return settle_trace(
            traced,
            verified,
            requested_nhs_number=requested,
            dob=dob,
            login_url=identity_login_url(self._public_base_url, self._secret, traced.nhs_number),
        )

    async def trace_by_nhs_number(
        self, nhs_number: str, dob: date, *, ods_code: str | None = None, correlation_id: str | None = None
    ) -> PdsPatient:
        status, body = await self._get(f"Patient/{nhs_number}", None, ods_code=ods_code, correlation_id=correlation_id)
        if status == 404:
            raise PdsNotFound("No patient found")
        if body.get("resourceType") != "Patient":
            raise PdsBadResponse("PDS answered with something other than a Patient")
        # A superseded number answers with the current record: its id is the new NHS number.
        return self._settle(body, nhs_number, dob)

    async def trace_by_demographics(
        self,
        forename: str,
        surname: str,
        dob: date,
        postcode: str,
        *,
        ods_code: str | None = None,
        correlation_id: str | None = None,
    ) -> PdsPatient:
        params = {
            "family": surname,
            "given": forename,
            "birthdate": f"eq{dob.isoformat()}",
            "address-postalcode": postcode,
            # Application-restricted access may only ask for one result; PDS answers
            # TOO_MANY_MATCHES when more than one person fits, which is not a trace.
            "_max-results": "1",
        }
        status, body = await self._get("Patient", params, ods_code=ods_code, correlation_id=correlation_id)
        if status == 404:
            raise PdsNotFound("No patient found")
        if body.get("resourceType") == "OperationOutcome":
            if "TOO_MANY_MATCHES" in outcome_codes(body):
                raise PdsNotFound("More than one person matches; send the NHS number")
            raise PdsNotFound("No patient found")
        if body.get("resourceType") != "Bundle":
            raise PdsBadResponse("PDS answered a search with something other than a Bundle")
        patients = parse_search_bundle(body)
        if len(patients) != 1:
            raise PdsNotFound("No patient found")
        return self._settle(patients[0], None, dob)


def _backoff(attempt: int, response: httpx.Response | None) -> float:
    """Exponential backoff with full jitter; a short ``Retry-After`` from PDS is honoured."""
    pause = random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)))
    retry_after = response.headers.get("Retry-After") if response is not None else None
    if retry_after and retry_after.isascii() and retry_after.isdigit():
        pause = max(pause, float(retry_after))
    return pause


def _unavailable_reason(response: httpx.Response | None, attempts: int) -> str:
    tried = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
    if response is None:
        return f"PDS could not be reached ({tried})"
    if response.status_code == 429:
        return f"PDS is rate limiting requests (HTTP 429, {tried})"
    return f"PDS is unavailable (HTTP {response.status_code}, {tried})"
