"""openhero's form links: a patient answers a standalone form at /f/{code}."""

from __future__ import annotations

from urllib.parse import urlparse

from sqlalchemy import select

from openhero.core.outbox import Event
from openhero.forms.models import FormResponse
from openhero.tasks.models import Task
from tests.builders import make_key
from tests.forms.builders import make_demo_forms
from tests.links.browser import Browser, dob_fields


async def test_patient_sends_a_care_navigation_form(app, api, client, clean, tenant, patient, clock):
    navigation = (await make_demo_forms(clean, tenant.id, clock.now()))[0]
    created = await api.post("/v1/form_links", json={"form_id": str(navigation.id), "patient_id": str(patient.id),
                                                     "maximum_use_count": 1})
    assert created.status_code == 200, created.text
    link = created.json()
    assert link["form_id"] == str(navigation.id) and "/f/" in link["short_link"]
    assert (await api.post("/v1/form_links", json={"form_id": "999999"})).status_code == 404
    _, raw = await make_key(clean, tenant.group, scopes=["messaging"])
    no_scope = await client.post("/v1/form_links", json={"form_id": str(navigation.id)},
                                 headers={"x-api-key": raw, "x-practice-group-id": str(tenant.id)})
    assert no_scope.status_code == 403

    path = urlparse(link["short_link"]).path
    q = {question.name: f"q{question.id}" for question in navigation.questions}
    async with Browser(app) as amira:
        await amira.get(path)
        assert (await amira.post(f"{path}/verify", dob_fields(15, 6, 1984))).status_code == 303
        page = await amira.get(f"{path}/form")
        assert page.status_code == 200 and "Ask your GP practice for help" in page.text
        sent = await amira.post(f"{path}/form", {
            q["What do you need help with?"]: "A new health problem",
            q["Describe the problem or request"]: "Tight chest when climbing stairs since Sunday",
            q["Do you have any of these right now?"]: ["Chest pain"],
            q["How would you like us to contact you?"]: "Phone call"})
        assert sent.status_code == 303 and sent.headers["location"] == f"{path}/sent"
        sent_page = (await amira.get(f"{path}/sent")).text
        assert "Form sent" in sent_page and "Get urgent help now" in sent_page and 'href="tel:999"' in sent_page
        assert "will contact you if they need to" not in sent_page
        # Back after sending: what was sent, not a second submission
        assert (await amira.client.get(f"{path}/form")).headers["location"] == f"{path}/sent"
        assert (await amira.get(path)).status_code == 410  # its one use is spent

    async with clean.session() as s:
        response = (await s.execute(select(FormResponse))).scalar_one()
        task = (await s.execute(select(Task))).scalar_one()
        event = (await s.execute(select(Event))).scalar_one()
    assert response.patient_id == patient.id and response.short_link_id == int(link["id"])
    assert task.form_response_id == response.id and task.priority == "high"  # a red-flag answer
    assert (event.event_type, event.object_id) == ("form-submission.created", str(response.id))
    body = (await api.get(f"/v1/form_links/{link['id']}")).json()
    # the second opening met a closed link and was not counted
    assert (body["number_of_uses"], body["open_count"], body["active"]) == (1, 1, False)


async def test_form_sent_twice_is_stored_once(app, api, clean, tenant, patient, clock):
    """A double click on Send: the second request carries the cookie from before the first one's answer."""
    from openhero.links.web import COOKIE_NAME
    from tests.links.browser import CSRF

    navigation = (await make_demo_forms(clean, tenant.id, clock.now()))[0]
    link = (await api.post("/v1/form_links", json={"form_id": str(navigation.id), "patient_id": str(patient.id)}
                           )).json()
    path = urlparse(link["short_link"]).path
    q = {question.name: f"q{question.id}" for question in navigation.questions}
    answers = {q["What do you need help with?"]: "Test results", q["Describe the problem or request"]: "Blood test",
               q["How would you like us to contact you?"]: "Text message"}
    async with Browser(app) as amira, Browser(app) as twin:
        await amira.get(path)
        await amira.post(f"{path}/verify", dob_fields(15, 6, 1984))
        await amira.get(f"{path}/form")
        cookie, token = amira.client.cookies[COOKIE_NAME], CSRF.search(amira.page).group(1)
        assert (await amira.post(f"{path}/form", answers)).headers["location"] == f"{path}/sent"
        again = await twin.client.post(f"{path}/form", data={**answers, "csrf_token": token},
                                       headers={"cookie": f"{COOKIE_NAME}={cookie}"})
        assert again.headers["location"] == f"{path}/sent"
        clock.advance(minutes=11)  # the same answers later are a new request
        await amira.get(path)
        await amira.post(f"{path}/verify", dob_fields(15, 6, 1984))
        await amira.get(f"{path}/form")
        assert (await amira.post(f"{path}/form", answers)).headers["location"] == f"{path}/sent"
    async with clean.session() as s:
        responses = (await s.execute(select(FormResponse))).scalars().all()
        tasks = (await s.execute(select(Task))).scalars().all()
    assert len(responses) == 2 and len(tasks) == 2
    assert (await api.get(f"/v1/form_links/{link['id']}")).json()["number_of_uses"] == 2
