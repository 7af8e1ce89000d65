"""Short-lived signed tokens (PyJWT, HS256 with OPENHERO_SECRET_KEY).

Elements access tokens carry iss, sub (the API key id), practice_group_id, scopes, iat and exp.
Other domains mint purpose-bound tokens (merge tokens, link sessions) with ``purpose``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import jwt

ISSUER = "openhero"


class TokenError(Exception):
    pass


def mint(secret: str, *, purpose: str, now: datetime, ttl: timedelta, **claims: Any) -> str:
    payload = {"iss": ISSUER, "purpose": purpose, "iat": int(now.timestamp()),
               "exp": int((now + ttl).timestamp()), **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


def verify(secret: str, token: str, *, purpose: str, now: datetime) -> dict[str, Any]:
    """Decode and check signature, issuer, purpose and expiry against the injected clock (never the wall
    clock: PyJWT's own exp/iat checks are off, so a sandbox or test clock set ahead works too)."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], issuer=ISSUER,
                            options={"verify_exp": False, "verify_iat": False,
                                                                   "require": ["exp", "iat", "iss"]})
    except jwt.PyJWTError as exc:
        raise TokenError(f"invalid token: {exc}") from None
    if claims.get("purpose") != purpose:
        raise TokenError("token is for another purpose")
    if int(claims["exp"]) <= int(now.timestamp()):
        raise TokenError("token expired")
    return claims
