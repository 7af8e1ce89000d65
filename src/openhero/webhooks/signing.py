"""Signing keys at rest and the delivery signature.

At rest: a subscription's ``signing_key`` is stored as a Fernet token (AES-128-CBC + HMAC-SHA256)
under a key derived from ``OPENHERO_SECRET_KEY`` with HKDF-SHA256, so a database dump alone does not
reveal partners' keys. The API only ever shows a hint (``****`` + the last four characters of keys of
16 characters or more).

On the wire: ``X-Herohealth-Signature`` = lowercase hex HMAC-SHA256(signing_key, f"{timestamp}.{body}")
where ``timestamp`` is ``X-Herohealth-Timestamp`` (unix seconds, decimal) and ``body`` the raw bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_HKDF_INFO = b"openhero webhook signing keys v1"


@lru_cache(maxsize=8)
def _fernet(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_key(secret_key: str, signing_key: str) -> str:
    return _fernet(secret_key).encrypt(signing_key.encode()).decode("ascii")


@lru_cache(maxsize=4096)
def decrypt_key(secret_key: str, token: str) -> bytes:
    """The raw signing key. Cached: the same token is decrypted for every delivery of a subscription."""
    try:
        return _fernet(secret_key).decrypt(token.encode("ascii"))
    except InvalidToken as exc:  # OPENHERO_SECRET_KEY changed since the key was stored
        raise ValueError("signing key cannot be decrypted with the current OPENHERO_SECRET_KEY") from exc


def key_hint(signing_key: str) -> str:
    return "****" + signing_key[-4:] if len(signing_key) >= 16 else "****"


def sign(key: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
