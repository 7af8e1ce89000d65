"""Short links a message can carry: the links domain's booking links (``/l/<code>``), then its form
links (``/f/<code>``), named by id (``short_link_id``) and looked up in the caller's practice group."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core.ids import is_id
from openhero.links.models import BookingLink, FormLink
from openhero.links.service import short_link, state_of


@dataclass(frozen=True)
class ShortLinkInfo:
    id: str
    type: str  # booking_link | form_link
    status: str  # the links domain's state: usable, expired, inactive, used_up, locked, orphaned
    url: str


async def resolve(
    session: AsyncSession, practice_group_id: int, raw: str, *, base_url: str, today: date
) -> ShortLinkInfo | None:
    if not is_id(raw):
        return None
    for model, kind, prefix in ((BookingLink, "booking_link", "l"), (FormLink, "form_link", "f")):
        link = (
            await session.execute(
                select(model).where(model.id == int(raw), model.practice_group_id == practice_group_id)
            )
        ).scalar_one_or_none()
        if link is not None:
            return ShortLinkInfo(
                id=raw, type=kind, status=state_of(link, today).value, url=short_link(base_url, prefix, link.code)
            )
    return None
