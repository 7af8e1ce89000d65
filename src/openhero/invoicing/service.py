"""Customers, products and coupons of a practice group (the invoice rules live in ``invoices.py``)."""

from __future__ import annotations

import secrets
import string
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.booking.models import AppointmentType
from openhero.core.auth import Principal
from openhero.core.db import Database
from openhero.core.errors import NotFound, ValidationFailed
from openhero.core.pagination import PageParams, paginate
from openhero.core.tenancy import get_owned, owned
from openhero.invoicing import schemas
from openhero.invoicing.models import Coupon, Customer, DefaultPayer, Product
from openhero.patients.models import Patient
from openhero.practice.models import PracticeGroup

_ALPHABET = string.ascii_letters + string.digits


def stripe_id(prefix: str) -> str:
    """A Stripe-looking id (``cus_N4xT0kq8ZbR2aL``): unguessable, so it can name an object in a URL."""
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(16))


def pence(pounds: Decimal | float | int) -> int:
    return int((Decimal(str(pounds)) * 100).quantize(Decimal(1), ROUND_HALF_UP))


# --- customers -----------------------------------------------------------------------------------

def _source(raw: schemas.PaymentSourceIn) -> dict[str, Any]:
    data = raw.model_dump(exclude_none=True)
    data.setdefault("id", stripe_id("card" if raw.type == "card" else "src"))
    return data


async def create_customer(session: AsyncSession, principal: Principal, body: schemas.CreateCustomerRequest,
                          *, patient_id: int | None = None, now: datetime) -> Customer:
    customer = Customer(practice_group_id=principal.practice_group_id, stripe_id=stripe_id("cus"),
                        patient_id=patient_id, name=body.name, email=str(body.email) if body.email else None,
                        phone=body.phone, sources=[_source(s) for s in body.sources], created_at=now,
                        updated_at=now)
    session.add(customer)
    await session.flush()
    return customer


async def search_customers(session: AsyncSession, principal: Principal, query: str, page: PageParams
                           ) -> tuple[list[Customer], int]:
    stmt = owned(Customer, principal)
    text = query.strip().lower()
    if text:
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(func.lower(Customer.name).like(like, escape="\\"),
                              func.lower(Customer.email).like(like, escape="\\"),
                              Customer.phone.like(like, escape="\\"), Customer.stripe_id == query.strip()))
    return await paginate(session, stmt.order_by(Customer.name, Customer.id), page)


async def customer_by_stripe_id(session: AsyncSession, principal: Principal, raw: str, path: list[Any]
                                ) -> Customer:
    row = (await session.execute(owned(Customer, principal).where(Customer.stripe_id == raw))).scalar_one_or_none()
    if row is None:
        raise NotFound("Customer", path=path)
    return row


async def set_default(session: AsyncSession, principal: Principal, patient_id: int, customer: Customer,
                      now: datetime) -> None:
    latest = await _latest_default(session, principal, patient_id)
    if latest is not None and latest.id == customer.id:
        return  # already the default: no history row for a resend
    session.add(DefaultPayer(practice_group_id=principal.practice_group_id, patient_id=patient_id,
                             customer_id=customer.id, set_at=now))
    await session.flush()


async def _latest_default(session: AsyncSession, principal: Principal, patient_id: int) -> Customer | None:
    return (await session.execute(
        owned(Customer, principal).join(DefaultPayer, DefaultPayer.customer_id == Customer.id)
        .where(DefaultPayer.patient_id == patient_id)
        .order_by(DefaultPayer.set_at.desc(), DefaultPayer.id.desc()).limit(1))).scalar_one_or_none()


