"""Patients fixtures: the fake PDS (FHIR server + NHS token endpoint, one per session), an RSA key
registered with it, and an app wired to it with application-restricted access."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.patients.fake_pds import FakePds

# Generous for ordinary answers (a loaded CI box); the timeout test installs a short one itself.
TEST_PDS_TIMEOUT = 5.0
API_KEY = "test-app-api-key-0123456789"
KEY_ID = "openhero-test-1"


@pytest.fixture(scope="session")
def pds_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def fake_pds(pds_private_key: rsa.RSAPrivateKey) -> Iterator[FakePds]:
    server = FakePds()
    server.register_app(api_key=API_KEY, key_id=KEY_ID, public_key=pds_private_key.public_key())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def pds(fake_pds: FakePds) -> Iterator[FakePds]:
    fake_pds.reset()
    yield fake_pds
    fake_pds.reset()


@pytest.fixture
def pds_key_file(tmp_path: Path, pds_private_key: rsa.RSAPrivateKey) -> Path:
    """The private key as an operator would hold it: a PEM file (a new path per test, so each test
    starts with an empty token cache)."""
    path = tmp_path / f"{KEY_ID}.pem"
    path.write_bytes(
        pds_private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


@pytest.fixture
def pds_settings(settings, pds: FakePds, pds_key_file: Path):  # type: ignore[no-untyped-def]
    """Production-style PDS settings against the fake."""
    return settings.model_copy(
        update={
            "pds_adapter": "pds_fhir",
            "pds_base_url": pds.url,
            "pds_timeout_seconds": TEST_PDS_TIMEOUT,
            "pds_token_url": pds.token_url,
            "pds_api_key": API_KEY,
            "pds_private_key_file": str(pds_key_file),
            "pds_key_id": KEY_ID,
        }
    )


@pytest.fixture
def fhir_app(app, pds_settings):  # type: ignore[no-untyped-def]
    """The app using the PDS FHIR adapter, application-restricted, against the fake server."""
    app.state.settings = pds_settings
    return app
