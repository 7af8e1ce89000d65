"""``openhero messaging ...``: look at what the sandbox provider 'sent'."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from sqlalchemy import select

from openhero.core.db import Database
from openhero.messaging.models import SandboxOutboxEntry
from openhero.settings import get_settings

app = typer.Typer(help="Patient messaging tools.", no_args_is_help=True)


async def _outbox(limit: int, practice_group_id: int | None, message_id: int | None) -> list[SandboxOutboxEntry]:
    db = Database(get_settings().database_url, pool_size=1)
    try:
        async with db.session(write=False) as session:
            stmt = select(SandboxOutboxEntry).order_by(SandboxOutboxEntry.id.desc()).limit(limit)
            if practice_group_id is not None:
                stmt = stmt.where(SandboxOutboxEntry.practice_group_id == practice_group_id)
            if message_id is not None:
                stmt = stmt.where(SandboxOutboxEntry.message_id == message_id)
            return list((await session.execute(stmt)).scalars())
    finally:
        await db.dispose()


@app.command()
def outbox(
    limit: Annotated[int, typer.Option(help="How many entries, newest first.")] = 20,
    practice_group_id: Annotated[int | None, typer.Option("--practice-group-id", "-g")] = None,
    message_id: Annotated[int | None, typer.Option("--message-id", "-m")] = None,
    full: Annotated[bool, typer.Option(help="Print whole message bodies.")] = False,
) -> None:
    """Messages recorded by the sandbox provider (SMS, email, NHS App, Hero), newest first."""
    entries = asyncio.run(_outbox(limit, practice_group_id, message_id))
    if not entries:
        typer.echo("The sandbox outbox is empty.")
        return
    for e in entries:
        body = e.body if full else (e.body[:70] + "…" if len(e.body) > 70 else e.body).replace("\n", " ")
        outcome = e.outcome + (f" ({e.detail})" if e.detail else "")
        typer.echo(
            f"{e.created_at:%Y-%m-%d %H:%M:%S}  group {e.practice_group_id}  message {e.message_id}  "
            f"{e.channel:<7} {e.recipient or '-':<28} {outcome}"
        )
        if e.subject:
            typer.echo(f"    Subject: {e.subject}")
        typer.echo(f"    {body}")
