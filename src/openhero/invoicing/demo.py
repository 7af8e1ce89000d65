"""Demo invoicing for a private GP clinic: travel vaccinations, private CBT, medical reports and HGV
medicals. Products of the group's paid appointment types come first (kept in step by the catalogue
sync); the rest are the clinic's own items. ``seed_demo_invoicing`` is safe to call again (does nothing
once the group has coupons)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core.auth import Principal
from openhero.invoicing import invoices, service
from openhero.invoicing.models import Coupon, Product
from openhero.invoicing.schemas import CreateCustomerRequest, CreateInvoiceRequest, UpdateInvoiceRequest
from openhero.patients.models import Patient
from openhero.practice.models import Admin

# name, description, pounds
CLINIC_ITEMS = [
    ("Hepatitis A vaccine", "Havrix Monodose, per dose", "55.00"),
    ("Typhoid vaccine", "Typhim Vi, single dose", "40.00"),
    ("Rabies vaccine", "Pre-exposure course, per dose", "75.00"),
    ("Yellow fever vaccine", "Stamaril, includes International Certificate", "80.00"),
    ("Medical report (insurance)", "Report for an insurer from the GP record", "120.00"),
    ("HGV / PCV D4 medical", "DVLA D4 examination and form completion", "110.00"),
    ("Fitness to fly letter", "Letter for an airline", "35.00"),
    ("Private sick note", "Fit note for under 7 days' absence", "25.00"),
]


async def seed_demo_invoicing(session: AsyncSession, practice_group_id: int, now: datetime) -> dict[str, Any]:
    if (await session.execute(select(func.count()).select_from(Coupon)
                              .where(Coupon.practice_group_id == practice_group_id))).scalar_one():
        return {}
    # The demo acts as the practice itself (no partner key): key_id 0 marks its audit rows.
    actor = Principal(key_id=0, practice_group_id=practice_group_id, home_practice_group_id=practice_group_id)
    await service.sync_products(session, actor, now)
    for name, description, pounds in CLINIC_ITEMS:
        product = await service.create_product(session, actor, name=name, unit_amount=service.pence(Decimal(pounds)),
                                               now=now)
        product.description = description
    catalogue = {p.name: p for p in (await session.execute(select(Product).where(
        Product.practice_group_id == practice_group_id))).scalars().all()}
    travel = [catalogue[n].stripe_id for n in ("Hepatitis A vaccine", "Typhoid vaccine", "Rabies vaccine",
                                              "Yellow fever vaccine") if n in catalogue]
    session.add_all([
        Coupon(practice_group_id=practice_group_id, stripe_id="NHSSTAFF10", name="NHS staff 10%",
               percent_off=Decimal("10"), created_at=now, updated_at=now),
        Coupon(practice_group_id=practice_group_id, stripe_id="FAMILYTRAVEL15", name="Family travel 15%",
               percent_off=Decimal("15"), applies_to={"products": travel}, created_at=now, updated_at=now),
        Coupon(practice_group_id=practice_group_id, stripe_id="LOYALTY5", name="£5 off", amount_off=500,
               created_at=now, updated_at=now),
    ])
    employer = await service.create_customer(session, actor, CreateCustomerRequest(
        name="Northway Haulage Ltd", email="accounts@northway-haulage.example", phone="0113 496 0000",
        sources=[{"id": "card_northway", "type": "card", "brand": "visa", "last4": "4242", "exp_month": 8,
                  "exp_year": 2028}]), now=now)
    await session.flush()
    admin = (await session.execute(select(Admin).where(Admin.practice_group_id == practice_group_id)
                                   .order_by(Admin.id).limit(1))).scalar_one_or_none()
    patients = (await session.execute(select(Patient).where(Patient.practice_group_id == practice_group_id)
                                      .order_by(Patient.id).limit(5))).scalars().all()
    made = []
    if admin is not None and len(patients) >= 3:
        made = await _invoices(session, actor, str(admin.id), [str(p.id) for p in patients], catalogue,
                               employer.stripe_id, now)
    return {"products": len(catalogue), "coupons": 3, "invoices": made}


def _item(catalogue: dict[str, Product], name: str, quantity: int = 1) -> dict[str, Any]:
    return {"price": catalogue[name].price_id, "quantity": quantity}


async def _invoices(session: AsyncSession, actor: Principal, issuer: str, patients: list[str],
                    catalogue: dict[str, Product], employer: str, now: datetime) -> list[str]:
    plans: list[dict[str, Any]] = [
        {"patient_id": patients[0], "mode": "finalize", "memo": "Travel clinic: Kenya, March",
         "coupons": [{"id": "FAMILYTRAVEL15"}],
         "invoice_items_attributes": [_item(catalogue, "Hepatitis A vaccine"), _item(catalogue, "Typhoid vaccine"),
                                      _item(catalogue, "Yellow fever vaccine")]},
        {"patient_id": patients[1], "mode": "finalize", "customer_stripe_id": employer,
         "set_default_customer": True, "collection_method": "charge_automatically",
         "payment_source": "card_northway", "memo": "D4 medical for Class 1 licence renewal",
         "invoice_items_attributes": [_item(catalogue, "HGV / PCV D4 medical")]},
        {"patient_id": patients[2], "insurer": "AXA Health", "membership_number": "AXA-55120934",
         "authentication_code": "PA-7781", "diagnosis": "Lower back pain", "confidential": True,
         "invoice_items_attributes": [_item(catalogue, "Medical report (insurance)")]},
    ]
    if "Private CBT Session" in catalogue and len(patients) > 3:
        plans.append({"patient_id": patients[3], "mode": "finalize", "coupons": [{"id": "NHSSTAFF10"}],
                      "service_date": str((now - timedelta(days=7)).date()),
                      "invoice_items_attributes": [_item(catalogue, "Private CBT Session", 2)]})
    made = []
    for plan in plans:
        invoice = await invoices.create_invoice(session, actor, CreateInvoiceRequest(issuer_id=issuer, **plan), now)
        made.append(invoice.stripe_id)
    if len(made) > 3:  # the CBT block was settled at the desk
        await invoices.update_invoice(session, actor, made[3], UpdateInvoiceRequest(issuer_id=issuer, status="paid"),
                                      now)
    return made
