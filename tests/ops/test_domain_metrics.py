"""Worker, webhook and outside-service series, read back from /metrics."""

from __future__ import annotations

import pytest

from openhero.core import metrics
from openhero.core.jobs import enqueue
from openhero.core.worker import Worker
from tests.ops.test_health_metrics import _sample
from tests.patients.conftest import (  # noqa: F401 - the fake PDS FHIR server and its keys
    fake_pds,
    pds,
    pds_key_file,
    pds_private_key,
    pds_settings,
)
from tests.webhooks.conftest import create_hook, emit_events, receiver  # noqa: F401


async def test_jobs_and_webhook_deliveries_are_counted(api, tenant, clean, clock, settings, receiver):  # noqa: F811
    import tests.ops.slow_jobs  # noqa: F401 - registers test.slow

    before = (await api.get("/metrics")).text
    await create_hook(api, receiver.url + "/hook")
    await emit_events(clean, tenant.id, 2)
    async with clean.session() as s:
        await enqueue(s, "test.slow", {"seconds": 0}, now=clock.now())
        await enqueue(s, "test.no-such-kind", {}, now=clock.now())
        await s.commit()
    await Worker(clean, settings, clock, worker_id="w").drain()
    assert len(receiver.requests) == 2
    body = (await api.get("/metrics")).text

    def grew(name: str, **labels: str) -> float:
        return (_sample(body, name, **labels) or 0) - (_sample(before, name, **labels) or 0)

    assert grew("openhero_jobs_claimed_total", kind="test.slow") == 1
    assert grew("openhero_jobs_finished_total", kind="test.slow", outcome="succeeded") == 1
    assert grew("openhero_jobs_finished_total", kind="test.no-such-kind", outcome="failed") == 1
    assert grew("openhero_job_duration_seconds_count", kind="test.slow") == 1
    assert grew("openhero_webhook_deliveries_total", outcome="delivered") == 2
    assert grew("openhero_webhook_event_to_delivery_seconds_count") == 2
    assert grew("openhero_outbox_events_dispatched_total") == 2


class _Adapter:
    async def trace_by_nhs_number(self, nhs_number: str) -> str:
        if nhs_number == "0":
            raise LookupError(nhs_number)
        return "found"

    def name(self) -> str:
        return "plain"


async def test_outside_calls_are_counted_by_outcome_without_arguments():
    wrapped = metrics.instrument(_Adapter(), "pds-test", ("trace_by_nhs_number",))
    assert isinstance(wrapped, _Adapter) and wrapped.name() == "plain"
    assert await wrapped.trace_by_nhs_number("9000000009") == "found"
    with pytest.raises(LookupError):
        await wrapped.trace_by_nhs_number("0")
    body = metrics.exposition().decode()
    assert _sample(body, "openhero_external_calls_total", service="pds-test", outcome="ok") == 1
    assert _sample(body, "openhero_external_calls_total", service="pds-test", outcome="LookupError") == 1
    assert "9000000009" not in body


async def test_pds_adapter_is_instrumented(pds_settings, pds):  # noqa: F811
    from datetime import date

    from openhero.patients.pds import FhirPdsAdapter, get_pds_adapter

    adapter = get_pds_adapter(pds_settings)
    assert isinstance(adapter, FhirPdsAdapter)
    before = _sample(metrics.exposition().decode(), "openhero_external_calls_total", service="pds",
                     operation="trace_by_nhs_number", outcome="ok") or 0
    await adapter.trace_by_nhs_number("9000000009", date(2010, 10, 22), ods_code="A12345")
    after = _sample(metrics.exposition().decode(), "openhero_external_calls_total", service="pds",
                    operation="trace_by_nhs_number", outcome="ok")
    assert after == before + 1
