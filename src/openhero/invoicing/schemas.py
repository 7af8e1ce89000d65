"""Invoicing shapes, field names exactly as the contract's (Coupon, StripeCustomer, PaymentSource,
CreateCustomerRequest, CreateInvoiceRequest, UpdateInvoiceRequest, Invoice); openhero additions are
described as such. Money is in pence unless a field's name says pounds."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, EmailStr, Field

from openhero.core.schemas import ApiModel, Id, RequestModel, Timestamp


class PaymentSource(ApiModel):
    model_config = ConfigDict(extra="ignore", from_attributes=True)
    id: str | None = None
    type: str | None = Field(None, examples=["card"])
    fingerprint: str | None = None
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None


class PaymentSourceIn(RequestModel):
    id: str | None = Field(None, max_length=64, description="openhero: minted as card_… when absent.")
    type: str = Field("card", max_length=32)
    fingerprint: str | None = Field(None, max_length=64)
    brand: str | None = Field(None, max_length=32)
    last4: str | None = Field(None, pattern=r"^\d{4}$")
    exp_month: int | None = Field(None, ge=1, le=12)
    exp_year: int | None = Field(None, ge=2000, le=2100)


class StripeCustomer(ApiModel):
    id: str = Field(description="The Stripe-style customer id, cus_…")
    name: str
    email: str | None = None
    phone: str | None = None
    sources: list[PaymentSource] = Field(default_factory=list)


class StripeCustomerListResponse(ApiModel):
    data: list[StripeCustomer]
    count: int


class CreateCustomerRequest(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(None, max_length=40)
    sources: list[PaymentSourceIn] = Field(default_factory=list, max_length=10)


class CouponOut(ApiModel):
    id: str = Field(description="The coupon's code (Stripe coupon id).")
    name: str
    applies_to: dict[str, Any] | None = Field(None, description='{"products": ["prod_…"]}, or null for all.')
    amount_off: int | None = Field(None, description="Pence off (Stripe's smallest unit).")
    percent_off: float | None = None


class CouponListResponse(ApiModel):
    data: list[CouponOut]
    count: int


class ProductOut(ApiModel):
    """openhero: Hero names this endpoint but its page was not seen; the shape follows what an invoice
    item takes (``price``, ``product``, ``unit_amount``, ``unit_amount_in_pounds``)."""

    id: str = Field(description="prod_…, usable as an invoice item's `product`.")
    price: str = Field(description="price_… of the current price, usable as an invoice item's `price`.")
    name: str
    description: str | None
    unit_amount: int = Field(description="Pence.")
    unit_amount_in_pounds: float
    currency: str
    active: bool
    appointment_type_id: Id | None = Field(description="The paid appointment type this product sells, if any.")


class ProductListResponse(ApiModel):
    data: list[ProductOut]
    count: int


class InvoiceCouponRef(RequestModel):
    id: str = Field(min_length=1, max_length=64)
    name: str | None = None


class InvoiceItemInput(RequestModel):
    price: str | None = Field(None, max_length=64)
    product: str | None = Field(None, max_length=64)
    description: str | None = Field(None, max_length=500)
    quantity: int = Field(ge=1, le=10000)
    unit_amount: int | None = Field(None, ge=0, le=100_000_000, description="Pence.")
    unit_amount_in_pounds: float | None = Field(None, ge=0, le=1_000_000)
    create: bool | None = Field(None, description="openhero: save this line as a new product for reuse.")
    stripe_id: str | None = Field(None, max_length=64, description="openhero: an existing line's ii_… id "
                                                                    "(kept on update).")


DateText = str  # "2026-05-01" or a date-time; parsed by the service so errors name the field


class CreateInvoiceRequest(RequestModel):
    issuer_id: str = Field(description="Admin ID of the person issuing the invoice.")
    patient_id: str | None = None
    appointment_id: str | None = None
    practitioner_id: str | None = None
    service_date: DateText | None = None
    customer_stripe_id: str | None = Field(None, max_length=64)
    set_default_customer: bool | None = None
    due_date: DateText | None = None
    collection_method: Literal["request_payment", "charge_automatically"] | None = None
    payment_source: str | None = Field(None, max_length=64)
    insurer: str | None = Field(None, max_length=200)
    authentication_code: str | None = Field(None, max_length=100)
    membership_number: str | None = Field(None, max_length=100)
    diagnosis: str | None = Field(None, max_length=5000)
    memo: str | None = Field(None, max_length=5000)
    footer: str | None = Field(None, max_length=5000)
    confidential: bool | None = None
    mode: Literal["draft", "finalize"] | None = None
    coupons: list[InvoiceCouponRef] | None = Field(None, max_length=20)
    invoice_items_attributes: list[InvoiceItemInput] | None = Field(None, max_length=100)


class UpdateInvoiceRequest(CreateInvoiceRequest):
    """Every Create field, all optional but issuer_id; only the fields sent change."""

    status: Literal["open", "paid", "void", "uncollectible"] | None = Field(
        None, description="openhero: move a finalized invoice on (paid, void, uncollectible); `open` is the "
                          "same as mode=finalize.")


class InvoiceLineOut(ApiModel):
    id: str = Field(description="ii_…")
    product: str | None
    price: str | None
    description: str
    quantity: int
    unit_amount: int
    amount: int
    discount_amount: int


class InvoiceDiscountOut(ApiModel):
    id: str
    name: str
    amount: int


class InvoiceOut(ApiModel):
    id: Id | None
    stripe_id: str
    status: str
    subtotal: int
    amount_due: int
    customer_id: str | None = Field(description="The paying customer's cus_… id.")
    patient_record_id: Id | None
    appointment_id: Id | None
    created_at: Timestamp
    updated_at: Timestamp
    # openhero additions: the rest of what a Stripe invoice shows.
    number: str | None = None
    total: int = 0
    total_discount_amount: int = 0
    amount_paid: int = 0
    amount_remaining: int = 0
    currency: str = "gbp"
    collection_method: str = "request_payment"
    due_date: str | None = None
    service_date: str | None = None
    practitioner_id: Id | None = None
    issuer_id: Id | None = None
    memo: str | None = None
    footer: str | None = None
    confidential: bool = False
    insurer: str | None = None
    membership_number: str | None = None
    authentication_code: str | None = None
    diagnosis: str | None = None
    payment_source: str | None = None
    discounts: list[InvoiceDiscountOut] = Field(default_factory=list)
    lines: list[InvoiceLineOut] = Field(default_factory=list)
    finalized_at: Timestamp | None = None
    paid_at: Timestamp | None = None
    voided_at: Timestamp | None = None


class HeroErrorItem(ApiModel):
    code: str
    expected: str
    path: list[str | int]
    message: str | None = None


class HeroErrorResponse(ApiModel):
    """The contract's one error body (every non-2xx answer has it)."""

    error: bool
    statusCode: int  # noqa: N815  (the contract's field name)
    message: list[HeroErrorItem]
