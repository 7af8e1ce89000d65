"""Raising invoices: 201 and the contract's shape, totals and coupon maths, validation, status moves."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from openhero.invoicing.models import Invoice
from tests.builders import make_admin, make_patient, make_tenant
from tests.invoicing.builders import make_appointment, make_clinic, make_coupon, make_paid_type

CONTRACT_FIELDS = {"id", "stripe_id", "status", "subtotal", "amount_due", "customer_id", "patient_record_id",
                   "appointment_id", "created_at", "updated_at"}


async def _count(db) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(Invoice))).scalar_one()


async def test_create_invoice_prices_lines_and_applies_coupons_in_order(api, tenant, clean, clock):
    clinic = await make_clinic(clean, api, tenant.id)
    await make_coupon(clean, tenant.id, "TRAVEL10", percent_off=Decimal("10"),
                      applies_to={"products": [clinic.product["Yellow fever vaccination"]]})
    await make_coupon(clean, tenant.id, "STAFF5", amount_off=500)
    response = await api.post("/v1/invoicing/invoices", json={
        "issuer_id": clinic.issuer_id, "patient_id": clinic.patient_id, "memo": "Travel clinic, 3 March",
        "coupons": [{"id": "TRAVEL10"}, {"id": "STAFF5", "name": "Staff"}],
        "invoice_items_attributes": [
            {"price": clinic.price["Yellow fever vaccination"], "quantity": 2},  # 2 × 7500
            {"product": clinic.product["Medical report"], "quantity": 1, "unit_amount_in_pounds": 80.25},
            {"description": "Certificate copy", "quantity": 3, "unit_amount": 333},  # ad hoc: 999
            {"description": "Rabies booster", "quantity": 1, "unit_amount_in_pounds": 62.5, "create": True},
        ]})
    assert response.status_code == 201, response.text
    invoice = response.json()
    assert CONTRACT_FIELDS <= set(invoice)
    assert invoice["id"].isdigit() and invoice["stripe_id"].startswith("in_")
    assert invoice["status"] == "draft" and invoice["customer_id"].startswith("cus_")
    assert invoice["patient_record_id"] == clinic.patient_id and invoice["appointment_id"] is None
    assert invoice["created_at"].endswith("Z")
    # 15000 + 8025 + 999 + 6250 = 30274; TRAVEL10 takes 1500 off the vaccination line only; STAFF5 then
    # takes 500 from what is left, starting with the first line.
    assert invoice["subtotal"] == 30274
    assert [line["amount"] for line in invoice["lines"]] == [15000, 8025, 999, 6250]
    assert [line["discount_amount"] for line in invoice["lines"]] == [2000, 0, 0, 0]
    assert invoice["discounts"] == [{"id": "TRAVEL10", "name": "Travel10", "amount": 1500},
                                    {"id": "STAFF5", "name": "Staff5", "amount": 500}]
    assert invoice["amount_due"] == invoice["total"] == 30274 - 2000
    assert invoice["lines"][3]["product"].startswith("prod_")  # create: true saved it as a product
    names = [p["name"] for p in (await api.get("/v1/invoicing/products")).json()["data"]]
    assert "Rabies booster" in names

    default = (await api.get("/v1/invoicing/customers/default", params={"patient_id": clinic.patient_id})).json()
    assert default["id"] == invoice["customer_id"]  # the patient pays by default


async def test_amount_off_never_takes_the_total_below_zero_and_finalizing_zero_pays(api, tenant, clean):
    clinic = await make_clinic(clean, api, tenant.id)
    await make_coupon(clean, tenant.id, "FREE", amount_off=100000)
    body = (await api.post("/v1/invoicing/invoices", json={
        "issuer_id": clinic.issuer_id, "patient_id": clinic.patient_id, "mode": "finalize",
        "coupons": [{"id": "FREE"}],
        "invoice_items_attributes": [{"price": clinic.price["HGV medical"], "quantity": 1}]})).json()
    assert (body["subtotal"], body["amount_due"], body["discounts"][0]["amount"]) == (12000, 0, 12000)
    assert body["status"] == "paid"  # as Stripe: a finalized zero invoice is paid at once


async def test_validation_failures_are_400_in_the_contract_shape_and_store_nothing(api, tenant, clean, clock):
    clinic = await make_clinic(clean, api, tenant.id)
    item = {"price": clinic.price["HGV medical"], "quantity": 1}
    base = {"issuer_id": clinic.issuer_id, "patient_id": clinic.patient_id}
    cases = [
        ({"patient_id": clinic.patient_id}, ["issuer_id"], "invalid_type"),
        ({"issuer_id": clinic.issuer_id}, ["patient_id"], "invalid_type"),
        ({**base, "mode": "send"}, ["mode"], "invalid_enum_value"),
        ({**base, "collection_method": "cash"}, ["collection_method"], "invalid_enum_value"),
        ({**base, "invoice_items_attributes": [{"price": item["price"], "quantity": 0}]},
         ["invoice_items_attributes", 0, "quantity"], "too_small"),
        ({**base, "invoice_items_attributes": [{"price": item["price"]}]},
         ["invoice_items_attributes", 0, "quantity"], "invalid_type"),
        ({**base, "invoice_items_attributes": [{"description": "Jab", "quantity": 1, "unit_amount_in_pounds": 1.005}]},
         ["invoice_items_attributes", 0, "unit_amount_in_pounds"], "custom"),
        ({**base, "invoice_items_attributes": [{"quantity": 1}]}, ["invoice_items_attributes", 0, "price"], "custom"),
        ({**base, "due_date": str((clock.now() - timedelta(days=1)).date())}, ["due_date"], "too_small"),
        ({**base, "due_date": "next week"}, ["due_date"], "invalid_date"),
        ({**base, "mode": "finalize"}, ["invoice_items_attributes"], "too_small"),
        ({**base, "payment_source": "card_nope", "invoice_items_attributes": [item]}, ["payment_source"], "custom"),
    ]
    for payload, path, code in cases:
        response = await api.post("/v1/invoicing/invoices", json=payload)
        assert response.status_code == 400, (payload, response.text)
        body = response.json()
        assert body["error"] is True and body["statusCode"] == 400
        assert (body["message"][0]["path"], body["message"][0]["code"]) == (path, code), payload
    assert (await api.post("/v1/invoicing/invoices", content=b"{nope",
                           headers={"content-type": "application/json"})).status_code == 400
    assert await _count(clean) == 0


async def test_invoice_for_an_appointment_takes_its_patient(api, tenant, clean, clock):
    clinic = await make_clinic(clean, api, tenant.id)
    kind = await make_paid_type(clean, tenant.id, "Private CBT session", "90.00")
    start = clock.now() + timedelta(days=3)
    appointment = await make_appointment(clean, tenant.id, int(clinic.patient_id), kind.id, start)
    body = (await api.post("/v1/invoicing/invoices", json={
        "issuer_id": clinic.issuer_id, "appointment_id": str(appointment.id),
        "invoice_items_attributes": [{"description": "CBT session", "quantity": 1, "unit_amount": 9000}]})).json()
    assert (body["patient_record_id"], body["appointment_id"]) == (clinic.patient_id, str(appointment.id))
    assert body["service_date"] == str(start.date()) and body["practitioner_id"] == str(appointment.practitioner_id)
    someone_else = await make_patient(clean, tenant.id)
    mismatch = await api.post("/v1/invoicing/invoices", json={
        "issuer_id": clinic.issuer_id, "appointment_id": str(appointment.id), "patient_id": str(someone_else.id)})
    assert mismatch.status_code == 400 and mismatch.json()["message"][0]["path"] == ["patient_id"]

    # A draft moved to another patient leaves the appointment and bills that patient's payer, who can
    # then be made their default; a date-time service date counts by its UTC date.
    moved = (await api.patch(f"/v1/invoicing/invoices/{body['id']}", json={
        "issuer_id": clinic.issuer_id, "patient_id": str(someone_else.id), "set_default_customer": True,
        "service_date": "2026-03-02T01:30:00+03:00"})).json()
    assert (moved["patient_record_id"], moved["appointment_id"]) == (str(someone_else.id), None)
    assert moved["customer_id"] != body["customer_id"] and moved["service_date"] == "2026-03-01"
    default = (await api.get("/v1/invoicing/customers/default", params={"patient_id": str(someone_else.id)})).json()
    assert default["id"] == moved["customer_id"]


async def test_status_moves_follow_stripe_and_finalized_invoices_change_only_notes(api, tenant, clean, clock):
    clinic = await make_clinic(clean, api, tenant.id)
    await make_coupon(clean, tenant.id, "LOYAL20", percent_off=Decimal("20"))
    created = (await api.post("/v1/invoicing/invoices", json={
        "issuer_id": clinic.issuer_id, "patient_id": clinic.patient_id,
        "invoice_items_attributes": [{"price": clinic.price["HGV medical"], "quantity": 1}]})).json()
    url = f"/v1/invoicing/invoices/{created['id']}"
    editor = str((await make_admin(clean, tenant.id)).id)

    draft = (await api.patch(url, json={"issuer_id": editor, "invoice_items_attributes": [
        {"stripe_id": created["lines"][0]["id"], "price": clinic.price["HGV medical"], "quantity": 2}]})).json()
    assert draft["lines"][0]["id"] == created["lines"][0]["id"] and draft["amount_due"] == 24000
    assert (await api.patch(url, json={"issuer_id": editor, "status": "paid"})).status_code == 409

    opened = (await api.patch(url, json={"issuer_id": editor, "mode": "finalize"})).json()
    assert opened["status"] == "open" and opened["number"].startswith(f"OH{tenant.id}-")
    assert opened["due_date"] == str(clock.now().date() + timedelta(days=30))

    refused = await api.patch(url, json={"issuer_id": editor, "invoice_items_attributes": []})
    assert refused.status_code == 409
    assert refused.json()["message"][0]["code"] == "invoice_not_editable"
    assert (await api.patch(url, json={"issuer_id": editor, "mode": "draft"})).status_code == 409
    # Resending an unchanged bill field with a memo change is fine.
    # So is a client that sends the whole object back with nulls for references and lists.
    resent = await api.patch(url, json={"issuer_id": editor, "patient_id": None, "appointment_id": None,
                                        "invoice_items_attributes": None, "coupons": None, "memo": "Resent",
                                        "set_default_customer": True, "confidential": False})
    assert resent.status_code == 200 and resent.json()["amount_due"] == 24000
    noted = (await api.patch(url, json={"issuer_id": editor, "patient_id": clinic.patient_id,
                                        "memo": "Paid by employer", "coupons": [{"id": "LOYAL20"}]})).json()
    assert (noted["memo"], noted["amount_due"], noted["status"]) == ("Paid by employer", 19200, "open")

    paid = (await api.patch(f"/v1/invoicing/invoices/{created['stripe_id']}",
                            json={"issuer_id": editor, "status": "paid"})).json()
    assert (paid["status"], paid["amount_paid"], paid["amount_remaining"]) == ("paid", 19200, 0)
    for body in ({"status": "void"}, {"status": "open"}, {"coupons": []}):
        response = await api.patch(url, json={"issuer_id": editor, **body})
        assert response.status_code == 409, body
        assert response.json()["statusCode"] == 409
    assert (await api.patch(url, json={"issuer_id": editor, "footer": "Thank you"})).json()["footer"] == "Thank you"
    assert (await api.patch(url, json={"footer": "x"})).status_code == 400  # issuer_id is required


async def test_charge_automatically_needs_a_source_and_is_paid_on_finalize(api, tenant, clean):
    clinic = await make_clinic(clean, api, tenant.id)
    item = [{"price": clinic.price["Medical report"], "quantity": 1}]
    base = {"issuer_id": clinic.issuer_id, "patient_id": clinic.patient_id, "mode": "finalize",
            "collection_method": "charge_automatically", "invoice_items_attributes": item}
    assert (await api.post("/v1/invoicing/invoices", json=base)).status_code == 400  # the patient has no card
    employer = (await api.post("/v1/invoicing/customers", json={
        "name": "Haulage Ltd", "sources": [{"id": "card_haulage", "brand": "visa", "last4": "4242"}]})).json()
    paid = (await api.post("/v1/invoicing/invoices", json={
        **base, "customer_stripe_id": employer["id"], "payment_source": "card_haulage",
        "set_default_customer": True})).json()
    assert (paid["status"], paid["customer_id"], paid["amount_paid"]) == ("paid", employer["id"], 9550)
    default = (await api.get("/v1/invoicing/customers/default", params={"patient_id": clinic.patient_id})).json()
    assert default["id"] == employer["id"]


async def test_other_groups_ids_are_404(api, client, tenant, clean):
    clinic = await make_clinic(clean, api, tenant.id)
    other = await make_tenant(clean)
    theirs = await make_clinic(clean, _Scoped(client, other.headers), other.id)
    await make_coupon(clean, other.id, "THEIRS", amount_off=100)
    their_customer = (await client.post("/v1/invoicing/customers", json={"name": "Theirs"},
                                        headers=other.headers)).json()
    invoice = (await client.post("/v1/invoicing/invoices", headers=other.headers, json={
        "issuer_id": theirs.issuer_id, "patient_id": theirs.patient_id})).json()
    base = {"issuer_id": clinic.issuer_id, "patient_id": clinic.patient_id}
    for payload, path in (
        ({**base, "issuer_id": theirs.issuer_id}, ["issuer_id"]),
        ({**base, "patient_id": theirs.patient_id}, ["patient_id"]),
        ({**base, "issuer_id": "abc"}, ["issuer_id"]),
        ({**base, "customer_stripe_id": their_customer["id"]}, ["customer_stripe_id"]),
        ({**base, "coupons": [{"id": "THEIRS"}]}, ["coupons", 0, "id"]),
        ({**base, "invoice_items_attributes": [{"price": theirs.price["HGV medical"], "quantity": 1}]},
         ["invoice_items_attributes", 0, "price"]),
    ):
        response = await api.post("/v1/invoicing/invoices", json=payload)
        assert response.status_code == 404, payload
        assert response.json()["message"][0]["path"] == path
    for ref in (invoice["id"], invoice["stripe_id"], "abc"):
        response = await api.patch(f"/v1/invoicing/invoices/{ref}", json={"issuer_id": clinic.issuer_id, "memo": "x"})
        assert response.status_code == 404 and response.json()["message"][0]["code"] == "not_found"


class _Scoped:
    """An API client acting for another practice group (what make_clinic needs: get)."""

    def __init__(self, client, headers) -> None:
        self.client, self.headers = client, headers

    async def get(self, url: str, **kwargs):
        return await self.client.get(url, headers=self.headers, **kwargs)
