"""Products from paid appointment types, coupons, customers and default payers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import update

from openhero.booking.models import AppointmentType
from openhero.invoicing import service
from tests.builders import make_patient, make_tenant
from tests.invoicing.builders import make_clinic, make_coupon, make_paid_type


async def test_products_follow_paid_appointment_types(api, client, tenant, clean):
    clinic = await make_clinic(clean, api, tenant.id)
    body = (await api.get("/v1/invoicing/products")).json()
    assert body["count"] == 3 and [p["name"] for p in body["data"]] == [
        "HGV medical", "Medical report", "Yellow fever vaccination"]
    report = body["data"][1]
    assert report["id"].startswith("prod_") and report["price"].startswith("price_")
    assert (report["unit_amount"], report["unit_amount_in_pounds"], report["currency"]) == (9550, 95.5, "gbp")
    again = (await api.get("/v1/invoicing/products")).json()
    assert again["data"] == body["data"]  # listing twice mints nothing new

    async with clean.session() as s:
        await s.execute(update(AppointmentType).where(AppointmentType.name == "Medical report")
                        .values(price=Decimal("110.00")))
        await s.commit()
    repriced = [p for p in (await api.get("/v1/invoicing/products")).json()["data"] if p["name"] == "Medical report"][0]
    assert repriced["id"] == report["id"] and repriced["price"] != report["price"]
    assert repriced["unit_amount"] == 11000
    stale = await api.post("/v1/invoicing/invoices", json={
        "issuer_id": clinic.issuer_id, "patient_id": clinic.patient_id,
        "invoice_items_attributes": [{"price": report["price"], "quantity": 1}]})
    assert stale.status_code == 404 and stale.json()["message"][0]["path"] == ["invoice_items_attributes", 0, "price"]

    other = await make_tenant(clean)
    await make_paid_type(clean, other.id, "Private CBT session", "90.00")
    theirs = (await client.get("/v1/invoicing/products", headers=other.headers)).json()
    assert [p["name"] for p in theirs["data"]] == ["Private CBT session"]
    paged = (await api.get("/v1/invoicing/products", params={"page_size": 2, "page_index": 1})).json()
    assert paged["count"] == 3 and len(paged["data"]) == 1


async def test_coupons_listed_per_group(api, client, tenant, clean):
    await make_coupon(clean, tenant.id, "TRAVEL10", name="Travel clinic 10%", percent_off=Decimal("10"))
    await make_coupon(clean, tenant.id, "STAFF5", name="Staff £5 off", amount_off=500)
    await make_coupon(clean, tenant.id, "OLD", name="Expired", amount_off=100, valid=False)
    other = await make_tenant(clean)
    await make_coupon(clean, other.id, "THEIRS", amount_off=100)

    body = (await api.get("/v1/invoicing/coupons")).json()
    assert body["count"] == 2
    assert body["data"] == [
        {"id": "STAFF5", "name": "Staff £5 off", "applies_to": None, "amount_off": 500, "percent_off": None},
        {"id": "TRAVEL10", "name": "Travel clinic 10%", "applies_to": None, "amount_off": None, "percent_off": 10.0}]


async def test_customers_create_search_and_default_payer(api, client, tenant, clean):
    created = await api.post("/v1/invoicing/customers", json={
        "name": "Haulage Ltd", "email": "accounts@haulage.example", "phone": "01132 496000",
        "sources": [{"type": "card", "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}]})
    assert created.status_code == 200
    customer = created.json()
    assert customer["id"].startswith("cus_") and customer["name"] == "Haulage Ltd"
    assert customer["sources"][0]["id"].startswith("card_") and customer["sources"][0]["last4"] == "4242"

    bad = await api.post("/v1/invoicing/customers", json={"email": "not-an-email", "sources": [{"last4": "42"}]})
    assert bad.status_code == 400 and bad.json()["error"] is True and bad.json()["statusCode"] == 400
    assert {tuple(i["path"]) for i in bad.json()["message"]} == {("name",), ("email",), ("sources", 0, "last4")}

    found = (await api.get("/v1/invoicing/customers", params={"query": "HAULAGE"})).json()
    assert found["count"] == 1 and found["data"][0]["id"] == customer["id"]
    assert (await api.get("/v1/invoicing/customers", params={"query": "accounts@"})).json()["count"] == 1
    assert (await api.get("/v1/invoicing/customers", params={"query": "nobody"})).json()["count"] == 0
    missing = await api.get("/v1/invoicing/customers")
    assert missing.status_code == 400 and missing.json()["message"][0]["path"] == ["query"]

    patient = await make_patient(clean, tenant.id, first_name="Amira", last_name="Khan", email="amira@example.com")
    default = await api.get("/v1/invoicing/customers/default", params={"patient_id": str(patient.id)})
    assert default.status_code == 200
    assert (default.json()["name"], default.json()["email"]) == ("Amira Khan", "amira@example.com")
    same = (await api.get("/v1/invoicing/customers/default", params={"patient_id": str(patient.id)})).json()
    assert same["id"] == default.json()["id"]
    assert (await api.get("/v1/invoicing/customers/default")).status_code == 400

    other = await make_tenant(clean)
    elsewhere = await client.get("/v1/invoicing/customers/default", params={"patient_id": str(patient.id)},
                                 headers=other.headers)
    assert elsewhere.status_code == 404 and elsewhere.json()["message"][0]["code"] == "not_found"
    assert (await client.get("/v1/invoicing/customers", params={"query": ""},
                             headers=other.headers)).json()["count"] == 0


async def test_practice_adds_its_own_coupons(api, tenant, clean, clock):
    clinic = await make_clinic(clean, api, tenant.id)
    hgv = clinic.product["HGV medical"]
    async with clean.session() as s:
        await service.add_coupon(s, tenant.id, code="HGV20", name="HGV 20%", percent_off=Decimal("20"),
                                 amount_off=None, products=[hgv], now=clock.now())
        for bad in ({"code": "HGV20", "percent_off": Decimal("5")}, {"code": "X", "percent_off": Decimal("101")},
                    {"code": "X", "amount_off": 0}, {"code": "X", "percent_off": Decimal(5), "amount_off": 5},
                    {"code": "bad code", "amount_off": 5}, {"code": "X", "amount_off": 5, "products": ["prod_nope"]}):
            with pytest.raises(ValueError):
                await service.add_coupon(s, tenant.id, name="n", **{"percent_off": None, "amount_off": None,
                                                                    "products": None, **bad}, now=clock.now())
        await s.commit()
    listed = (await api.get("/v1/invoicing/coupons")).json()
    assert listed["data"] == [{"id": "HGV20", "name": "HGV 20%", "applies_to": {"products": [hgv]},
                               "amount_off": None, "percent_off": 20.0}]
