"""Heidi (AI scribe) partner tokens.

openhero is its own Heidi sandbox: instead of asking Heidi's API for a session token it mints a
short-lived HS256 JWT (purpose ``heidi``) with the server's secret, bound to the calling API key and
the practice group it acts for. ``verify_heidi_token`` is what a local Heidi stand-in checks.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from openhero.core import tokens
from openhero.core.auth import Principal

PURPOSE = "heidi"
TTL = timedelta(minutes=15)


def mint_heidi_token(secret: str, principal: Principal, now: datetime) -> tuple[str, datetime]:
    # exp is whole seconds in the JWT, so the reported expiry is truncated the same way.
    expires = (now + TTL).replace(microsecond=0)
    token = tokens.mint(secret, purpose=PURPOSE, now=now, ttl=expires - now, sub=str(principal.key_id),
                        practice_group_id=str(principal.practice_group_id), partner="heidi")
    return token, expires


def verify_heidi_token(secret: str, token: str, now: datetime) -> dict[str, Any]:
    return tokens.verify(secret, token, purpose=PURPOSE, now=now)
