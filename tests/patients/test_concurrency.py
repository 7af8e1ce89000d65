"""Two (or ten) concurrent registrations of one person make one patient, on both databases."""

import asyncio
from datetime import UTC, date, datetime

import httpx
from sqlalchemy import func, select

from openhero.patients.models import Patient
from openhero.patients.pds import SandboxPdsAdapter
from openhero.patients.service import register_from_pds

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def patient_rows(db, nhs_number: str) -> int:
    async with db.session() as s:
        return (
            await s.execute(select(func.count()).select_from(Patient).where(Patient.nhs_number == nhs_number))
        ).scalar_one()


async def test_concurrent_register_pds_over_http_makes_one_patient(live_server, tenant, clean):
    async with httpx.AsyncClient(base_url=live_server, headers=tenant.headers, timeout=30) as client:
        bodies = [{"nhs_number": "9000000009", "dob": "2010-10-22"}] * 6 + [
            {"forename": "Jane", "surname": "Smith", "dob": "2010-10-22", "postcode": "LS1 6AE"}
        ] * 4
        responses = await asyncio.gather(*(client.post("/v1/patients/register_pds", json=b) for b in bodies))
    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
    assert len({r.json()["patient_id"] for r in responses}) == 1
    assert await patient_rows(clean, "9000000009") == 1


async def test_losing_the_unique_index_race_updates_the_winner(clean, tenant):
    """Session A inserts and holds its transaction; B tries the same person, then A commits.

    On PostgreSQL B blocks on the unique index and gets an IntegrityError, which it must absorb
    (savepoint, re-read, update); on SQLite B waits for A's write lock and finds the row.
    """
    traced = await SandboxPdsAdapter(public_base_url="http://x", secret_key="k").trace_by_nhs_number(
        "9990000018", date(1948, 5, 17)
    )
    async with clean.session() as a:
        winner = await register_from_pds(a, tenant.id, traced, NOW)
        await a.flush()

        async def loser() -> int:
            async with clean.session() as b:
                patient = await register_from_pds(b, tenant.id, traced, NOW)
                await b.commit()
                return patient.id

        task = asyncio.create_task(loser())
        await asyncio.sleep(0.2)  # let B reach the database and block behind A
        assert not task.done()
        await a.commit()
    assert await task == winner.id
    assert await patient_rows(clean, "9990000018") == 1


async def test_concurrent_direct_registers_and_opposite_merges_over_http(live_server, tenant, clean):
    body = {
        "nhs_number": "9990000026",
        "dob": "1979-11-02",
        "first_name": "Mohammed",
        "last_name": "Hussain",
        "mobile": "07700900102",
    }
    async with httpx.AsyncClient(base_url=live_server, headers=tenant.headers, timeout=30) as client:
        responses = await asyncio.gather(*(client.post("/v1/patients/register", json=body) for _ in range(6)))
        assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses]
        assert len({r.json()["patient_id"] for r in responses}) == 1
        # Two records of one person, each previewed as the merge target of the other, merged at once:
        # exactly one merge wins; the other finds its token stale. No deadlock, no 500.
        twin = {k: v for k, v in body.items() if k != "nhs_number"} | {"mobile": "07700900199"}
        a = responses[0].json()["patient_id"]
        b = (await client.post("/v1/patients/register", json=twin)).json()["patient_id"]
        ta = (await client.post(f"/v1/patients/{a}/merge/preview", json={"patient_id": b})).json()["merge_token"]
        tb = (await client.post(f"/v1/patients/{b}/merge/preview", json={"patient_id": a})).json()["merge_token"]
        merges = await asyncio.gather(
            client.post(f"/v1/patients/{a}/merge", json={"merge_token": ta}),
            client.post(f"/v1/patients/{b}/merge", json={"merge_token": tb}),
        )
    assert sorted(r.status_code for r in merges) == [200, 400], [r.text for r in merges]
    assert await patient_rows(clean, "9990000026") == 1
