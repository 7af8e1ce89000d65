"""ORM rows → contract shapes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from openhero.invoicing import schemas
from openhero.invoicing.models import Coupon, Customer, Invoice, Product


def customer_out(customer: Customer) -> schemas.StripeCustomer:
    return schemas.StripeCustomer(id=customer.stripe_id, name=customer.name, email=customer.email,
                                  phone=customer.phone,
                                  sources=[schemas.PaymentSource.model_validate(s) for s in customer.sources or []])


def coupon_out(coupon: Coupon) -> schemas.CouponOut:
    return schemas.CouponOut(id=coupon.stripe_id, name=coupon.name, applies_to=coupon.applies_to,
                             amount_off=coupon.amount_off,
                             percent_off=float(coupon.percent_off) if coupon.percent_off is not None else None)


def product_out(product: Product) -> schemas.ProductOut:
    return schemas.ProductOut(id=product.stripe_id, price=product.price_id, name=product.name,
                              description=product.description, unit_amount=product.unit_amount,
                              unit_amount_in_pounds=product.unit_amount / 100, currency=product.currency,
                              active=product.active, appointment_type_id=product.appointment_type_id)


async def invoice_out(session: AsyncSession, invoice: Invoice) -> schemas.InvoiceOut:
    customer = await session.get_one(Customer, invoice.customer_id)
    remaining = 0 if invoice.status == "void" else invoice.amount_due - invoice.amount_paid
    return schemas.InvoiceOut(
        id=invoice.id, stripe_id=invoice.stripe_id, status=invoice.status, subtotal=invoice.subtotal,
        amount_due=invoice.amount_due, customer_id=customer.stripe_id, patient_record_id=invoice.patient_id,
        appointment_id=invoice.appointment_id, created_at=invoice.created_at, updated_at=invoice.updated_at,
        number=invoice.number, total=invoice.total, total_discount_amount=invoice.total_discount,
        amount_paid=invoice.amount_paid, amount_remaining=remaining, currency=invoice.currency,
        collection_method=invoice.collection_method,
        due_date=invoice.due_date.isoformat() if invoice.due_date else None,
        service_date=invoice.service_date.isoformat() if invoice.service_date else None,
        practitioner_id=invoice.practitioner_id, issuer_id=invoice.issuer_id, memo=invoice.memo,
        footer=invoice.footer, confidential=invoice.confidential, insurer=invoice.insurer,
        membership_number=invoice.membership_number, authentication_code=invoice.authentication_code,
        diagnosis=invoice.diagnosis, payment_source=invoice.payment_source,
        discounts=[schemas.InvoiceDiscountOut.model_validate(d) for d in invoice.discounts or []],
        lines=[schemas.InvoiceLineOut(id=li.stripe_id, product=li.product_id, price=li.price_id,
                                      description=li.description, quantity=li.quantity, unit_amount=li.unit_amount,
                                      amount=li.amount, discount_amount=li.discount_amount)
               for li in invoice.lines],
        finalized_at=invoice.finalized_at, paid_at=invoice.paid_at, voided_at=invoice.voided_at)
