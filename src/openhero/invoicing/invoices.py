"""Raising and changing invoices: resolve who and what is billed, price the lines, apply coupons, move
the status along the transition table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.booking.models import Appointment
from openhero.core import audit
from openhero.core.auth import Principal
from openhero.core.dates import bounded_day, bounded_utc
from openhero.core.errors import Conflict, NotFound, ValidationFailed
from openhero.core.tenancy import get_owned, owned
from openhero.invoicing import money, service
from openhero.invoicing.models import Customer, Invoice, InvoiceLine, InvoiceSequence
from openhero.invoicing.schemas import CreateInvoiceRequest, InvoiceItemInput, UpdateInvoiceRequest
from openhero.invoicing.states import InvoiceStatus, check_editable, check_transition
from openhero.patients.models import Patient
from openhero.practice.models import Admin, Practitioner

M = TypeVar("M")
DAYS_UNTIL_DUE = 30  # Stripe's default for invoices sent for payment
ITEMS = "invoice_items_attributes"


def _bad(message: str, path: list[Any], expected: str, code: str = "custom") -> ValidationFailed:
    return ValidationFailed(message, code=code, path=path, expected=expected)


def parse_day(raw: str | None, field: str) -> date | None:
    """``2026-05-01`` or an ISO date-time (its UTC date)."""
    if raw is None or raw == "":
        return None
    try:
        if len(raw) == 10:
            return bounded_day(date.fromisoformat(raw))
        return bounded_utc(datetime.fromisoformat(raw.replace("Z", "+00:00"))).date()
    except ValueError:
        raise _bad(f"{field} is not a date", [field], "an ISO 8601 date (YYYY-MM-DD) or date-time",
                   "invalid_date") from None


async def get_invoice(session: AsyncSession, principal: Principal, raw_id: str, *, for_update: bool = False
                      ) -> Invoice:
    """By numeric id or by the ``in_…`` id."""
    if raw_id.startswith("in_"):
        stmt = owned(Invoice, principal).where(Invoice.stripe_id == raw_id)
        row = (await session.execute(stmt.with_for_update() if for_update else stmt)).scalar_one_or_none()
        if row is None:
            raise NotFound("Invoice")
        return row
    return await get_owned(session, Invoice, raw_id, principal, "Invoice", for_update=for_update)


async def _ref(session: AsyncSession, model: type[M], raw: str | int, principal: Principal, what: str,
               field: str) -> M:
    """A row the body names by id; unknown or another group's → 404 naming the field."""
    try:
        return await get_owned(session, model, raw, principal, what)
    except NotFound:
        raise NotFound(what, path=[field]) from None


async def _admin(session: AsyncSession, principal: Principal, raw: str) -> Admin:
    return await _ref(session, Admin, raw, principal, "Admin", "issuer_id")


@dataclass
class Subject:
    patient: Patient
    appointment: Appointment | None


async def _subject(session: AsyncSession, principal: Principal, patient_id: str | None,
                   appointment_id: str | None) -> Subject:
    if not patient_id and not appointment_id:
        raise _bad("One of patient_id or appointment_id is required", ["patient_id"],
                   "patient_id or appointment_id", "invalid_type")
    appointment = None
    if appointment_id:
        appointment = await _ref(session, Appointment, appointment_id, principal, "Appointment", "appointment_id")
        if appointment.patient_id is None:
            raise _bad("The appointment has no patient", ["appointment_id"], "an appointment with a patient")
        if patient_id and patient_id != str(appointment.patient_id):
            raise _bad("patient_id is not the appointment's patient", ["patient_id"],
                       "the appointment's patient, or no patient_id")
    patient = await _ref(session, Patient, patient_id or appointment.patient_id,  # type: ignore[union-attr]
                         principal, "Patient", "patient_id")
    return Subject(patient=patient, appointment=appointment)


