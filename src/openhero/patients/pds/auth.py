"""NHS "signed JWT" application-restricted access: a client assertion for an access token.

The application signs a short-lived JWT (RS512, ``kid`` of the key registered with NHS, ``iss`` =
``sub`` = API key, ``aud`` = token URL, fresh ``jti``) and POSTs it to the OAuth 2.0 token endpoint
(client credentials grant). The access token is cached per process until shortly before it
expires; every PDS request carries it as a bearer token. One ``PdsTokenSource`` exists per
configuration (``token_source_for``), so adapters built per request still share the token, and
concurrent requests wait for one refresh instead of each asking for a token.

Failures never carry the assertion or the key: the reason (status, OAuth ``error`` and
``error_description``) goes to the log, the caller gets ``PdsUnavailable`` (503: the endpoint is
down, slow or rate limiting) or ``PdsBadResponse`` (502: it refused us or answered nonsense).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from openhero.patients.pds.base import PdsBadResponse, PdsUnavailable

log = logging.getLogger("openhero.patients.pds")

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# NHS refuses assertions expiring more than 5 minutes ahead; 4 leaves room for clock drift.
ASSERTION_LIFETIME_SECONDS = 240
# Refresh this long before the token expires (capped at a tenth of its lifetime for short tokens).
REFRESH_MARGIN_SECONDS = 30.0


class PdsTokenSource:
    def __init__(
        self, *, token_url: str, api_key: str, private_key_file: str, key_id: str, missing: tuple[str, ...] = ()
    ) -> None:
        self.token_url = token_url
        self._missing = missing
        self._api_key = api_key
        self._key_file = private_key_file
        self._key_id = key_id
        self._key: RSAPrivateKey | None = None
        self._token: str | None = None
        self._refresh_at = 0.0  # time.monotonic() after which the token is refreshed
        # One lock per event loop: a process may run several loops over its life (CLI, tests).
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    def _private_key(self) -> RSAPrivateKey:
        if self._missing:
            log.error("PDS token settings incomplete: %s not set", ", ".join(self._missing))
            raise PdsUnavailable("PDS access is misconfigured: " + ", ".join(self._missing) + " not set")
        if self._key is None:
            try:
                key = load_pem_private_key(Path(self._key_file).read_bytes(), password=None)
            except (OSError, ValueError, TypeError) as exc:
                log.error("PDS private key %s cannot be loaded: %s", self._key_file, type(exc).__name__)
                raise PdsUnavailable("PDS access is misconfigured: the private key cannot be read") from None
            if not isinstance(key, RSAPrivateKey):
                log.error("PDS private key %s is not an RSA key", self._key_file)
                raise PdsUnavailable("PDS access is misconfigured: the private key is not an RSA key")
            self._key = key
        return self._key

    def client_assertion(self) -> str:
        """A freshly signed client assertion (new ``jti``), valid for four minutes."""
        claims = {
            "iss": self._api_key,
            "sub": self._api_key,
            "aud": self.token_url,
            "jti": str(uuid.uuid4()),
            "exp": int(time.time()) + ASSERTION_LIFETIME_SECONDS,
        }
        headers = {"alg": "RS512", "typ": "JWT", "kid": self._key_id}
        return jwt.encode(claims, self._private_key(), algorithm="RS512", headers=headers)

    def _fresh(self) -> bool:
        return self._token is not None and time.monotonic() < self._refresh_at

    async def token(self, http: httpx.AsyncClient, budget: float) -> str:
        """The cached access token, fetching one first when there is none or it is about to expire."""
        if self._fresh():
            return self._token  # type: ignore[return-value]
        async with self._lock():
            if not self._fresh():  # another request may have refreshed it while we waited
                await self._fetch(http, budget)
            return self._token  # type: ignore[return-value]

    async def refresh(self, http: httpx.AsyncClient, budget: float, rejected: str) -> str:
        """A new token after PDS refused ``rejected``; requests refused together share one refresh."""
        async with self._lock():
            if self._token == rejected or not self._fresh():
                self._token = None
                await self._fetch(http, budget)
            return self._token  # type: ignore[return-value]

    async def _fetch(self, http: httpx.AsyncClient, budget: float) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.client_assertion(),
        }
        try:
            response = await http.post(self.token_url, data=form, timeout=httpx.Timeout(max(budget, 0.1)))
        except httpx.TimeoutException:
            log.warning("PDS token endpoint %s did not answer in time", self.token_url)
            raise PdsUnavailable("the PDS token endpoint did not answer in time") from None
        except httpx.HTTPError as exc:
            log.warning("PDS token endpoint %s could not be reached: %s", self.token_url, type(exc).__name__)
            raise PdsUnavailable("the PDS token endpoint could not be reached") from None
        body = _json_object(response)
        if response.status_code != 200:
            log.error(
                "PDS token endpoint %s answered HTTP %s: %s: %s",
                self.token_url,
                response.status_code,
                body.get("error", "-"),
                body.get("error_description", "-"),
            )
            if response.status_code == 429 or response.status_code >= 500:
                raise PdsUnavailable(f"the PDS token endpoint is unavailable (HTTP {response.status_code})")
            raise PdsBadResponse(
                f"the PDS token endpoint refused our credentials (HTTP {response.status_code}); see the server log"
            )
        token, expires_in = body.get("access_token"), _seconds(body.get("expires_in"))
        if not isinstance(token, str) or not token or expires_in is None:
            log.error("PDS token endpoint %s answered 200 without access_token/expires_in", self.token_url)
            raise PdsBadResponse("the PDS token endpoint answered without an access token")
        self._token = token
        self._refresh_at = time.monotonic() + expires_in - min(REFRESH_MARGIN_SECONDS, expires_in / 10)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _seconds(value: Any) -> float | None:
    """``expires_in`` as NHS sends it (a string such as "599") or as a number."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


_SOURCES: dict[tuple[str, str, str, str], PdsTokenSource] = {}  # a handful at most: one per configuration


def token_source_for(
    *, token_url: str, api_key: str, private_key_file: str, key_id: str, missing: tuple[str, ...] = ()
) -> PdsTokenSource:
    """The process's token source for this configuration (created on first use, then shared)."""
    key = (token_url, api_key, private_key_file, key_id)
    source = _SOURCES.get(key)
    if source is None:
        source = _SOURCES[key] = PdsTokenSource(
            token_url=token_url, api_key=api_key, private_key_file=private_key_file, key_id=key_id, missing=missing
        )
    return source
