"""Every operation of the server's own OpenAPI, fuzzed by schemathesis over real HTTP: no 5xx, no dropped
connection, every 4xx in the contract's error shape. A handful of cases per operation keep this quick;
bench/fuzz.py runs the same driver with many more."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bench.fuzz import fuzz

from openhero.core.auth import PERMISSIONS, SCOPES
from openhero.core.db import Database
from openhero.practice.demo import seed_demo
from openhero.practice.keys import create_key

EXAMPLES = 3  # per operation and mode (schema-conforming and schema-violating)


async def test_fuzz_every_operation_finds_no_server_error(clean: Database, live_server: str):
    async with clean.session() as session:
        demo = await seed_demo(session, datetime.now(UTC))
        _key, raw = await create_key(session, practice_group_id=demo.practice_group_id, scopes=list(SCOPES),
                                     permissions=list(PERMISSIONS), name="fuzz key")
        await session.commit()
    headers = {"x-api-key": raw, "x-practice-group-id": str(demo.practice_group_id)}

    result = await asyncio.to_thread(fuzz, live_server, headers, examples=EXAMPLES, budget_seconds=300,
                                   derandomize=True)

    print(f"fuzz: {result.operations} operations, {result.cases} cases, {result.seconds:.1f} s "
          f"({result.http_seconds:.1f} s waiting for answers)")
    assert result.failures == [], "\n".join(result.failures[:20])
    assert result.skipped_operations == []
    assert result.operations >= 74  # the contract's operations, plus openhero's own
    assert result.cases >= result.operations * EXAMPLES
    assert result.statuses[400] > 0 and result.statuses[200] > 0
