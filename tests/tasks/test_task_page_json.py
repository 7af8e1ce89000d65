"""GET /v2/tasks writes its page straight to JSON (tasks/endpoints.page_json): the bytes must be exactly what the
documented model (``ListResponse[TaskOut]``) writes for the same rows, whatever the rows hold, and a row the
direct writer does not vouch for must get the model's answer, error included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from openhero.tasks import endpoints
from openhero.tasks.endpoints import _TASK_PAGE, _row_patient, _task_values, page_json

STATUSES = ("open", "closed", "in_progress")
PRIORITIES = ("lowest", "low", "medium", "high", "highest")


def model_json(rows: list[Any], count: int) -> bytes:
    body = {"data": [_task_values(r, _row_patient(r)) for r in rows], "count": count}
    return _TASK_PAGE.dump_json(_TASK_PAGE.validate_python(body), by_alias=True)


def row(**overrides: Any) -> SimpleNamespace:
    """A list row as service.list_tasks returns it: task columns plus patient__* columns, by attribute and
    through ``_mapping``."""
    fields: dict[str, Any] = {
        "id": 7, "type_label": "Form response", "status": "open", "details": None, "category": "form",
        "priority": "medium", "note": None, "triggered_by": None, "system_alert_details": None,
        "created_at": datetime(2026, 1, 5, 9, 0, tzinfo=UTC), "updated_at": datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        "closed_at": None, "assignee_type": None, "assignee_id": None, "form_response_id": None,
        "appointment_id": None, "message_id": None, "practice_group_id": 1, "priority_rank": 3,
        "patient_id": None, "patient__id": None, "patient__uid": None, "patient__ehr_partner_id": None,
        "patient__emis_id": None, "patient__deceased_at": None, "patient__dob": None, "patient__title": None,
        "patient__first_name": None, "patient__last_name": None, "patient__nhs_number": None, "total__": 1,
    }
    fields.update(overrides)
    return SimpleNamespace(**fields, _mapping=fields)


text = st.text(max_size=12)  # any code point: quotes, backslashes, controls, U+2028, astral
maybe_text = st.none() | text
moments = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                       timezones=st.none() | st.just(UTC) | st.just(timezone(timedelta(hours=5, minutes=30))))
ids = st.integers(min_value=1, max_value=2**53)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**63, max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=8)
json_objects = st.none() | st.dictionaries(text, json_values, max_size=4)


@st.composite
def rows(draw: st.DrawFn) -> SimpleNamespace:
    assignee = draw(st.none() | st.sampled_from(("admin", "admin_team")))
    patient = draw(st.booleans())
    fields: dict[str, Any] = {
        "id": draw(ids), "type_label": draw(text), "status": draw(st.sampled_from(STATUSES)),
        "details": draw(maybe_text), "category": draw(text), "priority": draw(st.sampled_from(PRIORITIES)),
        "note": draw(maybe_text), "triggered_by": draw(json_objects), "system_alert_details": draw(json_objects),
        "created_at": draw(moments), "updated_at": draw(moments), "closed_at": draw(st.none() | moments),
        "assignee_type": assignee, "assignee_id": draw(ids) if assignee else draw(st.none() | ids),
        "form_response_id": draw(st.none() | ids), "appointment_id": draw(st.none() | ids),
        "message_id": draw(st.none() | ids),
    }
    if patient:
        fields.update({"patient__id": draw(ids), "patient__uid": draw(maybe_text),
                       "patient__ehr_partner_id": draw(maybe_text), "patient__emis_id": draw(maybe_text),
                       "patient__deceased_at": draw(st.none() | moments),
                       "patient__dob": draw(st.none() | st.dates(min_value=date(1900, 1, 1))),
                       "patient__title": draw(maybe_text), "patient__first_name": draw(maybe_text),
                       "patient__last_name": draw(maybe_text), "patient__nhs_number": draw(maybe_text)})
    return row(**fields)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(page=st.lists(rows(), max_size=4), count=st.integers(min_value=0, max_value=10**6))
def test_the_page_is_the_models_json_byte_for_byte(page: list[SimpleNamespace], count: int) -> None:
    assert page_json(page, count) == model_json(page, count)


def test_ordinary_rows_never_go_through_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path is the one taken (a test of equality alone would pass if every page fell back)."""
    page = [row(), row(id=8, assignee_type="admin", assignee_id=3, patient__id=4, patient__dob=date(1990, 1, 2),
                   triggered_by={"by": "form", "n": [1, 2.5]}, closed_at=datetime(2026, 2, 1, tzinfo=UTC))]
    expected = model_json(page, 2)

    class Refuses:
        def validate_python(self, *_a: Any, **_k: Any) -> Any:
            raise AssertionError("the page went through the model")

    monkeypatch.setattr(endpoints, "_TASK_PAGE", Refuses())
    assert page_json(page, 2) == expected


@pytest.mark.parametrize("overrides", [
    {"triggered_by": {"big": 2**70}},  # orjson cannot write it; the model can
    {"id": "12"},  # a text id: the model passes it through
    {"patient__id": 3, "patient__dob": datetime(1990, 1, 2)},  # a (midnight) datetime where a date is due
], ids=["int-past-64-bits", "text-id", "datetime-dob"])
def test_values_the_direct_writer_does_not_vouch_for_get_the_models_answer(overrides: dict[str, Any]) -> None:
    page = [row(), row(**overrides)]
    assert page_json(page, 2) == model_json(page, 2)


@pytest.mark.parametrize("overrides", [
    {"status": "archived"}, {"priority": "urgent"}, {"assignee_type": "admin", "assignee_id": None},
    {"assignee_type": "robot", "assignee_id": 1}, {"id": True}, {"created_at": None},
    {"triggered_by": ["not", "an", "object"]},
], ids=["status", "priority", "assignee-without-id", "assignee-kind", "bool-id", "no-created-at", "list-json"])
def test_rows_the_model_refuses_are_refused_as_before(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model_json([row(**overrides)], 1)
    with pytest.raises(ValidationError):
        page_json([row(**overrides)], 1)