async def default_customer(session: AsyncSession, principal: Principal, patient: Patient, now: datetime
                           ) -> Customer:
    """The patient's default payer: the latest one set, else the patient as their own billpayer (made from
    their demographics the first time it is needed, then remembered as the default)."""
    latest = await _latest_default(session, principal, patient.id)
    if latest is not None:
        return latest
    # Lock the patient (PostgreSQL) so two first calls at once make one customer, then look again.
    await session.execute(select(Patient.id).where(Patient.id == patient.id).with_for_update())
    latest = await _latest_default(session, principal, patient.id)
    if latest is not None:
        return latest
    own = (await session.execute(owned(Customer, principal).where(Customer.patient_id == patient.id)
                                 .order_by(Customer.id).limit(1))).scalar_one_or_none()
    if own is None:
        name = " ".join(p for p in (patient.first_name, patient.last_name) if p) or f"Patient {patient.id}"
        own = Customer(practice_group_id=principal.practice_group_id, stripe_id=stripe_id("cus"),
                       patient_id=patient.id, name=name, email=patient.email, phone=patient.mobile or patient.landline,
                       sources=[], created_at=now, updated_at=now)
        session.add(own)
        await session.flush()
    await set_default(session, principal, patient.id, own, now)
    return own


async def get_default_customer(session: AsyncSession, db: Database, principal: Principal, patient_id: str | None,
                               now: datetime) -> Customer:
    """Read in the request's read transaction; the first call for a patient with no payer makes one in a
    short write transaction (so the usual call never takes SQLite's write lock)."""
    if not patient_id:
        raise ValidationFailed("patient_id is required", code="invalid_type", path=["patient_id"],
                               expected="a patient id (required)")
    patient = await get_owned(session, Patient, patient_id, principal, "Patient")
    latest = await _latest_default(session, principal, patient.id)
    if latest is not None:
        return latest
    async with db.session(write=True) as writer:
        made = await default_customer(writer, principal, await writer.get_one(Patient, patient.id), now)
        await writer.commit()
    return made


# --- products ------------------------------------------------------------------------------------

def _description(kind: AppointmentType) -> str:
    return f"{kind.name} ({kind.duration} minutes)"


def _behind(kind: AppointmentType, product: Product | None) -> bool:
    return product is None or (product.unit_amount, product.name, product.description, product.active) != (
        pence(kind.price), kind.name, _description(kind), kind.active)


async def _paid_types(session: AsyncSession, principal: Principal
                      ) -> list[tuple[AppointmentType, Product | None]]:
    types = (await session.execute(owned(AppointmentType, principal).where(
        AppointmentType.sector == "paid", AppointmentType.price > 0))).scalars().all()
    if not types:
        return []
    existing = {p.appointment_type_id: p for p in (await session.execute(owned(Product, principal).where(
        Product.appointment_type_id.in_([t.id for t in types])))).scalars().all()}
    return [(kind, existing.get(kind.id)) for kind in types]


async def catalogue_behind(session: AsyncSession, principal: Principal) -> bool:
    """Whether a paid appointment type has no product yet, or one out of step with it (reads only)."""
    return any(_behind(kind, product) for kind, product in await _paid_types(session, principal))


async def sync_products(session: AsyncSession, principal: Principal, now: datetime) -> None:
    """Keep one product per paid appointment type, in step with its name, price and active flag.

    The practice group row is locked first (PostgreSQL; SQLite writers are one at a time anyway), so two
    requests catching up at once make one product per type, not two."""
    await session.execute(select(PracticeGroup.id).where(PracticeGroup.id == principal.practice_group_id)
                          .with_for_update())
    for kind, product in await _paid_types(session, principal):
        if not _behind(kind, product):
            continue
        amount = pence(kind.price)
        if product is None:
            session.add(Product(practice_group_id=principal.practice_group_id, stripe_id=stripe_id("prod"),
                                price_id=stripe_id("price"), name=kind.name, description=_description(kind),
                                unit_amount=amount, active=kind.active, appointment_type_id=kind.id,
                                created_at=now, updated_at=now))
            continue
        if product.unit_amount != amount:  # Stripe prices are immutable: a new price replaces the old
            product.price_id, product.unit_amount = stripe_id("price"), amount
        product.name, product.description, product.active = kind.name, _description(kind), kind.active
        product.updated_at = now
    await session.flush()


