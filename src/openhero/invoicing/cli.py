"""`openhero invoicing ...`: what a practice sets up outside Hero's API (coupons) and the demo ledger."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import typer

app = typer.Typer(help="Invoicing: coupons and the demo ledger.", no_args_is_help=True)


def _with_session(fn: Any) -> Any:
    from openhero.core.db import Database
    from openhero.settings import get_settings

    async def run() -> Any:
        db = Database(get_settings().database_url, pool_size=2)
        try:
            async with db.session() as session:
                result = await fn(session)
                await session.commit()
                return result
        finally:
            await db.dispose()

    return asyncio.run(run())


@app.command()
def coupon(
    group: Annotated[int, typer.Option(help="practice group id")],
    code: Annotated[str, typer.Option(help="the coupon id partners send, e.g. TRAVEL10")],
    name: Annotated[str, typer.Option(help="shown on invoices")],
    percent_off: Annotated[float | None, typer.Option(help="percentage off")] = None,
    amount_off: Annotated[int | None, typer.Option(help="pence off")] = None,
    product: Annotated[list[str] | None, typer.Option(help="prod_… it is limited to (repeat)")] = None,
) -> None:
    """Create a coupon for a practice group (Hero's API only lists coupons)."""
    from openhero.invoicing import service

    async def work(session: Any) -> dict[str, Any]:
        made = await service.add_coupon(session, group, code=code, name=name,
                                        percent_off=Decimal(str(percent_off)) if percent_off is not None else None,
                                        amount_off=amount_off, products=product or None, now=datetime.now(UTC))
        return {"id": made.stripe_id, "name": made.name}

    try:
        typer.echo(json.dumps(_with_session(work)))
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def demo(group: Annotated[int, typer.Option(help="practice group id (with paid types, admins, patients)")]
         ) -> None:
    """Seed the demo clinic's products, coupons, an employer customer and a few invoices (once)."""
    from openhero.invoicing.demo import seed_demo_invoicing

    async def work(session: Any) -> dict[str, Any]:
        return await seed_demo_invoicing(session, group, datetime.now(UTC))

    typer.echo(json.dumps(_with_session(work)))
