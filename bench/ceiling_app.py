"""The ceiling: a minimal FastAPI route that returns a prebuilt page (no auth, no database).

Benches serve it with the same uvicorn settings as openhero to show how close a real route gets.
``OPENHERO_CEILING_ITEMS`` (JSON file path) chooses the page it returns.
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
