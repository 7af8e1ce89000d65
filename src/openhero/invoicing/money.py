"""Invoice arithmetic in pence, as Stripe does it: line amounts, then coupons in order, each against what
is left of the lines it applies to.

- percent_off: each eligible line loses ``round_half_up(remaining × percent / 100)``;
- amount_off: taken from the eligible lines in order until used up or the lines reach zero;
- a coupon with ``applies_to.products`` only touches lines of those products;
- totals never go below zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal


@dataclass
class Line:
    product_id: str | None
    quantity: int
    unit_amount: int
    discount: int = 0

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_amount

    @property
    def remaining(self) -> int:
        return self.amount - self.discount


@dataclass(frozen=True)
class CouponTerms:
    id: str
    name: str
    percent_off: Decimal | None
    amount_off: int | None
    products: frozenset[str] | None = None  # None: applies to every line


@dataclass
class Totals:
    subtotal: int
    total_discount: int
    total: int
    discounts: list[dict[str, object]] = field(default_factory=list)


def _applies(coupon: CouponTerms, line: Line) -> bool:
    return coupon.products is None or (line.product_id is not None and line.product_id in coupon.products)


def compute(lines: list[Line], coupons: list[CouponTerms]) -> Totals:
    """Fill each line's ``discount`` and return the invoice totals."""
    for line in lines:
        line.discount = 0
    applied: list[dict[str, object]] = []
    for coupon in coupons:
        taken = 0
        eligible = [line for line in lines if _applies(coupon, line)]
        if coupon.percent_off is not None:
            for line in eligible:
                cut = int((Decimal(line.remaining) * coupon.percent_off / 100).quantize(Decimal(1), ROUND_HALF_UP))
                cut = min(cut, line.remaining)
                line.discount += cut
                taken += cut
        elif coupon.amount_off is not None:
            left = coupon.amount_off
            for line in eligible:
                cut = min(left, line.remaining)
                line.discount += cut
                taken += cut
                left -= cut
        applied.append({"id": coupon.id, "name": coupon.name, "amount": taken})
    subtotal = sum(line.amount for line in lines)
    discount = sum(line.discount for line in lines)
    return Totals(subtotal=subtotal, total_discount=discount, total=subtotal - discount, discounts=applied)
