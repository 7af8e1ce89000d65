"""A fake PDS FHIR R4 server on loopback: real HTTP, real FHIR JSON, switchable failure modes.

It serves the sandbox people (``openhero.patients.pds.sandbox_data``) the way PDS does:
``GET /Patient/{nhs_number}`` answers the Patient (a superseded number answers the current record),
``GET /Patient?family=&given=&birthdate=eq...&address-postalcode=`` answers a searchset Bundle.
``mode`` switches every answer to ``"error"`` (HTTP 500), ``"slow"`` (answers after 10 s) or back
to ``"ok"``; ``requests`` records what was asked.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from openhero.patients.nhs import normalise_postcode
from openhero.patients.pds.sandbox_data import PEOPLE, to_fhir

FHIR_JSON = "application/fhir+json"


def _outcome(status: int, code: str, diagnostics: str) -> JSONResponse:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "processing",
                "diagnostics": diagnostics,
                "details": {
                    "coding": [{"system": "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode", "code": code}]
                },
            }
        ],
    }
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


class FakePds:
    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._by_number = {}
        for person in PEOPLE:
            self._by_number[person.nhs_number] = person
            if person.old_nhs_number:
                self._by_number[person.old_nhs_number] = person
        self.app = Starlette(routes=[Route("/Patient/{nhs_number}", self._read), Route("/Patient", self._search)])
        self.url = ""
        self._server: uvicorn.Server | None = None

    async def _gate(self, request: Request) -> JSONResponse | None:
        self.requests.append((request.url.path, dict(request.query_params)))
        if self.mode == "error":
            return _outcome(500, "SERVICE_ERROR", "fake PDS failing on purpose")
        if self.mode == "slow":
            await asyncio.sleep(10)
        return None

    async def _read(self, request: Request) -> JSONResponse:
        failed = await self._gate(request)
        if failed is not None:
            return failed
        person = self._by_number.get(request.path_params["nhs_number"])
        if person is None:
            return _outcome(404, "RESOURCE_NOT_FOUND", "Resource Id not found")
        if person.outcome == "unavailable":
            return _outcome(503, "SERVICE_UNAVAILABLE", "Spine unavailable")
        return JSONResponse(to_fhir(person), media_type=FHIR_JSON)

    async def _search(self, request: Request) -> JSONResponse:
        failed = await self._gate(request)
        if failed is not None:
            return failed
        q = request.query_params
        birthdate = q.get("birthdate", "").removeprefix("eq")
        matches = [
            p
            for p in PEOPLE
            if p.last_name.casefold() == q.get("family", "").casefold()
            and p.first_name.casefold() == q.get("given", "").casefold()
            and p.dob == birthdate
            and normalise_postcode(p.postcode) == normalise_postcode(q.get("address-postalcode"))
        ]
        entries: list[dict[str, Any]] = [
            {"fullUrl": f"{self.url}/Patient/{p.nhs_number}", "search": {"score": 1}, "resource": to_fhir(p)}
            for p in matches
        ]
        return JSONResponse(
            {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries},
            media_type=FHIR_JSON,
        )

    def start(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", loop="asyncio"
        )
        self._server = uvicorn.Server(config)
        threading.Thread(target=self._server.run, daemon=True).start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)  # waiting for a server thread to bind, not for time to pass in a test
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
