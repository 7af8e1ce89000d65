"""`openhero booking ...`: slot generation from schedules."""

from __future__ import annotations

import asyncio

import typer

from openhero.booking.demo import seed_demo_schedule
from openhero.core.clock import Clock
from openhero.core.db import Database
from openhero.settings import get_settings

app = typer.Typer(help="Booking: schedules and slots.", no_args_is_help=True)


@app.command("generate-slots")
def generate_slots_command(
    practice_group: int = typer.Option(..., "--practice-group", help="Practice group id"),
    days: int = typer.Option(14, "--days", min=1, max=730, help="How many days ahead"),
) -> None:
    """Generate free slots from the group's schedules (a GP-surgery pattern is created for practitioners
    without schedules). Safe to re-run: existing slots are kept, none are duplicated."""

    async def run() -> int:
        db = Database(get_settings().database_url)
        try:
            async with db.session() as session:
                made = await seed_demo_schedule(session, practice_group, Clock().now(), days)
                await session.commit()
                return made
        finally:
            await db.dispose()

    typer.echo(f"created {asyncio.run(run())} slots for practice group {practice_group} ({days} days ahead)")
