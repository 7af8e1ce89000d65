"""A patient's browser for the link pages: its own cookie jar, follows the CSRF token of the last page."""

from __future__ import annotations

import re
from typing import Any

import httpx

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SLOT = re.compile(r'name="slot_id" value="(\d+)"')


class Browser:
    def __init__(self, app: Any = None, *, base_url: str | None = None) -> None:
        """In-process against ``app``, or over real HTTP against ``base_url`` (the live_server fixture)."""
        if base_url is not None:
            self.client = httpx.AsyncClient(base_url=base_url, timeout=30)
        else:
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            self.client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        self.page = ""

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def get(self, url: str) -> httpx.Response:
        response = await self.client.get(url)
        self.page = response.text
        return response

    async def post(self, url: str, data: dict[str, Any] | None = None, *, csrf: bool = True,
                   follow: bool = False) -> httpx.Response:
        """POST the form with the last page's CSRF token; ``follow`` fetches the page a 303 points to."""
        body = dict(data or {})
        found = CSRF.search(self.page)
        if csrf and found:
            body["csrf_token"] = found.group(1)
        response = await self.client.post(url, data=body)
        if response.status_code != 303:
            self.page = response.text
        elif follow or response.headers["location"] == url:
            # Rejected answers come back on the form's own page (post/redirect/get): a browser shows it.
            return await self.get(response.headers["location"])
        return response

    def slot_ids(self) -> list[int]:
        return [int(x) for x in SLOT.findall(self.page)]


def dob_fields(day: int, month: int, year: int) -> dict[str, str]:
    return {"dob-day": str(day), "dob-month": str(month), "dob-year": str(year)}