async def _line(session: AsyncSession, principal: Principal, item: InvoiceItemInput, index: int, now: datetime
                ) -> InvoiceLine:
    path: list[Any] = [ITEMS, index]
    amount = item.unit_amount
    if item.unit_amount_in_pounds is not None:
        in_pounds = Decimal(str(item.unit_amount_in_pounds))
        if in_pounds != in_pounds.quantize(Decimal("0.01")):
            raise _bad("unit_amount_in_pounds has more than 2 decimal places", path + ["unit_amount_in_pounds"],
                       "pounds with at most 2 decimal places")
        if amount is not None and amount != service.pence(in_pounds):
            raise _bad("unit_amount and unit_amount_in_pounds disagree", path + ["unit_amount"],
                       "one of unit_amount (pence) or unit_amount_in_pounds, or both equal")
        amount = service.pence(in_pounds)
    if item.price or item.product:
        product = await service.product_by(session, principal, price=item.price, product=item.product, path=path)
        return InvoiceLine(product_id=product.stripe_id, price_id=product.price_id, quantity=item.quantity,
                           description=item.description or product.name,
                           unit_amount=product.unit_amount if amount is None else amount)
    if not item.description or amount is None:
        raise _bad("An item needs a price or product, or a description and an amount", path + ["price"],
                   "price, product, or description with unit_amount / unit_amount_in_pounds")
    if item.create:  # save it as a product so it can be chosen again
        product = await service.create_product(session, principal, name=item.description, unit_amount=amount,
                                               now=now)
        return InvoiceLine(product_id=product.stripe_id, price_id=product.price_id, quantity=item.quantity,
                           description=item.description, unit_amount=amount)
    return InvoiceLine(product_id=None, price_id=None, description=item.description, quantity=item.quantity,
                       unit_amount=amount)


async def _lines(session: AsyncSession, principal: Principal, items: list[InvoiceItemInput],
                 keep: dict[str, InvoiceLine], now: datetime) -> list[InvoiceLine]:
    out = []
    for index, item in enumerate(items):
        line = await _line(session, principal, item, index, now)
        line.position = index
        line.stripe_id = item.stripe_id if item.stripe_id in keep else service.stripe_id("ii")
        out.append(line)
    return out


async def _coupon_terms(session: AsyncSession, principal: Principal, codes: list[str], *, only_valid: bool
                        ) -> list[money.CouponTerms]:
    if len(set(codes)) != len(codes):
        raise _bad("A coupon appears twice", ["coupons"], "each coupon at most once")
    found = await service.coupons_by_code(session, principal, codes, only_valid=only_valid)
    terms = []
    for i, code in enumerate(codes):
        coupon = found.get(code)
        if coupon is None:
            raise NotFound("Coupon", path=["coupons", i, "id"])
        products = (coupon.applies_to or {}).get("products")
        terms.append(money.CouponTerms(id=coupon.stripe_id, name=coupon.name, percent_off=coupon.percent_off,
                                       amount_off=coupon.amount_off,
                                       products=frozenset(products) if products is not None else None))
    return terms


def _price(invoice: Invoice, coupons: list[money.CouponTerms]) -> None:
    lines = [money.Line(product_id=li.product_id, quantity=li.quantity, unit_amount=li.unit_amount)
             for li in invoice.lines]
    totals = money.compute(lines, coupons)
    for row, line in zip(invoice.lines, lines, strict=True):
        row.amount, row.discount_amount = line.amount, line.discount
    invoice.subtotal, invoice.total_discount, invoice.total = totals.subtotal, totals.total_discount, totals.total
    invoice.discounts = totals.discounts
    invoice.amount_due = totals.total


def _check_source(invoice: Invoice, customer: Customer) -> None:
    if invoice.payment_source and invoice.payment_source not in {s.get("id") for s in customer.sources or []}:
        raise _bad("payment_source is not one of the customer's sources", ["payment_source"],
                   "the id of one of the customer's sources")


async def _next_number(session: AsyncSession, invoice: Invoice) -> str:
    """The group's next invoice number, from one upsert: on PostgreSQL the conflicting update waits on the
    counter row, so two finalizations at once never take the same number (SQLite writers are serial)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(InvoiceSequence).values(practice_group_id=invoice.practice_group_id, last_number=1)
    stmt = stmt.on_conflict_do_update(index_elements=[InvoiceSequence.practice_group_id],
                                      set_={"last_number": InvoiceSequence.last_number + 1})
    number = (await session.execute(stmt.returning(InvoiceSequence.last_number))).scalar_one()
    return f"OH{invoice.practice_group_id}-{number:04d}"


async def _move(session: AsyncSession, invoice: Invoice, target: InvoiceStatus, customer: Customer,
                now: datetime) -> None:
    """Apply one allowed transition and what Stripe does with it."""
    check_transition(invoice.status, target)
    if target is InvoiceStatus.OPEN:
        if not invoice.lines:
            raise _bad("An invoice needs at least one item to be finalized", [ITEMS], "at least one item",
                       "too_small")
        if invoice.collection_method == "charge_automatically" and not (invoice.payment_source or customer.sources):
            raise _bad("charge_automatically needs a payment source on the customer", ["payment_source"],
                       "a payment_source, or a customer with a source")
        invoice.number = await _next_number(session, invoice)
        invoice.finalized_at = now
        if invoice.collection_method == "request_payment" and invoice.due_date is None:
            invoice.due_date = now.date() + timedelta(days=DAYS_UNTIL_DUE)
    elif target is InvoiceStatus.PAID:
        invoice.amount_paid, invoice.paid_at = invoice.amount_due, now
    elif target is InvoiceStatus.VOID:
        invoice.voided_at = now
    elif target is InvoiceStatus.UNCOLLECTIBLE:
        invoice.marked_uncollectible_at = now
    invoice.status = target


async def _finalize(session: AsyncSession, invoice: Invoice, customer: Customer, now: datetime) -> None:
    """Finalizing opens the invoice; as in Stripe, a zero total is paid at once, and charge_automatically
    charges the payer's source at once (openhero records the charge: there is no card network here)."""
    await _move(session, invoice, InvoiceStatus.OPEN, customer, now)
    if invoice.amount_due == 0 or invoice.collection_method == "charge_automatically":
        await _move(session, invoice, InvoiceStatus.PAID, customer, now)


