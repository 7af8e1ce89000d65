"""Client input that used to answer 500 (issue 11, item 4): each case is a 400 or 404 in the contract's shape."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from urllib.parse import quote, urlparse

import pytest
from fastapi import APIRouter

from openhero.app import create_app
from openhero.core import ids
from openhero.core.pagination import MAX_PAGE_INDEX
from tests.booking.builders import make_world
from tests.builders import make_patient, make_task
from tests.links.browser import Browser, dob_fields

SUPERSCRIPT_3 = "\u00b3"  # '³': str.isdigit() is True, int() refuses it
ARABIC_INDIC = str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669")
BEYOND_BIGINT = str(2**63)  # 9223372036854775808


def assert_refused(r, statuses=(400, 404)):  # type: ignore[no-untyped-def]
    assert r.status_code in statuses, (r.request.method, r.request.url, r.status_code, r.text)
    body = r.json()
    assert body["error"] is True and body["statusCode"] == r.status_code, body
    assert body["message"] and all({"code", "expected", "path"} <= set(item) for item in body["message"]), body
    text = r.text
    assert "invalid literal" not in text and "int()" not in text and "Traceback" not in text, text
    return body


def _documented_routes(app):  # type: ignore[no-untyped-def]
    for path, item in app.openapi()["paths"].items():
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                yield method.upper(), path


# --- the id parser -----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["1", "007", " 42 ", str(2**63 - 1), 5])
def test_ids_accepts_ascii_digits_within_bigint(raw):  # type: ignore[no-untyped-def]
    assert ids.to_id(raw) == int(str(raw))


@pytest.mark.parametrize("raw", ["", "-1", "+1", "1_000", "1.0", "0x10", SUPERSCRIPT_3, "\u0662", "\uff11",
                                 "12\u0663", BEYOND_BIGINT, "9" * 40, None, True, 2**63, -3, 1.0, [1]])
def test_ids_refuses_everything_else(raw):  # type: ignore[no-untyped-def]
    assert ids.to_id(raw) is None


# --- ids in paths, queries, bodies and headers ------------------------------------------------------------

async def test_unicode_digit_and_oversized_path_ids_are_refused_on_every_route(app, api, clean, tenant):
    await make_patient(clean, tenant.id)
    routes = [(m, p) for m, p in _documented_routes(app) if "{" in p]
    assert len(routes) > 20
    for raw in (SUPERSCRIPT_3, "2".translate(ARABIC_INDIC), BEYOND_BIGINT):
        for method, path in routes:
            url = re.sub(r"\{[^}]+\}", quote(raw), path)
            kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            assert_refused(await api.request(method, url, **kwargs))


async def test_arabic_indic_digits_do_not_name_a_patient(api, clean, tenant):
    patient = await make_patient(clean, tenant.id)
    assert (await api.get(f"/v1/patients/{patient.id}")).status_code == 200
    arabic = str(patient.id).translate(ARABIC_INDIC)
    assert_refused(await api.get(f"/v1/patients/{quote(arabic)}"), (404,))
    assert_refused(await api.get("/v1/patients/%D9%A2"), (404,))


@pytest.mark.parametrize("query", [
    f"/v1/slots?practitioner_id={SUPERSCRIPT_3}", f"/v1/slots?location_id={SUPERSCRIPT_3}",
    f"/v1/slots?appointment_type_id={BEYOND_BIGINT}", f"/v1/appointment_types?location_ids={SUPERSCRIPT_3}",
    f"/v1/practitioners?location_ids={SUPERSCRIPT_3}", f"/v1/practitioners?appointment_type_ids={BEYOND_BIGINT}",
    f"/v2/tasks?assignee_id[]={SUPERSCRIPT_3}", f"/v2/tasks?assignee_id[]={BEYOND_BIGINT}",
    f"/openhero/v1/messaging/outbox?message_id={BEYOND_BIGINT}",
    f"/openhero/v1/messaging/outbox?message_id={SUPERSCRIPT_3}",
])
async def test_id_filters_refuse_non_ids(api, query):  # type: ignore[no-untyped-def]
    assert_refused(await api.get(query), (400,))


async def test_body_ids_refuse_unicode_digits(api, clean, tenant, clock):
    world = await make_world(clean, clock.now(), tenant=tenant)
    patient = await make_patient(clean, tenant.id)
    task = await make_task(clean, tenant.id)
    send = {"patient_id": str(patient.id), "message_type": "sms", "message_string": "Hello"}
    assert (await api.post("/v1/messages/send", json={**send, "task_id": str(task.id)})).status_code == 200
    for field in ("task_id", "short_link_id", "patient_id"):
        assert_refused(await api.post("/v1/messages/send", json={**send, field: SUPERSCRIPT_3}))
    assert_refused(await api.post("/v1/attachment_links", json={"patient_id": str(patient.id),
                                                                "ehr_file_id": SUPERSCRIPT_3}))
    assert_refused(await api.post("/v1/appointments", json=world.reserve_body(patient_id=SUPERSCRIPT_3)), (400,))
    assert_refused(await api.post("/v1/appointments", json=world.reserve_body(practitioner_id=BEYOND_BIGINT)),
                   (400,))
    assert_refused(await api.post("/v1/invoicing/invoices", json={"issuer_id": SUPERSCRIPT_3,
                                                                  "patient_id": str(patient.id)}))
    for field in ("appointment_type_id", "location_id"):  # once "invalid literal for int() with base 10: '³'"
        body = assert_refused(await api.post("/v1/booking_links", json={
            "appointment_type_id": str(world.appt_type.id), "location_id": str(world.location.id),
            field: SUPERSCRIPT_3}), (400,))
        assert body["message"][0]["path"] == [field]


@pytest.mark.parametrize("python,plain", [
    ("invalid literal for int() with base 10: '\u00b3'", "must be a whole number"),
    ("Value error, could not convert string to float: 'x'", "Value error, must be a number"),
    ("Invalid isoformat string: '2024-13-45'", "must be an ISO 8601 date or date-time"),
    ("'NoneType' object has no attribute 'strip'", "has the wrong type"),
    ("date of birth must be YYYY-MM-DD", "date of birth must be YYYY-MM-DD"),
])
def test_python_exception_messages_become_contract_messages(python, plain):  # type: ignore[no-untyped-def]
    from openhero.core.errors import error_item

    item = error_item("custom", python, ["field"], python)
    assert item["expected"] == plain and item["message"] == plain


async def test_group_header_with_a_latin1_digit_byte_is_401(client, tenant):
    headers = [(b"x-api-key", tenant.raw_key.encode()), (b"x-practice-group-id", b"\xb3")]
    assert_refused(await client.get("/v1/me", headers=headers), (401,))


async def test_slot_id_with_unicode_digits_on_the_patient_page(app, api, clean, tenant, clock):
    world = await make_world(clean, clock.now(), tenant=tenant)
    patient = await make_patient(clean, tenant.id, dob=date(1984, 6, 15))
    link = await api.post("/v1/booking_links", json={"appointment_type_id": str(world.appt_type.id),
                                                     "location_id": str(world.location.id),
                                                     "patient_id": str(patient.id)})
    assert link.status_code == 200, link.text
    path = urlparse(link.json()["short_link"]).path
    async with Browser(app) as amira:
        await amira.get(path)
        assert (await amira.post(f"{path}/verify", dob_fields(15, 6, 1984))).status_code == 303
        await amira.get(f"{path}/slots")
        for raw in (SUPERSCRIPT_3, str(world.slot_ids[0]).translate(ARABIC_INDIC), BEYOND_BIGINT):
            picked = await amira.post(f"{path}/slots", {"slot_id": raw})
            assert picked.status_code < 500, picked.text
            assert picked.headers.get("location") != f"{path}/confirm"


PAGES = [("GET", "/verify/{}"), ("GET", "/messages/{}/confirm_write_to_record"),
         ("POST", "/messages/{}/confirm_write_to_record"), ("GET", "/attachments/{}"), ("GET", "/l/{}"),
         ("POST", "/l/{}/verify"), ("GET", "/l/{}/slots"), ("POST", "/l/{}/slots"), ("GET", "/l/{}/confirm"),
         ("POST", "/l/{}/confirm"), ("GET", "/l/{}/confirmed"), ("GET", "/f/{}"), ("POST", "/f/{}/verify"),
         ("GET", "/f/{}/form"), ("POST", "/f/{}/form"), ("GET", "/f/{}/sent")]


async def test_patient_pages_answer_hostile_path_values_without_a_server_error(client):
    for raw in (SUPERSCRIPT_3, "\u0662", BEYOND_BIGINT, "x" * 3000, "..", "%2e%2e", "\U0001f642"):
        for method, path in PAGES:
            url = path.format(quote(raw, safe="%"))
            form = {"csrf_token": "x", "slot_id": raw} if method == "POST" else None
            r = await client.request(method, url, data=form)
            assert r.status_code < 500, (method, url, r.status_code, r.text[:300])


# --- paging, dates, NUL ---------------------------------------------------------------------------------

async def test_page_index_is_bounded_on_every_list(app, api):
    paths = app.openapi()["paths"]
    lists = [p for p, item in paths.items() if "{" not in p and "page_index" in str(item.get("get", {}))]
    checked = 0
    for path in lists:
        ok = await api.get(path, params={"page_index": str(MAX_PAGE_INDEX)})
        if ok.status_code != 200:
            continue  # needs filters
        for raw in ("99999999999999999999", str(MAX_PAGE_INDEX + 1), "-1", "\u0662", "1e3"):
            body = assert_refused(await api.get(path, params={"page_index": raw}), (400,))
            assert body["message"][0]["path"] == ["page_index"]
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("query", [
    "end_date=9999-12-31", "start_date=9999-12-31", "start_date=0001-01-01",
    "end_date=9999-12-31T23:59:59-14:00", "start_date=0001-01-01T00:00:00%2B14:00",
])
async def test_slot_filters_refuse_dates_at_the_ends_of_the_calendar(api, query):  # type: ignore[no-untyped-def]
    assert_refused(await api.get(f"/v1/slots?{query}"), (400,))
    assert_refused(await api.get(f"/v1/slots/count?{query}"), (400,))


@pytest.mark.parametrize("start", ["9999-12-31T23:55:00Z", "9999-12-31T23:00:00-14:00",
                                   "0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00Z"])
async def test_reserve_and_edit_refuse_extreme_start_times(api, clean, tenant, clock, start):  # type: ignore[no-untyped-def]
    world = await make_world(clean, clock.now(), tenant=tenant)
    assert_refused(await api.post("/v1/appointments", json=world.reserve_body(start_time=start)), (400,))
    made = await api.post("/v1/appointments", json=world.reserve_body())
    assert made.status_code == 200, made.text
    edit = {"start_time": start, "duration": 10, "practitioner_id": str(world.practitioner.id)}
    assert_refused(await api.put(f"/v1/appointments/{made.json()['id']}", json=edit), (400,))
    assert_refused(await api.patch(f"/v1/appointments/{made.json()['id']}/reschedule", json={"start_time": start}),
                   (400,))


@pytest.mark.parametrize("due", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-14:00", "0001-01-01"])
async def test_invoice_due_date_at_the_ends_of_the_calendar(api, clean, tenant, due):  # type: ignore[no-untyped-def]
    from tests.builders import make_admin

    admin = await make_admin(clean, tenant.id)
    patient = await make_patient(clean, tenant.id)
    body = {"issuer_id": str(admin.id), "patient_id": str(patient.id), "collection_method": "request_payment",
            "due_date": due}
    assert_refused(await api.post("/v1/invoicing/invoices", json=body), (400,))


async def test_counts_beyond_the_column_are_refused(api, clean, tenant):
    patient = await make_patient(clean, tenant.id)
    body = assert_refused(await api.post("/v1/attachment_links", json={
        "patient_id": str(patient.id), "file_data": "aGVsbG8=", "file_name": "a.pdf",
        "maximum_use_count": 10**12}), (400,))
    assert body["message"][0]["path"] == ["maximum_use_count"]


async def test_send_at_and_link_dates_at_the_ends_of_the_calendar(api, clean, tenant, clock):
    world = await make_world(clean, clock.now(), tenant=tenant)
    patient = await make_patient(clean, tenant.id)
    for send_at in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"):
        body = assert_refused(await api.post("/v1/messages/send", json={
            "patient_id": str(patient.id), "message_type": "sms", "message_string": "Hi", "send_at": send_at}),
            (400,))
        assert body["message"][0]["path"] == ["send_at"]
    link = {"appointment_type_id": str(world.appt_type.id), "location_id": str(world.location.id)}
    for field in ("expiry_date", "to_date", "from_date"):
        body = assert_refused(await api.post("/v1/booking_links", json={**link, field: "9999-12-31"}), (400,))
        assert body["message"][0]["path"] == [field]


async def test_nul_characters_are_refused_everywhere(api, clean, tenant):
    patient = await make_patient(clean, tenant.id)
    body = assert_refused(await api.patch("/v1/me", json={"name": "a\u0000b", "address": {"town": "x\u0000"}}),
                          (400,))
    assert [(i["code"], i["path"]) for i in body["message"]] == [("custom", ["name"]), ("custom", ["address", "town"])]
    body = assert_refused(await api.post("/v1/messages/send", json={
        "patient_id": str(patient.id), "message_type": "sms", "message_string": "hi\u0000there"}), (400,))
    assert body["message"][0]["path"] == ["message_string"]
    body = assert_refused(await api.get("/v3/patients", params={"last_name": "Kh\u0000an"}), (400,))
    assert [(i["code"], i["path"]) for i in body["message"]] == [("invalid_string", ["last_name"])]
    assert_refused(await api.get("/v2/tasks?search=a%00b"), (400,))
    assert_refused(await api.get("/v1/patients/1%00"), (400,))
    # an escaped backslash before "u0000" is text, not a NUL: the request goes through
    fine = await api.patch("/v1/me", content=b'{"name": "path C:\\\\u0000"}',
                           headers={"content-type": "application/json"})
    assert fine.status_code == 200 and fine.json()["name"] == "path C:\\u0000"


async def test_unpaired_surrogates_are_refused_and_pairs_split_across_chunks_pass(api):
    for raw in (b'{"name": "a\\ud800b"}', b'{"name": "a\\udc00"}', b'{"name": "a\xed\xa0\x80"}',
                b'{"name": "\\\\\\ud800"}'):
        body = assert_refused(await api.patch("/v1/me", content=raw, headers={"content-type": "application/json"}),
                              (400,))
        assert body["message"][0]["path"] == ["name"]

    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"name": "x\\ud83d'  # the pair's halves arrive in different body messages
        yield b'\\ude00y"}'

    fine = await api.patch("/v1/me", content=chunks(), headers={"content-type": "application/json"})
    assert fine.status_code == 200 and fine.json()["name"] == "x\U0001f600y", fine.text


async def test_nul_in_a_form_post_on_a_patient_page(app, api, clean, tenant, clock):
    from tests.forms.builders import make_demo_forms

    patient = await make_patient(clean, tenant.id, dob=date(1984, 6, 15))
    navigation = (await make_demo_forms(clean, tenant.id, clock.now()))[0]
    created = await api.post("/v1/form_links", json={"form_id": str(navigation.id), "patient_id": str(patient.id)})
    assert created.status_code == 200, created.text
    path = urlparse(created.json()["short_link"]).path
    question = next(q for q in navigation.questions if q.name == "Describe the problem or request")
    async with Browser(app) as amira:
        await amira.get(path)
        assert (await amira.post(f"{path}/verify", dob_fields(15, 6, 1984))).status_code == 303
        await amira.get(f"{path}/form")
        sent = await amira.post(f"{path}/form", {f"q{question.id}": "chest\u0000pain"})
        assert assert_refused(sent, (400,))["message"][0]["path"] == [f"q{question.id}"]


# --- an unexpected error keeps the connection ---------------------------------------------------------------

async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
    return status, await reader.readexactly(length)


async def test_a_500_answers_and_keeps_the_connection_usable(settings, clean, clock, tenant):
    import uvicorn

    from tests.conftest import free_port

    app = create_app(settings, clock=clock, db=clean)
    boom = APIRouter()

    @boom.get("/boom")
    async def explode() -> None:
        raise RuntimeError("kaboom")

    app.include_router(boom)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="off",
                                           loop="asyncio"))
    serving = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        request = "GET {} HTTP/1.1\r\nHost: t\r\nx-api-key: {}\r\nx-practice-group-id: {}\r\n\r\n"
        writer.write(request.format("/boom", tenant.raw_key, tenant.id).encode())
        status, body = await _read_response(reader)
        assert status == 500 and b'"internal_error"' in body
        writer.write(request.format("/v1/me", tenant.raw_key, tenant.id).encode())  # same connection
        status, body = await _read_response(reader)
        assert status == 200 and b'"id"' in body
        writer.close()
    finally:
        server.should_exit = True
        await serving
