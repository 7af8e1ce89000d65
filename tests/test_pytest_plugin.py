"""The pytest plugin partners install with openhero: a partner's own test file, run by pytest in a subprocess."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

PARTNER_TESTS = '''
import time

SIGNING_KEY = "whsec_partner_0123456789abcdef"


def test_calls_the_api_and_receives_a_signed_webhook(openhero_sandbox):
    sandbox = openhero_sandbox
    me = sandbox.client.get("/v1/me")
    assert me.status_code == 200 and me.json()["id"] == sandbox.practice_group_id
    receiver = sandbox.webhook_receiver(signing_key=SIGNING_KEY)
    hook = sandbox.client.post("/v1/webhooks", json={"url": receiver.url, "event_type": "appointment.confirmed",
                                                    "signing_key": SIGNING_KEY})
    assert hook.status_code in (200, 201), hook.text
    assert sandbox.client.post(f"/v1/webhooks/{hook.json()['id']}/test").status_code in (200, 201, 202)
    [delivery] = receiver.wait_for(1, timeout=20)
    assert delivery.signature_valid is True
    assert delivery.headers["x-openhero-test"] == "true"


def test_each_test_gets_a_fresh_database(openhero_sandbox):
    assert openhero_sandbox.client.get("/v1/webhooks").json()["count"] == 0


def test_moving_the_clock_expires_access_tokens(openhero_sandbox):
    token = openhero_sandbox.client.post("/v1/access_token").json()["access_token"]
    auth = {"authorization": f"Bearer {token}", "x-practice-group-id": openhero_sandbox.practice_group_id}
    import httpx

    assert httpx.get(openhero_sandbox.base_url + "/v1/me", headers=auth).status_code == 200
    openhero_sandbox.advance(31 * 60)
    assert httpx.get(openhero_sandbox.base_url + "/v1/me", headers=auth).status_code == 401


def test_faults_make_pds_unavailable(openhero_sandbox):
    body = {"nhs_number": "9000000009", "dob": "2010-10-22"}
    openhero_sandbox.fault("pds", "unavailable")
    assert openhero_sandbox.client.post("/v1/patients/register_pds", json=body).status_code == 503
    openhero_sandbox.clear_faults()
    assert openhero_sandbox.client.post("/v1/patients/register_pds", json=body).status_code == 200


def test_session_sandbox_keeps_state_a(openhero_sandbox_session):
    r = openhero_sandbox_session.client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/x",
                                                                  "event_type": "appointment.confirmed"})
    assert r.status_code in (200, 201)


def test_session_sandbox_keeps_state_b(openhero_sandbox_session):
    assert openhero_sandbox_session.client.get("/v1/webhooks").json()["count"] == 1
'''


def test_plugin_is_registered_as_a_pytest11_entry_point():
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("openhero") == "openhero.testing.pytest_plugin"


def test_a_partner_test_file_runs_against_the_sandbox(tmp_path: Path):
    (tmp_path / "test_partner.py").write_text(textwrap.dedent(PARTNER_TESTS))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_partner.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "6 passed" in result.stdout