def _check_due(due: date | None, method: str, now: datetime) -> None:
    if due is None:
        return
    if method == "charge_automatically":
        raise _bad("due_date applies only to request_payment invoices", ["due_date"],
                   "no due_date with charge_automatically")
    if due < now.date():
        raise _bad("due_date is in the past", ["due_date"], "today or a later date", "too_small")


async def create_invoice(session: AsyncSession, principal: Principal, body: CreateInvoiceRequest, now: datetime
                         ) -> Invoice:
    issuer = await _admin(session, principal, body.issuer_id)
    subject = await _subject(session, principal, body.patient_id, body.appointment_id)
    invoice = Invoice(practice_group_id=principal.practice_group_id, stripe_id=service.stripe_id("in"),
                      status=InvoiceStatus.DRAFT.value, patient_id=subject.patient.id, issuer_id=issuer.id,
                      updated_by_id=issuer.id, created_at=now, updated_at=now, lines=[], discounts=[])
    customer = await _apply_bill(session, principal, invoice, body, body.model_fields_set, subject, now)
    _apply_notes(invoice, body, body.model_fields_set)
    invoice.lines = await _lines(session, principal, body.invoice_items_attributes or [], {}, now)
    _price(invoice, await _coupon_terms(session, principal, [c.id for c in body.coupons or []], only_valid=True))
    session.add(invoice)
    await session.flush()
    if body.mode == "finalize":
        await _finalize(session, invoice, customer, now)
    await session.flush()
    await audit.record(session, principal, "invoice.created", "Invoice", invoice.id,
                       details={"status": invoice.status, "issuer_id": issuer.id}, now=now)
    return invoice


async def _apply_bill(session: AsyncSession, principal: Principal, invoice: Invoice, body: CreateInvoiceRequest,
                      sent: set[str], subject: Subject, now: datetime) -> Customer:
    """Who is billed, for what visit, and how it is collected; returns the paying customer."""
    invoice.patient_id = subject.patient.id
    if subject.appointment is not None and "appointment_id" in sent:
        invoice.appointment_id = subject.appointment.id
        invoice.practitioner_id = subject.appointment.practitioner_id
        invoice.service_date = subject.appointment.start_time.date()
    elif "appointment_id" in sent or "patient_id" in sent:
        invoice.appointment_id = None
    if body.practitioner_id:
        invoice.practitioner_id = (await _ref(session, Practitioner, body.practitioner_id, principal,
                                              "Practitioner", "practitioner_id")).id
    if body.service_date:
        invoice.service_date = parse_day(body.service_date, "service_date")
    invoice.service_date = invoice.service_date or now.date()
    if body.customer_stripe_id:
        customer = await service.customer_by_stripe_id(session, principal, body.customer_stripe_id,
                                                       ["customer_stripe_id"])
    elif invoice.customer_id is None or {"patient_id", "appointment_id"} & sent:
        customer = await service.default_customer(session, principal, subject.patient, now)
    else:
        customer = await session.get_one(Customer, invoice.customer_id)
    invoice.customer_id = customer.id
    if body.set_default_customer and "set_default_customer" in sent:
        await service.set_default(session, principal, subject.patient.id, customer, now)
    if body.collection_method:
        invoice.collection_method = body.collection_method
    invoice.collection_method = invoice.collection_method or "request_payment"
    if "payment_source" in sent:
        invoice.payment_source = body.payment_source
    _check_source(invoice, customer)
    if "due_date" in sent:
        invoice.due_date = parse_day(body.due_date, "due_date")
    _check_due(invoice.due_date if "due_date" in sent else None, invoice.collection_method, now)
    for name in ("insurer", "authentication_code", "membership_number", "diagnosis"):
        if name in sent:
            setattr(invoice, name, getattr(body, name))
    if body.confidential is not None:
        invoice.confidential = body.confidential
    return customer