async def list_products(session: AsyncSession, db: Database, principal: Principal, page: PageParams,
                        now: datetime) -> tuple[list[Product], int]:
    """Reads in the request's read transaction; only when the catalogue is behind the appointment types
    does a short write transaction catch it up (so listing never takes SQLite's write lock otherwise)."""
    if await catalogue_behind(session, principal):
        async with db.session(write=True) as writer:
            await sync_products(writer, principal, now)
            await writer.commit()
        await session.commit()  # end the read snapshot so the list sees what was just written
    stmt = owned(Product, principal).where(Product.active.is_(True)).order_by(Product.name, Product.id)
    return await paginate(session, stmt, page)


async def product_by(session: AsyncSession, principal: Principal, *, price: str | None, product: str | None,
                     path: list[Any]) -> Product:
    stmt = owned(Product, principal).where(Product.active.is_(True))
    if price:
        stmt = stmt.where(Product.price_id == price)
    if product:
        stmt = stmt.where(Product.stripe_id == product)
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound("Price" if price else "Product", path=path + ["price" if price else "product"])
    return row


# --- coupons -------------------------------------------------------------------------------------

async def list_coupons(session: AsyncSession, principal: Principal, page: PageParams) -> tuple[list[Coupon], int]:
    stmt = owned(Coupon, principal).where(Coupon.valid.is_(True)).order_by(Coupon.name, Coupon.id)
    return await paginate(session, stmt, page)


async def coupons_by_code(session: AsyncSession, principal: Principal, codes: list[str], *, only_valid: bool
                          ) -> dict[str, Coupon]:
    if not codes:
        return {}
    stmt = owned(Coupon, principal).where(Coupon.stripe_id.in_(codes))
    if only_valid:
        stmt = stmt.where(Coupon.valid.is_(True))
    return {c.stripe_id: c for c in (await session.execute(stmt)).scalars().all()}




async def create_product(session: AsyncSession, principal: Principal, *, name: str, unit_amount: int,
                         now: datetime) -> Product:
    product = Product(practice_group_id=principal.practice_group_id, stripe_id=stripe_id("prod"),
                      price_id=stripe_id("price"), name=name[:200], unit_amount=unit_amount, active=True,
                      created_at=now, updated_at=now)
    session.add(product)
    await session.flush()
    return product


async def add_coupon(session: AsyncSession, practice_group_id: int, *, code: str, name: str,
                     percent_off: Decimal | None, amount_off: int | None, products: list[str] | None,
                     now: datetime) -> Coupon:
    """A practice's own coupon (Hero's contract has no create operation; `openhero invoicing coupon`)."""
    if (percent_off is None) == (amount_off is None):
        raise ValueError("give exactly one of percent_off or amount_off")
    if percent_off is not None and not 0 < percent_off <= 100:
        raise ValueError("percent_off must be more than 0 and at most 100")
    if amount_off is not None and amount_off <= 0:
        raise ValueError("amount_off must be a positive number of pence")
    if not code or len(code) > 64 or not all(ch in _ALPHABET + "-_" for ch in code):
        raise ValueError("code must be 1-64 letters, digits, '-' or '_'")
    if products:
        known = set((await session.execute(select(Product.stripe_id).where(
            Product.practice_group_id == practice_group_id, Product.stripe_id.in_(products)))).scalars())
        if unknown := sorted(set(products) - known):
            raise ValueError(f"unknown products: {', '.join(unknown)}")
    exists = (await session.execute(select(Coupon.id).where(Coupon.practice_group_id == practice_group_id,
                                                           Coupon.stripe_id == code))).scalar_one_or_none()
    if exists is not None:
        raise ValueError(f"coupon {code} already exists")
    coupon = Coupon(practice_group_id=practice_group_id, stripe_id=code, name=name, percent_off=percent_off,
                    amount_off=amount_off, applies_to={"products": products} if products else None,
                    created_at=now, updated_at=now)
    session.add(coupon)
    await session.flush()
    return coupon
