"""Invoicing ledger: Stripe-shaped customers, products, coupons and invoices, per practice group.

Hero keeps these objects in Stripe; openhero keeps its own ledger with the same shapes. Objects that
Hero exposes by their Stripe id carry a ``stripe_id`` (``cus_…``, ``prod_…``/``price_…``, ``in_…``,
``ii_…``) next to the numeric primary key. Money is in pence (Stripe's smallest currency unit).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from openhero.core.db import Base, IdType
from openhero.core.models import IdMixin, TenantMixin, TimestampMixin


class Customer(IdMixin, TenantMixin, TimestampMixin, Base):
    """A billpayer: the patient themself, a parent, an employer paying for an HGV medical..."""

    __tablename__ = "invoicing_customers"
    __table_args__ = (UniqueConstraint("practice_group_id", "stripe_id"),)
    stripe_id: Mapped[str] = mapped_column(String(40))
    # The patient this customer is (a patient as billpayer). Named patient_id: a merge moves it.
    patient_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("patients.id", ondelete="SET NULL"),
                                                   index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    # Payment sources as Stripe shows them: [{"id": "card_…", "type": "card", "brand", "last4", ...}].
    sources: Mapped[list[Any]] = mapped_column(default=list)


class DefaultPayer(IdMixin, TenantMixin, Base):
    """Who pays for a patient by default. History rows, newest wins: a patient merge moves rows by
    ``patient_id`` without any unique constraint to trip over, and the latest choice still wins."""

    __tablename__ = "invoicing_default_payers"
    __table_args__ = (Index("ix_invoicing_default_payers_patient_set", "patient_id", "set_at"),)
    patient_id: Mapped[int] = mapped_column(IdType, ForeignKey("patients.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(IdType, ForeignKey("invoicing_customers.id", ondelete="CASCADE"))
    set_at: Mapped[datetime] = mapped_column()


class Product(IdMixin, TenantMixin, TimestampMixin, Base):
    """A sellable item with its current price. Products of paid appointment types are kept in step with
    the type's price: a changed price mints a new ``price_id`` (Stripe prices are immutable)."""

    __tablename__ = "invoicing_products"
    __table_args__ = (UniqueConstraint("practice_group_id", "stripe_id"),
                      UniqueConstraint("practice_group_id", "price_id"),
                      # One product per appointment type (NULL, the practice's own items, never collide).
                      UniqueConstraint("practice_group_id", "appointment_type_id"))
    stripe_id: Mapped[str] = mapped_column(String(40))
    price_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    unit_amount: Mapped[int] = mapped_column()  # pence
    currency: Mapped[str] = mapped_column(String(3), default="gbp")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    appointment_type_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("appointment_types.id", ondelete="SET NULL"), index=True)


class Coupon(IdMixin, TenantMixin, TimestampMixin, Base):
    """A discount: ``percent_off`` or ``amount_off`` (pence), optionally only for some products."""

    __tablename__ = "invoicing_coupons"
    __table_args__ = (UniqueConstraint("practice_group_id", "stripe_id"),)
    stripe_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    percent_off: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    amount_off: Mapped[int | None] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3), default="gbp")
    applies_to: Mapped[dict[str, Any] | None] = mapped_column()  # {"products": ["prod_…"]}
    valid: Mapped[bool] = mapped_column(Boolean, default=True)


class Invoice(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "invoicing_invoices"
    __table_args__ = (UniqueConstraint("practice_group_id", "stripe_id"),
                      UniqueConstraint("practice_group_id", "number"),  # NULL (drafts) never collide
                      Index("ix_invoicing_invoices_group_created", "practice_group_id", "created_at"))
    stripe_id: Mapped[str] = mapped_column(String(40))
    number: Mapped[str | None] = mapped_column(String(40))  # assigned when finalized, as Stripe does
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # Named patient_id (exposed as patient_record_id): a patient merge moves invoices by this name.
    patient_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("patients.id", ondelete="SET NULL"),
                                                   index=True)
    customer_id: Mapped[int] = mapped_column(IdType, ForeignKey("invoicing_customers.id", ondelete="RESTRICT"),
                                             index=True)
    appointment_id: Mapped[int | None] = mapped_column(IdType)  # booking's appointment, no FK across branches
    practitioner_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("practitioners.id",
                                                                            ondelete="SET NULL"))
    issuer_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("admins.id", ondelete="SET NULL"))
    updated_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("admins.id", ondelete="SET NULL"))
    service_date: Mapped[date | None] = mapped_column()
    due_date: Mapped[date | None] = mapped_column()
    collection_method: Mapped[str] = mapped_column(String(24), default="request_payment")
    payment_source: Mapped[str | None] = mapped_column(String(64))
    insurer: Mapped[str | None] = mapped_column(String(200))
    authentication_code: Mapped[str | None] = mapped_column(String(100))
    membership_number: Mapped[str | None] = mapped_column(String(100))
    diagnosis: Mapped[str | None] = mapped_column(Text)
    memo: Mapped[str | None] = mapped_column(Text)
    footer: Mapped[str | None] = mapped_column(Text)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    currency: Mapped[str] = mapped_column(String(3), default="gbp")
    # [{"id": "TRAVEL10", "name": "...", "amount": 450}] in the order applied; amount = pence taken off.
    discounts: Mapped[list[Any]] = mapped_column(default=list)
    subtotal: Mapped[int] = mapped_column(default=0)
    total_discount: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    amount_due: Mapped[int] = mapped_column(default=0)
    amount_paid: Mapped[int] = mapped_column(default=0)
    finalized_at: Mapped[datetime | None] = mapped_column()
    paid_at: Mapped[datetime | None] = mapped_column()
    voided_at: Mapped[datetime | None] = mapped_column()
    marked_uncollectible_at: Mapped[datetime | None] = mapped_column()
    lines: Mapped[list[InvoiceLine]] = relationship(order_by="InvoiceLine.position", lazy="selectin",
                                                    cascade="all, delete-orphan")


class InvoiceLine(IdMixin, Base):
    __tablename__ = "invoicing_invoice_lines"
    invoice_id: Mapped[int] = mapped_column(IdType, ForeignKey("invoicing_invoices.id", ondelete="CASCADE"),
                                            index=True)
    position: Mapped[int] = mapped_column(default=0)
    stripe_id: Mapped[str] = mapped_column(String(40))  # ii_…
    product_id: Mapped[str | None] = mapped_column(String(40))  # prod_… (None for an ad-hoc line)
    price_id: Mapped[str | None] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[int] = mapped_column()
    unit_amount: Mapped[int] = mapped_column()
    amount: Mapped[int] = mapped_column()  # quantity × unit_amount, before discounts
    discount_amount: Mapped[int] = mapped_column(default=0)


class InvoiceSequence(Base):
    """The last invoice number a practice group handed out: one upsert per finalization."""

    __tablename__ = "invoicing_sequences"
    practice_group_id: Mapped[int] = mapped_column(IdType, ForeignKey("practice_groups.id", ondelete="CASCADE"),
                                                   primary_key=True)
    last_number: Mapped[int] = mapped_column(default=0)
