"""Batch enrichment against a PDS that enforces production rules (token, request id, ODS header)."""

from __future__ import annotations

from tests.messaging.test_batch import create
from tests.patients.conftest import (  # noqa: F401  (the fake PDS fixtures)
    fake_pds,
    pds,
    pds_key_file,
    pds_private_key,
    pds_settings,
)

PDS_FIELDS = ("pds_adapter", "pds_base_url", "pds_timeout_seconds", "pds_token_url", "pds_api_key",
              "pds_private_key_file", "pds_key_id")


async def test_enrichment_traces_with_the_practices_ods_code(api, tenant, clean, run_worker, pds, pds_settings):  # noqa: F811
    batch = await create(api, recipients=[{"nhs_number": "9000000009", "dob": "2010-10-22"}])
    assert (await api.patch(f"/v1/batch_message/{batch['id']}/send")).status_code == 200
    await run_worker(**{name: getattr(pds_settings, name) for name in PDS_FIELDS})
    traces = [r for r in pds.requests if "Patient" in r.path]
    assert traces, "the batch never asked PDS"
    assert all(r.headers.get("nhsd-end-user-organisation-ods") == tenant.group.ods_code for r in traces)
    assert all(r.headers.get("authorization", "").startswith("Bearer ") for r in traces)
    final = (await api.get(f"/v1/batch_message/{batch['id']}/recipients")).json()
    assert final["count"] == 1 and final["data"][0]["status"] == "QUEUED", final
