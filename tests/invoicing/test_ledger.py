"""The ledger under real conditions: concurrent finalizations over HTTP, a patient merge."""

from __future__ import annotations

import asyncio

import httpx

from tests.builders import make_patient
from tests.invoicing.builders import make_clinic


async def test_concurrent_finalizations_get_distinct_numbers_and_one_wins_a_race(live_server, tenant, clean):
    async with httpx.AsyncClient(base_url=live_server, headers=tenant.headers, timeout=30) as client:
        clinic = await make_clinic(clean, client, tenant.id)
        draft = {"issuer_id": clinic.issuer_id, "patient_id": clinic.patient_id,
                 "invoice_items_attributes": [{"price": clinic.price["Medical report"], "quantity": 1}]}
        ids = [(await client.post("/v1/invoicing/invoices", json=draft)).json()["id"] for _ in range(4)]
        finalize = {"issuer_id": clinic.issuer_id, "mode": "finalize"}
        opened = await asyncio.gather(*(client.patch(f"/v1/invoicing/invoices/{i}", json=finalize) for i in ids))
        assert [r.status_code for r in opened] == [200] * 4, [r.text for r in opened]
        assert len({r.json()["number"] for r in opened}) == 4
        # Paying and voiding one open invoice at once: exactly one move happens, the other is refused.
        url = f"/v1/invoicing/invoices/{ids[0]}"
        race = await asyncio.gather(client.patch(url, json={"issuer_id": clinic.issuer_id, "status": "paid"}),
                                    client.patch(url, json={"issuer_id": clinic.issuer_id, "status": "void"}))
        assert sorted(r.status_code for r in race) == [200, 409], [r.text for r in race]


async def test_patient_merge_moves_invoices_and_payers(api, tenant, clean):
    clinic = await make_clinic(clean, api, tenant.id)
    twin = await make_patient(clean, tenant.id)
    item = [{"price": clinic.price["HGV medical"], "quantity": 1}]
    employer = (await api.post("/v1/invoicing/customers", json={"name": "Northway Haulage Ltd"})).json()
    await api.post("/v1/invoicing/invoices", json={"issuer_id": clinic.issuer_id, "patient_id": clinic.patient_id,
                                                   "invoice_items_attributes": item})
    moved = (await api.post("/v1/invoicing/invoices", json={
        "issuer_id": clinic.issuer_id, "patient_id": str(twin.id), "invoice_items_attributes": item,
        "customer_stripe_id": employer["id"], "set_default_customer": True})).json()

    token = (await api.post(f"/v1/patients/{clinic.patient_id}/merge/preview",
                            json={"patient_id": str(twin.id)})).json()["merge_token"]
    assert (await api.post(f"/v1/patients/{clinic.patient_id}/merge", json={"merge_token": token})).status_code == 200
    after = (await api.patch(f"/v1/invoicing/invoices/{moved['id']}", json={"issuer_id": clinic.issuer_id,
                                                                             "memo": "merged"})).json()
    assert after["patient_record_id"] == clinic.patient_id
    default = (await api.get("/v1/invoicing/customers/default", params={"patient_id": clinic.patient_id})).json()
    assert default["id"] == employer["id"]  # the most recently chosen payer of either record
