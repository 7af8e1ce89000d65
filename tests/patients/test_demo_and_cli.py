"""The demo hook seeds patients with linked and candidate EHR records; the CLI lists the sandbox."""

import json

from typer.testing import CliRunner

from openhero.cli import app as openhero_cli
from openhero.patients.demo import seed_demo_patients


async def test_demo_patients_are_idempotent_and_show_linked_and_candidate_records(api, clean, tenant, clock):
    async with clean.session() as s:
        first = await seed_demo_patients(s, tenant.id, clock.now())
        again = await seed_demo_patients(s, tenant.id, clock.now())
        await s.commit()
    assert len(first) == 22 and [p.id for p in again] == [p.id for p in first[:21]]
    assert (await api.get("/v1/patients")).json()["count"] == 22
    linked = first[1]
    files = (await api.get(f"/v1/patients/{linked.id}/attachments")).json()
    assert linked.ehr_registered and files["count"] == 1
    jane = first[0]
    candidates = (await api.get(f"/v1/patients/{jane.id}/ehr/candidates")).json()["data"]
    assert [c["match"] for c in candidates] == ["nhs_number"] and candidates[0]["hero_id"] is None
    duplicate = first[-1]
    r = await api.post(f"/v1/patients/{duplicate.id}/merge/preview", json={"patient_id": str(linked.id)})
    assert r.status_code == 200 and r.json()["kept_patient_id"] == str(linked.id)


def test_cli_lists_every_sandbox_outcome():
    result = CliRunner().invoke(openhero_cli, ["patients", "sandbox-patients", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    by_number = {r["nhs_number"]: r["outcome"] for r in rows}
    assert by_number["9000000017"].startswith("identity check")
    assert by_number["9990000220"].startswith("superseded")
    assert len(rows) == 26


def test_cli_trace_uses_the_configured_adapter(monkeypatch):
    from openhero.settings import get_settings

    monkeypatch.setenv("OPENHERO_SECRET_KEY", "trace-test-secret-" + "x" * 32)  # trace uses the secret
    get_settings.cache_clear()
    try:
        _trace_with_the_configured_adapter()
    finally:
        get_settings.cache_clear()


def _trace_with_the_configured_adapter() -> None:
    runner = CliRunner()
    ok = runner.invoke(openhero_cli, ["patients", "trace", "900 000 0009", "2010-10-22"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["last_name"] == "Smith"
    missing = runner.invoke(openhero_cli, ["patients", "trace", "9990000271", "2000-01-01"])
    assert missing.exit_code == 1 and "PdsNotFound" in missing.output
