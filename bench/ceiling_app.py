"""The ceiling: a minimal FastAPI route that returns a prebuilt page (no auth, no database).

Benches serve it with the same uvicorn settings as openhero to show how close a real route gets.
``OPENHERO_CEILING_ITEMS`` (JSON file path) chooses the page ``/page`` returns; ``OPENHERO_CEILING_PAGES``
(a JSON object ``{"name": "path"}``) adds one fixed route ``/page/<name>`` per prebuilt page, so one ceiling
process serves the reference for every route of bench/stack.py.
"""

from __future__ import annotations

import json
import os

from fastapi import FastAPI
from fastapi.responses import Response

app = FastAPI()
_path = os.environ.get("OPENHERO_CEILING_ITEMS")
_BODY = open(_path, "rb").read() if _path else json.dumps({"data": [], "count": 0}).encode()  # noqa: SIM115


@app.get("/page")
async def page() -> Response:
    return Response(_BODY, media_type="application/json")


def _add_page(name: str, body: bytes) -> None:
    async def named_page() -> Response:
        return Response(body, media_type="application/json")

    app.add_api_route(f"/page/{name}", named_page, methods=["GET"])


for _name, _file in json.loads(os.environ.get("OPENHERO_CEILING_PAGES") or "{}").items():
    with open(_file, "rb") as _f:
        _add_page(_name, _f.read())
