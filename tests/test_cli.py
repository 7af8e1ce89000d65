"""The `openhero` command as an operator runs it: demo, keys create/rotate/revoke, against a real database."""

import asyncio
import json
import os
import subprocess
import sys

import httpx
import pytest
from click.testing import Result
from typer.testing import CliRunner

from openhero.app import create_app


def openhero_process(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The command as a separate process, exactly as an operator runs it."""
    env = {**os.environ, "OPENHERO_DATABASE_URL": database_url, "OPENHERO_SANDBOX": "1"}
    return subprocess.run([sys.executable, "-m", "openhero.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


async def openhero(database_url: str, *args: str) -> Result:
    """The command in-process (Typer's runner, on a thread of its own so it can run its own event loop)."""
    from openhero.cli import app
    from openhero.settings import get_settings

    def invoke() -> Result:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, list(args), env={"OPENHERO_DATABASE_URL": database_url,
                                                            "OPENHERO_SANDBOX": "1"})
        finally:
            get_settings.cache_clear()

    return await asyncio.to_thread(invoke)


async def test_demo_json_prints_only_json_from_a_real_process(database_url, clean):
    out = openhero_process(database_url, "demo", "--json")
    assert out.returncode == 0, out.stderr
    demo = json.loads(out.stdout)  # stdout holds the JSON document and nothing else
    assert set(demo) == {"practice_group_id", "api_key"} and demo["api_key"].startswith("ohk_")


async def test_demo_and_key_lifecycle(database_url, clean, settings, clock):
    out = await openhero(database_url, "demo", "--json")
    assert out.exit_code == 0, out.output
    demo = json.loads(out.stdout)
    again = json.loads((await openhero(database_url, "demo", "--json")).stdout)
    assert again["practice_group_id"] == demo["practice_group_id"] and again["api_key"] != demo["api_key"]

    created = await openhero(database_url, "keys", "create", "--practice-group", demo["practice_group_id"],
                       "--scopes", "messaging,booking", "--json")
    assert created.exit_code == 0, created.output
    key = json.loads(created.stdout)
    assert key["scopes"] == ["booking", "messaging"] and key["api_key"].startswith("ohk_")
    bad = await openhero(database_url, "keys", "create", "--practice-group", demo["practice_group_id"],
                         "--scopes", "admin")
    assert bad.exit_code == 2 and "unknown scopes" in bad.stderr

    app = create_app(settings, clock=clock, db=clean)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        async def me(raw: str) -> int:
            r = await c.get("/v1/me", headers={"x-api-key": raw, "x-practice-group-id": demo["practice_group_id"]})
            return r.status_code

        assert await me(demo["api_key"]) == 200
        assert (await c.get("/v1/locations", headers={"x-api-key": key["api_key"],
                                                      "x-practice-group-id": demo["practice_group_id"]})).json()[
            "count"] == 2
        rotated = json.loads((await openhero(database_url, "keys", "rotate", key["id"], "--json")).stdout)
        assert await me(key["api_key"]) == 401 and await me(rotated["api_key"]) == 200
        assert (await openhero(database_url, "keys", "revoke", rotated["id"])).exit_code == 0
        assert await me(rotated["api_key"]) == 401
        assert await me(demo["api_key"]) == 200


async def test_demo_data_is_realistic(database_url, clean, settings, clock):
    demo = json.loads((await openhero(database_url, "demo", "--json")).stdout)
    headers = {"x-api-key": demo["api_key"], "x-practice-group-id": demo["practice_group_id"]}
    app = create_app(settings, clock=clock, db=clean)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers) as c:
        assert (await c.get("/v1/me")).json()["name"] == "Oakwood Surgery"
        assert (await c.get("/v1/locations")).json()["count"] == 2
        practitioners = (await c.get("/v1/practitioners")).json()["data"]
        assert len(practitioners) == 4 and len({p["practitioner_type"] for p in practitioners}) >= 3
        admins = (await c.get("/v1/admins")).json()["data"]
        roles = {a["first_name"]: a["external_prescriber_id"] for a in admins}
        # Practice manager, receptionist and care navigator, plus the clinical pharmacist who prescribes.
        assert {"Sarah", "Daniel", "Aisha"} <= set(roles) and len(admins) == 4
        assert sum(1 for v in roles.values() if v) == 1
        types = (await c.get("/v1/appointment_types")).json()["data"]
        assert len(types) == 5 and {t["sector"] for t in types} == {"nhs", "paid"}
        assert any(t["video"] for t in types) and any(t["telephone"] for t in types)
        tasks = await c.get("/v2/tasks?page_size=100")
        assert 25 <= tasks.json()["count"] <= 50  # about 30 inbox tasks, plus those the episodes demo files
        statuses = {t["status"] for t in tasks.json()["data"]}
        assert statuses == {"open", "closed", "in_progress"}
        # The sister practice is in the network; the outside one is not.
        groups = await c.get("/v1/me", headers={"x-practice-group-id": str(int(demo["practice_group_id"]) + 1)})
        assert groups.status_code == 200 and groups.json()["name"] == "Park Lane Medical Centre"
        outside = await c.get("/v1/me", headers={"x-practice-group-id": str(int(demo["practice_group_id"]) + 2)})
        assert outside.status_code == 403


