"""PDS FHIR R4 over HTTP: ``GET Patient/{nhs_number}`` and ``GET Patient?family=&given=&birthdate=...``.

Failure mapping: connection errors, timeouts, 429 and 503 -> ``PdsUnavailable`` (we answer 503);
any other error status or a body that is not valid FHIR -> ``PdsBadResponse`` (we answer 502);
404 or an empty/ambiguous search -> ``PdsNotFound``.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx

from openhero.patients.pds.base import PdsBadResponse, PdsNotFound, PdsPatient, PdsUnavailable
from openhero.patients.pds.mapping import (
    identity_login_url,
    parse_search_bundle,
    patient_from_fhir,
    settle_trace,
)

_UNAVAILABLE_STATUSES = frozenset({408, 429, 502, 503, 504})


class FhirPdsAdapter:
    def __init__(
        self,
        *,
        base_url: str,
        timeout: float,
        public_base_url: str,
        secret_key: str,
        http: httpx.AsyncClient | None = None,
        access_token: str | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = httpx.Timeout(timeout)
        self._http = http
        self._public_base_url = public_base_url
        self._secret = secret_key
        self._access_token = access_token

    async def _get(self, path: str, params: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        headers = {"Accept": "application/fhir+json", "X-Request-ID": str(uuid.uuid4())}
        if self._access_token:
            headers["Authorization"] = f"Bearer {self._access_token}"
        url = f"{self._base_url}/{path}"
        try:
            if self._http is not None:
                response = await self._http.get(url, params=params, headers=headers, timeout=self._timeout)
            else:
                async with httpx.AsyncClient(timeout=self._timeout) as client:
                    response = await client.get(url, params=params, headers=headers)
        except httpx.TimeoutException:
            raise PdsUnavailable("PDS did not answer in time") from None
        except httpx.HTTPError as exc:
            raise PdsUnavailable(f"PDS could not be reached: {type(exc).__name__}") from None
        if response.status_code in _UNAVAILABLE_STATUSES:
            raise PdsUnavailable(f"PDS is unavailable (HTTP {response.status_code})")
        if response.status_code == 404:
            return 404, {}
        if response.status_code >= 400:
            raise PdsBadResponse(f"PDS answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise PdsBadResponse("PDS answered with a body that is not JSON") from None
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

    async def trace_by_nhs_number(self, nhs_number: str, dob: date) -> PdsPatient:
        status, body = await self._get(f"Patient/{nhs_number}")
        if status == 404:
            raise PdsNotFound("No patient found")
        if body.get("resourceType") != "Patient":
            raise PdsBadResponse("PDS answered with something other than a Patient")
        # A superseded number answers with the current record: its id is the new NHS number.
        return self._settle(body, nhs_number, dob)

    async def trace_by_demographics(self, forename: str, surname: str, dob: date, postcode: str) -> PdsPatient:
        params = {
            "family": surname,
            "given": forename,
            "birthdate": f"eq{dob.isoformat()}",
            "address-postalcode": postcode,
            "_max-results": "2",
        }
        status, body = await self._get("Patient", params)
        if status == 404 or body.get("resourceType") == "OperationOutcome":
            raise PdsNotFound("No patient found")  # e.g. TOO_MANY_MATCHES: not one identifiable person
        if body.get("resourceType") != "Bundle":
            raise PdsBadResponse("PDS answered a search with something other than a Bundle")
        patients = parse_search_bundle(body)
        if len(patients) != 1:
            raise PdsNotFound("No patient found")
        return self._settle(patients[0], None, dob)
