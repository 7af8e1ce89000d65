"""Invoice statuses as Stripe has them, and what each allows: tables, not scattered ifs.

draft → open (finalize) → paid | void | uncollectible; uncollectible → paid | void. Paid and void are
final. A draft is never voided (Stripe deletes drafts instead).
"""

from __future__ import annotations

from enum import StrEnum

from openhero.core.errors import Conflict


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


S = InvoiceStatus
TRANSITIONS: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    S.DRAFT: frozenset({S.OPEN}),
    S.OPEN: frozenset({S.PAID, S.VOID, S.UNCOLLECTIBLE}),
    S.UNCOLLECTIBLE: frozenset({S.PAID, S.VOID}),
    S.PAID: frozenset(),
    S.VOID: frozenset(),
}

# Request fields that describe the bill itself (who, what, when, how it is collected).
BILL_FIELDS = frozenset({
    "patient_id", "appointment_id", "practitioner_id", "service_date", "customer_stripe_id", "due_date",
    "collection_method", "payment_source", "insurer",
    "authentication_code", "membership_number", "diagnosis", "confidential", "invoice_items_attributes",
})
# Which request fields may change in each status. Hero: "drafts are fully editable, finalized invoices
# only in memo, footer and coupons". openhero: coupons stop changing once money has moved or the
# invoice is void (paid, void, uncollectible), because they would rewrite amount_due after the fact.
EDITABLE: dict[InvoiceStatus, frozenset[str]] = {
    S.DRAFT: BILL_FIELDS | {"memo", "footer", "coupons"},
    S.OPEN: frozenset({"memo", "footer", "coupons"}),
    S.UNCOLLECTIBLE: frozenset({"memo", "footer"}),
    S.PAID: frozenset({"memo", "footer"}),
    S.VOID: frozenset({"memo", "footer"}),
}


def check_transition(current: str, target: str) -> InvoiceStatus:
    """The target status if ``current → target`` is allowed, else 409."""
    here, there = InvoiceStatus(current), InvoiceStatus(target)
    if there not in TRANSITIONS[here]:
        allowed = ", ".join(sorted(TRANSITIONS[here])) or "none (final)"
        raise Conflict(f"An invoice that is {here} cannot become {there}", code="invalid_status_transition",
                       expected=f"a status reachable from {here}: {allowed}", path=["status"])
    return there


def check_editable(current: str, fields: set[str]) -> None:
    """409 naming the first field that cannot change in the invoice's status."""
    refused = sorted(fields - EDITABLE[InvoiceStatus(current)])
    if refused:
        raise Conflict(f"{refused[0]} cannot change on a {current} invoice", code="invoice_not_editable",
                       expected=f"only {', '.join(sorted(EDITABLE[InvoiceStatus(current)]))} on a {current} "
                                "invoice", path=[refused[0]])