async def test_demo_wires_every_domain(database_url, clean, settings, clock):
    """The demo seeds patients, a two-week schedule, forms (the travel type asks its questionnaire),
    and message templates, so every part of the API has something to show."""
    demo = json.loads((await openhero(database_url, "demo", "--json")).stdout)
    headers = {"x-api-key": demo["api_key"], "x-practice-group-id": demo["practice_group_id"]}
    app = create_app(settings, clock=clock, db=clean)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers) as c:
        assert (await c.get("/v1/patients")).json()["count"] >= 15
        types = (await c.get("/v1/appointment_types")).json()["data"]
        assert all(t["slot_count"] > 0 and t["next_available_at"] for t in types)
        travel = next(t for t in types if t["name"].startswith("Private Travel"))
        form = await c.get(f"/v1/forms/{travel['form_id']}")
        assert form.status_code == 200 and "travel" in form.json()["title"].lower()
        assert (await c.get("/v1/slots/count")).status_code == 200
        assert (await c.get("/v1/templates")).json()["count"] >= 3


# --- configuration errors and the secret at every entry point (real processes) ---

def bare_process(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``openhero ...`` with only the given OPENHERO_* settings (none inherited from this shell)."""
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHERO_")}
    return subprocess.run([sys.executable, "-m", "openhero.cli", *args], capture_output=True, text=True,
                          env={**clean_env, **env}, timeout=120, check=False, cwd=os.path.dirname(__file__))


def assert_one_line_refusal(out: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("openhero: "), out.stderr
    assert "Traceback" not in out.stderr and all(n in lines[0] for n in needles), lines[0]


async def test_published_secret_is_refused_outside_sandbox_by_every_command_that_uses_it(database_url, clean):
    for command in (["serve", "--no-migrate", "--port", "9"], ["worker", "--once"],
                    ["patients", "trace", "9000000009", "1980-01-01"]):
        out = bare_process(*command, OPENHERO_DATABASE_URL=database_url)
        assert_one_line_refusal(out, "OPENHERO_SECRET_KEY", "published development secret")
    # A command that never touches the secret still runs.
    assert bare_process("keys", "list", OPENHERO_DATABASE_URL=database_url).returncode == 0
    # With a real secret the worker runs.
    out = bare_process("worker", "--once", OPENHERO_DATABASE_URL=database_url, OPENHERO_SECRET_KEY="s" * 48)
    assert out.returncode == 0, out.stderr


async def test_configuration_errors_are_one_line(tmp_path):
    secret = {"OPENHERO_SECRET_KEY": "s" * 48}
    assert_one_line_refusal(bare_process("worker", "--once", OPENHERO_DATABASE_URL="mysqlx://nobody@host/db",
                                         **secret), "OPENHERO_DATABASE_URL")
    assert_one_line_refusal(bare_process("db", "upgrade", OPENHERO_DATABASE_URL="postgresql+asyncpg://x@127.0.0.1:1/x",
                                         **secret), "OPENHERO_DATABASE_URL", "127.0.0.1")
    assert_one_line_refusal(bare_process("keys", "list",
                                         OPENHERO_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db",
                                         **secret), "OPENHERO_DATABASE_URL")
    assert_one_line_refusal(bare_process("worker", "--once", OPENHERO_SMTP_CA_FILE=str(tmp_path / "nope.pem"),
                                         **secret), "OPENHERO_SMTP_CA_FILE", "nope.pem")
    assert_one_line_refusal(bare_process("worker", "--once", OPENHERO_SMS_PROVIDER="twilio", **secret),
                            "OPENHERO_SMS_PROVIDER")
    assert_one_line_refusal(bare_process("worker", "--once", OPENHERO_SMTP_SECURITY="none",
                                         OPENHERO_SMTP_USERNAME="surgery@nhs.net", **secret),
                            "password in clear")


async def test_sandbox_secret_is_random_per_database_and_shared_by_api_and_worker(database_url, clean, clock):
    from datetime import timedelta

    from sqlalchemy import select

    from openhero.core import tokens
    from openhero.core.auth import ACCESS_TOKEN_PURPOSE
    from openhero.core.instance import SANDBOX_SECRET, InstanceValue
    from openhero.settings import DEFAULT_SECRET, Settings
    from tests.builders import make_tenant

    async def stored() -> list[str]:
        async with clean.session(write=False) as session:
            return list((await session.execute(select(InstanceValue.value)
                                               .where(InstanceValue.name == SANDBOX_SECRET))).scalars())

    assert await stored() == []
    # The first process to start (a worker here) creates it; the next one reuses it.
    for _ in range(2):
        out = bare_process("worker", "--once", OPENHERO_DATABASE_URL=database_url, OPENHERO_SANDBOX="1")
        assert out.returncode == 0, out.stderr
    [secret] = await stored()
    assert secret != DEFAULT_SECRET and len(secret) >= 48

    # An API process on the same database signs with the same secret, never the published one.
    tenant = await make_tenant(clean)
    app = create_app(Settings(database_url=database_url, sandbox=True, _env_file=None),  # type: ignore[call-arg]
                     clock=clock, db=clean)
    assert app.state.settings.secret_key not in (DEFAULT_SECRET, secret)  # a stand-in until startup
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert app.state.settings.secret_key == secret
        r = await c.post("/v1/access_token", headers=tenant.headers)
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
    assert tokens.verify(secret, token, purpose=ACCESS_TOKEN_PURPOSE, now=clock.now())["sub"] == str(tenant.key.id)
    with pytest.raises(tokens.TokenError, match="invalid token"):
        tokens.verify(DEFAULT_SECRET, token, purpose=ACCESS_TOKEN_PURPOSE, now=clock.now() + timedelta(seconds=1))
