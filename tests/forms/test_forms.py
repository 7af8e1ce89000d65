"""Forms API (list, read, read a response) and the submission rule: a response, a task and an event."""

from __future__ import annotations

from sqlalchemy import select

from openhero.core.outbox import Event
from openhero.forms import service
from openhero.tasks.models import Task
from tests.builders import make_patient, make_tenant
from tests.forms.builders import make_demo_forms, submit


async def test_list_forms_filters_and_tenancy(api, tenant, clean, clock):
    await make_demo_forms(clean, tenant.id, clock.now())
    other = await make_tenant(clean)
    await make_demo_forms(clean, other.id, clock.now())

    everything = (await api.get("/v1/forms")).json()
    assert everything["count"] == 4 and len(everything["data"]) == 4
    first = everything["data"][0]
    assert set(first) == {"id", "title", "description", "patient_title", "patient_description", "reply_form",
                          "form_type", "snomed_code"}
    assert first["id"].isdigit()

    assert [f["title"] for f in (await api.get("/v1/forms", params={"search": "phq"})).json()["data"]] == [
        "PHQ-9 depression questionnaire"]
    replies = (await api.get("/v1/forms", params={"reply_form": "true"})).json()
    assert replies["count"] == 1 and replies["data"][0]["form_type"] == "response"
    navigation = (await api.get("/v1/forms", params={"form_type": "care_navigation"})).json()
    assert [f["title"] for f in navigation["data"]] == ["Care navigation"]
    paged = (await api.get("/v1/forms", params={"page_size": 3, "page_index": 1})).json()
    assert paged["count"] == 4 and len(paged["data"]) == 1

    bad = await api.get("/v1/forms", params={"form_type": "survey"})
    assert bad.status_code == 400
    assert bad.json()["message"][0]["code"] == "invalid_enum_value"
    assert bad.json()["message"][0]["path"] == ["form_type"]
    assert (await api.get("/v1/forms", params={"reply_form": "perhaps"})).status_code == 400


async def test_get_form_with_fields_and_cross_tenant_404(api, tenant, clean, clock):
    forms = await make_demo_forms(clean, tenant.id, clock.now())
    other = await make_tenant(clean)
    theirs = await make_demo_forms(clean, other.id, clock.now())

    body = (await api.get(f"/v1/forms/{forms[2].id}")).json()
    assert body["title"] == "PHQ-9 depression questionnaire" and body["snomed_code"] == "720433000"
    assert len(body["fields"]) == 10
    field = body["fields"][0]
    assert field["form_question_id"].isdigit() and field["name"].startswith("Little interest")
    assert field["type"] == "choice" and field["required"] is True and len(field["options"]) == 4

    for missing in (theirs[0].id, 999999, "abc"):
        response = await api.get(f"/v1/forms/{missing}")
        assert response.status_code == 404
        assert response.json()["statusCode"] == 404 and response.json()["error"] is True


async def test_submission_creates_response_task_and_event(api, tenant, clean, clock):
    forms = await make_demo_forms(clean, tenant.id, clock.now())
    patient = await make_patient(clean, tenant.id)
    phq = forms[2]
    answers = {q.id: ["Several days"] for q in phq.questions[:9]}
    response = await submit(clean, phq, patient.id, answers, clock.now())

    body = (await api.get(f"/v1/form_response/{response.id}")).json()
    assert body["id"] == response.id and body["form_id"] == phq.id and body["client_id"] == patient.id
    assert body["practice_group_id"] == tenant.id and body["hidden"] is False
    assert body["created_at"].endswith("Z")
    assert len(body["answers"]) == 9 and body["answers"][0]["value"] == "Several days"

    async with clean.session() as s:
        task = (await s.execute(select(Task).where(Task.form_response_id == response.id))).scalar_one()
        event = (await s.execute(select(Event).where(Event.event_type == "form-submission.created"))).scalar_one()
    assert task.category == "form_response" and task.patient_id == patient.id
    # Item 9 answered above "Not at all": the inbox item is raised for a clinician.
    assert task.priority == "high"
    assert (event.object_type, event.object_id, event.practice_group_id) == ("FormSubmission", str(response.id),
                                                                             tenant.id)
    task_body = (await api.get(f"/v2/tasks/{task.id}")).json()
    assert task_body["form_response"]["id"] == str(response.id)

    other = await make_tenant(clean)
    foreign = await api.get(f"/v1/form_response/{response.id}", headers=other.headers)
    assert foreign.status_code == 404


async def test_check_answers_reports_each_problem(tenant, clean, clock):
    forms = await make_demo_forms(clean, tenant.id, clock.now())
    async with clean.session() as s:
        travel = await service.form_of_group(s, tenant.id, forms[1].id)
    assert travel is not None
    q = {question.name: question.id for question in travel.questions}
    checked = service.check_answers(travel, {
        q["Date you leave"]: ["next tuesday"],
        q["Type of trip"]: ["Cruise"],
        q["Where will you be staying?"]: ["Hotel", "Rural areas"],
    })
    assert checked.errors[q["Date you leave"]].startswith("Enter a real date")
    assert checked.errors[q["Type of trip"]] == "Choose one of the options shown"
    assert checked.errors[q["Are you pregnant, or could you be?"]] == "Answer this question"
    assert q["Where will you be staying?"] not in checked.errors
    assert not checked.ok and checked.escalate is False
