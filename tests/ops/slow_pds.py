"""The patients tests' fake PDS FHIR server, answering every request after a delay."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse

from tests.patients.fake_pds import FakePds


class SlowPds(FakePds):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def _gate(self, request: Request) -> JSONResponse | None:
        self.requests.append((request.url.path, dict(request.query_params)))
        await asyncio.sleep(self.delay)
        return None
