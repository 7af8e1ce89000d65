"""The demo clinic's invoicing seeds through the real service and only once."""

from __future__ import annotations

from sqlalchemy import select

from openhero.invoicing.demo import seed_demo_invoicing
from openhero.invoicing.models import Coupon, Invoice
from openhero.practice.demo import seed_demo


async def test_demo_invoicing(clean, clock):
    async with clean.session() as s:
        ids = await seed_demo(s, clock.now())  # the demo seeder runs seed_demo_invoicing for each practice
        again = await seed_demo_invoicing(s, ids.practice_group_id, clock.now())
        await s.commit()
        rows = (await s.execute(select(Invoice).where(Invoice.practice_group_id == ids.practice_group_id)
                                .order_by(Invoice.id))).scalars().all()
        coupons = (await s.execute(select(Coupon).where(Coupon.practice_group_id == ids.practice_group_id)
                                   )).scalars().all()
    assert again == {} and len(coupons) == 3
    assert len(rows) >= 3
    travel = rows[0]
    assert travel.status == "open" and travel.total_discount > 0 and travel.amount_due == travel.total
    assert rows[1].status == "paid" and rows[2].status == "draft" and rows[2].confidential