def _apply_notes(invoice: Invoice, body: CreateInvoiceRequest, sent: set[str]) -> None:
    for name in ("memo", "footer"):
        if name in sent:
            setattr(invoice, name, getattr(body, name))


# Current value of each scalar field, as a request would send it: a resent unchanged value is no change.
def _current(invoice: Invoice, customer: Customer) -> dict[str, Any]:
    def text(v: Any) -> str | None:
        return None if v is None else str(v)

    return {"patient_id": text(invoice.patient_id), "appointment_id": text(invoice.appointment_id),
            "practitioner_id": text(invoice.practitioner_id), "customer_stripe_id": customer.stripe_id,
            "service_date": text(invoice.service_date), "due_date": text(invoice.due_date),
            "collection_method": invoice.collection_method, "payment_source": invoice.payment_source,
            "insurer": invoice.insurer, "authentication_code": invoice.authentication_code,
            "membership_number": invoice.membership_number, "diagnosis": invoice.diagnosis,
            "confidential": invoice.confidential, "memo": invoice.memo, "footer": invoice.footer,
            "coupons": [d["id"] for d in invoice.discounts or []]}


# Sent as null, these mean "leave as is" (a reference, a list, a flag); other fields sent as null clear.
NULL_KEEPS = frozenset({"patient_id", "appointment_id", "practitioner_id", "customer_stripe_id", ITEMS, "coupons",
                        "collection_method", "confidential"})


def _changed(invoice: Invoice, customer: Customer, body: UpdateInvoiceRequest) -> set[str]:
    current = _current(invoice, customer)
    # set_default_customer is about the patient, not the invoice: honoured in any status (update_invoice).
    fields = body.model_fields_set - {"issuer_id", "mode", "status", "set_default_customer"}
    changed = set()
    for name in fields:
        value = getattr(body, name)
        if value is None and name in NULL_KEEPS:
            continue
        if name == "coupons":
            value = [c.id for c in value or []]
        elif name in ("service_date", "due_date") and value:
            value = str(parse_day(value, name))
        if name == ITEMS or value != current.get(name):
            changed.add(name)
    return changed


async def update_invoice(session: AsyncSession, principal: Principal, raw_id: str, body: UpdateInvoiceRequest,
                         now: datetime) -> Invoice:
    editor = await _admin(session, principal, body.issuer_id)
    invoice = await get_invoice(session, principal, raw_id, for_update=True)
    customer = await session.get_one(Customer, invoice.customer_id)
    changed = _changed(invoice, customer, body)
    check_editable(invoice.status, changed)
    target = InvoiceStatus(body.status) if body.status else None
    if body.mode == "finalize" and invoice.status == InvoiceStatus.DRAFT:
        target = InvoiceStatus.OPEN
    if body.mode == "draft" and invoice.status != InvoiceStatus.DRAFT:
        raise Conflict(f"A {invoice.status} invoice cannot go back to draft", code="invalid_status_transition",
                       expected="mode draft only while the invoice is a draft", path=["mode"])
    if changed - {"memo", "footer", "coupons"}:
        patient_id = body.patient_id if "patient_id" in changed else None
        appointment_id = body.appointment_id if "appointment_id" in changed else None
        if patient_id is None and appointment_id is None:
            patient_id = str(invoice.patient_id or "")
            appointment_id = str(invoice.appointment_id) if invoice.appointment_id and "patient_id" not in changed \
                else None
        subject = await _subject(session, principal, patient_id, appointment_id)
        customer = await _apply_bill(session, principal, invoice, body, changed, subject, now)
    if body.set_default_customer and invoice.patient_id is not None:
        await service.set_default(session, principal, invoice.patient_id, customer, now)
    _apply_notes(invoice, body, changed)
    if ITEMS in changed:
        keep = {line.stripe_id: line for line in invoice.lines}
        invoice.lines = await _lines(session, principal, body.invoice_items_attributes or [], keep, now)
    if {ITEMS, "coupons"} & changed:
        codes = [c.id for c in body.coupons or []] if "coupons" in changed else [
            d["id"] for d in invoice.discounts or []]
        already = {d["id"] for d in invoice.discounts or []}
        terms = await _coupon_terms(session, principal, codes, only_valid=not set(codes) <= already)
        _price(invoice, terms)
    before = invoice.status
    if target is not None and target != invoice.status:
        if target is InvoiceStatus.OPEN:
            await _finalize(session, invoice, customer, now)
        else:
            await _move(session, invoice, target, customer, now)
    invoice.updated_by_id, invoice.updated_at = editor.id, now
    await session.flush()
    await audit.record(session, principal, "invoice.updated", "Invoice", invoice.id,
                       details={"fields": sorted(changed), "from": before, "to": invoice.status}, now=now)
    return invoice
