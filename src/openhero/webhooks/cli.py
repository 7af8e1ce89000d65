"""``openhero webhooks ...``: the operator's view of deliveries, and replays."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core.schemas import format_timestamp
from openhero.webhooks import service
from openhero.webhooks.models import DeliveryStatus

app = typer.Typer(help="Webhook deliveries: list them, replay one.", no_args_is_help=True)
T = TypeVar("T")


def _in_session(fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from openhero.core.db import Database
    from openhero.settings import get_settings

    async def main() -> T:
        db = Database(get_settings().database_url, pool_size=2)
        try:
            async with db.session() as session:
                result = await fn(session)
                await session.commit()
                return result
        finally:
            await db.dispose()

    return asyncio.run(main())


@app.command("deliveries")
def deliveries(
    status: Annotated[str | None, typer.Option(help=" | ".join(DeliveryStatus.ALL))] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
) -> None:
    """List the newest deliveries (all practice groups), optionally of one status."""
    if status is not None and status not in DeliveryStatus.ALL:
        typer.echo(f"error: status must be one of {', '.join(DeliveryStatus.ALL)}", err=True)
        raise typer.Exit(2)
    rows = _in_session(lambda s: service.operator_deliveries(s, status=status, limit=limit))
    typer.echo("id\twebhook\tgroup\tevent\tstatus\tattempts\tlast_code\tcreated_at\tlast_error")
    for d in rows:
        cells: list[Any] = [
            d.id,
            d.webhook_id,
            d.practice_group_id,
            d.event_type + (" (test)" if d.is_test else ""),
            d.status,
            d.attempts,
            d.last_status_code or "-",
            format_timestamp(d.created_at),
            (d.last_error or "-")[:80],
        ]
        typer.echo("\t".join(str(c) for c in cells))


@app.command("replay")
def replay(delivery_id: int) -> None:
    """Send a delivery again (whatever its state) with a fresh 24-hour retry window."""
    from openhero.core.clock import Clock
    from openhero.core.errors import ApiError

    try:
        delivery = _in_session(lambda s: service.replay(s, delivery_id, now=Clock().now()))
    except ApiError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"delivery {delivery.id} queued again for webhook {delivery.webhook_id}; a worker sends it shortly")


if __name__ == "__main__":
    app()
