"""The list and read routes whose query parameters FastAPI used to extract answer every request as they did
then: good values, each parameter missing, empty, badly typed, out of range, repeated, in ``name[]`` form,
mixed with a bad page or without a key (issue 12: ``from_query`` dependencies read them from
``request.query_params``, so the routes compile).

Two oracles, per route and backend:

- ``query_params_golden.json``: the status and body of every request of the matrix, recorded from the routes
  as they were before (``OPENHERO_RECORD_QUERY_GOLDEN=1`` records on SQLite; ids are made the same on every
  backend and run, timestamps and minted Stripe ids are normalised);
- FastAPI itself: the same requests to the same routes served by FastAPI's handler for their documented
  graph (FastAPI extracting and validating every documented parameter), byte for byte.

And ``from_query`` itself, on parameters of every kind FastAPI reads, against FastAPI reading the same signature.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi._body_limit import wrap_app_with_body_limit
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, request_response

from openhero.app import create_app
from openhero.core.clock import FrozenClock
from openhero.core.db import Database
from openhero.core.errors import ApiError
from openhero.core.pagination import PageDep, from_query
from openhero.core.routing import ApiRoute, compiled_routes, include_routes
from openhero.forms.demo import seed_demo_forms
from openhero.invoicing.models import Customer, DefaultPayer
from openhero.messaging.demo import seed_demo_messaging
from openhero.messaging.models import SandboxOutboxEntry
from tests.booking.builders import make_appointment_type, make_slots, place_practitioner
from tests.builders import make_admin, make_location, make_patient, make_practitioner, make_row, make_tenant
from tests.messaging.builders import link_to_ehr

GOLDEN = Path(__file__).with_name("query_params_golden.json")
RECORD = os.environ.get("OPENHERO_RECORD_QUERY_GOLDEN") == "1"
NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
UID = "00000000-0000-4000-8000-00000000000"  # + a digit: patients' uids

BOOLISH = ("true", "TRUE", "True", "1", "yes", "on", "false", "0", "no", "off", "maybe", " true", "", "١")
NUMBERISH = ("1", "0", "-1", "1.0", " 1", "+1", "١", "abc", "99999999999999999999", "")
TEXT = ("", "x", " Smith ", "ü", "a" * 200, "a" * 201)


@dataclass(frozen=True)
class Param:
    name: str
    values: tuple[str, ...]
    good: str
    bad: str


@dataclass(frozen=True)
class RouteCase:
    path: str  # with placeholders for seeded ids ({alice}, {batch}, ...)
    params: tuple[Param, ...]
    paged: bool = True
    other_paths: tuple[str, ...] = ()  # the same route with other path values (a few queries each)


FIELDS = ("first_name", "last_name", "dob", "nhs_number", "emis_id", "ehr_partner_id", "email", "phone", "x")
PATIENTS_BY_FIELD = (Param("field", FIELDS, "last_name", "x"),
                     Param("search", ("Smith", "smith", "Jones", "", " Smith ", "a\u00fc", "a\x01b"), "Smith",
                           "a\x01b"))
STATUS_VALUES = ("CREATED", "created", "QUEUED", "ENRICHED", "COMPLETED", "queued", "sent", "", "x")

CASES: dict[str, RouteCase] = {case.path.split("?")[0]: case for case in (
    RouteCase("/v1/practitioners", (
        Param("has_availability", BOOLISH, "true", "maybe"),
        Param("location_ids", ("{location}", "{spare}", "{location},{spare}", "abc", "-1", ""), "{location}", "abc"),
        Param("appointment_type_ids", ("{gp_type}", "{nurse_type}", "abc", "1.0", ""), "{gp_type}", "abc"),
    ), paged=False),
    RouteCase("/v1/admins", (
        Param("order_by", ("first_name", "last_name", "First_Name", "first_name ", "", "x"), "first_name", "x"),
        Param("order_descending", BOOLISH, "true", "maybe"),
    )),
    RouteCase("/v1/patients", PATIENTS_BY_FIELD),
    RouteCase("/v2/patients", PATIENTS_BY_FIELD),
    RouteCase("/v3/patients", (
        Param("first_name", ("Alice", "alice", "", " ", "a\x01"), "Alice", "a\x01"),
        Param("last_name", ("Smith", "Smithson", "", "a" * 201), "Smith", "a\x01"),
        Param("dob", ("1951-04-12", "1951-4-12", "12/04/1951", "1951-04-12T00:00:00Z", "x", ""), "1951-04-12", "x"),
        Param("nhs_number", ("9990000018", "999 000 0018", "1234567890", "x", ""), "9990000018", "1234567890"),
        Param("ehr_partner_id", ("EMIS-{alice}", "nope", ""), "EMIS-{alice}", "a\x01"),
    )),
    RouteCase("/v2/patients/{alice}", (
        Param("data_source", ("hero", "ehr", "HERO", "Ehr", " ehr", "", "x", "1"), "ehr", "x"),
    ), paged=False, other_paths=("/v2/patients/{bob}", "/v2/patients/999999", "/v2/patients/abc")),
    RouteCase("/v1/appointment_types", (
        Param("has_availability", BOOLISH, "true", "maybe"),
        Param("location_ids", ("{location}", "{spare}", "{location},{spare}", "abc", ""), "{spare}", "abc"),
    ), paged=False),
    RouteCase("/v1/batch_message", (Param("status", STATUS_VALUES, "CREATED", "x"),)),
    RouteCase("/v1/batch_message/{batch}/recipients", (Param("status", STATUS_VALUES, "CREATED", "x"),),
              other_paths=("/v1/batch_message/999999/recipients", "/v1/batch_message/abc/recipients")),
    RouteCase("/v1/batch_message/{batch}/messages", (Param("status", STATUS_VALUES, "CREATED", "x"),),
              other_paths=("/v1/batch_message/999999/messages", "/v1/batch_message/abc/messages")),
    RouteCase("/v1/templates", (Param("has_follow_up", BOOLISH, "true", "maybe"),)),
    RouteCase("/openhero/v1/messaging/outbox", (Param("message_id", NUMBERISH + ("5", "6"), "5", "abc"),)),
    RouteCase("/v1/webhooks", (
        Param("event_type", ("appointment.confirmed", "form-submission.created", "APPOINTMENT.CONFIRMED", "", "x"),
              "appointment.confirmed", "x"),
    )),
    RouteCase("/v1/forms", (
        Param("search", ("travel", "TRAVEL", "", " ", "zzz", "a" * 201), "travel", "zzz"),
        Param("reply_form", BOOLISH, "false", "maybe"),
        Param("form_type", ("questionnaire", "care_navigation", "Questionnaire", "", "x"), "questionnaire", "x"),
    )),
    RouteCase("/v1/booking-hca/consultants", (
        Param("search", ("", "london", "cardiology manchester", "a" * 200, "a" * 201, "zzz"), "london", "a" * 201),
        Param("fields", ("last_name", "hospitals", "first_name,last_name", "x", ""), "hospitals", "x"),
    )),
    RouteCase("/v1/invoicing/customers", (
        Param("query", ("", "alice", "ACME", "cus_alicepayer00001", "a" * 200, "a" * 201), "acme", "a" * 201),
    )),
    RouteCase("/v1/invoicing/customers/default", (
        Param("patient_id", NUMBERISH + ("{alice}", "{bob}", "{other_patient}", "999999"), "{alice}", "abc"),
    ), paged=False),
)}


def q(value: str) -> str:
    """A query value: URL-encoded, except seeded-id placeholders (filled in at request time)."""
    return re.sub(r"[^{}]+|\{[a-z_]+\}", lambda m: m[0] if m[0].startswith("{") else quote(m[0], safe=""), value)


def matrix(case: RouteCase) -> list[str]:
    """The requests of one route: ``[NOAUTH ]path?query`` templates."""
    queries = ["", "zzz=1"]
    if case.paged:
        queries += ["page_index=x", "page_size=101", "page_size=1&page_index=1"]
    for p in case.params:
        queries += [f"{p.name}={q(v)}" for v in p.values]
        queries += [f"{p.name}={q(p.good)}&{p.name}={q(p.bad)}", f"{p.name}={q(p.bad)}&{p.name}={q(p.good)}",
                    f"{p.name}[]={q(p.good)}", f"{p.name}[]={q(p.bad)}", f"{p.name.upper()}={q(p.good)}",
                    f"{p.name}={q(p.bad)}&zzz=1", f"{p.name}", f"{p.name}={q(p.good)}&{p.name}="]
        if case.paged:
            queries += [f"page_index=x&{p.name}={q(p.bad)}", f"{p.name}={q(p.bad)}&page_size=0",
                        f"{p.name}={q(p.good)}&page_size=1"]
    everything_bad = "&".join(f"{p.name}={q(p.bad)}" for p in case.params)
    queries += [everything_bad, "&".join(f"{p.name}={q(p.good)}" for p in case.params)]
    if case.paged:
        queries.append(f"page_index=-1&{everything_bad}")
    out = [case.path + (f"?{query}" if query else "") for query in queries]
    out.append(f"NOAUTH {case.path}?{everything_bad}")
    for other in case.other_paths:
        out += [other, f"{other}?{case.params[0].name}={q(case.params[0].good)}",
                f"{other}?{case.params[0].name}={q(case.params[0].bad)}"]
    return list(dict.fromkeys(out))


# ---- a world whose ids and names are the same on every backend and run -----------------------------------

async def _restart_ids(db: Database) -> None:
    async with db.engine.begin() as conn:
        if db.is_postgres:
            await conn.exec_driver_sql(
                "DO $$ DECLARE s record; BEGIN FOR s IN SELECT sequence_schema, sequence_name "
                "FROM information_schema.sequences LOOP EXECUTE format('ALTER SEQUENCE %I.%I RESTART', "
                "s.sequence_schema, s.sequence_name); END LOOP; END $$")
        elif (await conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'")).scalar_one():
            await conn.exec_driver_sql("DELETE FROM sqlite_sequence")


async def seed(db: Database, client: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, str]]:
    """The world every route's matrix runs against; returns (placeholders, headers)."""
    await _restart_ids(db)
    address = {"line_1": "1 Query Street", "town": "Leeds", "postcode": "LS1 1AA"}
    tenant = await make_tenant(db, name="Query Surgery", ods_code="Q00001", address=address)
    other = await make_tenant(db, name="Other Surgery", ods_code="Q00002", address=address)
    headers = {**tenant.headers, "x-request-id": "fixed"}
    site = {"line_1": "1 Park Row", "town": "Leeds", "postcode": "LS1 5AB"}
    location = await make_location(db, tenant.id, name="Main site", address=site)
    spare = await make_location(db, tenant.id, name="Spare site", address=site)
    doctor = await make_practitioner(db, tenant.id, last_name="Ahmed")
    await make_practitioner(db, tenant.id, last_name="Brown")
    await place_practitioner(db, doctor.id, [location.id])
    gp_type = await make_appointment_type(db, tenant.id, location_ids=[location.id])
    nurse_type = await make_appointment_type(db, tenant.id, name="Nurse review", practitioner_type="Nurse",
                                             location_ids=[spare.id])
    start = (NOW + timedelta(days=2)).replace(hour=9, minute=0)
    await make_slots(db, tenant.id, practitioner_id=doctor.id, location_id=location.id,
                     appointment_type_id=gp_type.id, start=start, count=2)
    await make_admin(db, tenant.id, first_name="Zoe", email="zoe@query.test")
    await make_admin(db, tenant.id, first_name="Adam", email="adam@query.test")
    alice = await make_patient(db, tenant.id, first_name="Alice", last_name="Smith", email="alice@query.test",
                               nhs_number="9990000018", dob=date(1951, 4, 12), uid=f"{UID}1")
    bob = await make_patient(db, tenant.id, first_name="Bob", last_name="Jones", email="bob@query.test", uid=f"{UID}2")
    other_patient = await make_patient(db, other.id, first_name="Olive", last_name="Other", email="o@query.test",
                                 uid=f"{UID}3")
    await link_to_ehr(db, alice)
    async with db.session() as session:
        await seed_demo_messaging(session, tenant.id, NOW)
        await seed_demo_forms(session, tenant.id, NOW)
        await session.commit()
    for message_id in (5, 6):
        await make_row(db, SandboxOutboxEntry, practice_group_id=tenant.id, message_id=message_id, channel="sms",
                       recipient="07700900123", body=f"message {message_id}", outcome="delivered")
    payer = await make_row(db, Customer, practice_group_id=tenant.id, stripe_id="cus_alicepayer00001",
                           patient_id=alice.id, name="Alice Smith", email="alice@query.test", phone="07700900123")
    await make_row(db, DefaultPayer, practice_group_id=tenant.id, patient_id=alice.id, customer_id=payer.id,
                   set_at=NOW)
    await make_row(db, Customer, practice_group_id=tenant.id, stripe_id="cus_acmehaulage0001", name="Acme Haulage",
                   email="accounts@acme.test")
    batch = await client.post("/v1/batch_message", headers=headers, json={
        "name": "Flu clinic", "channel": "SMS", "content": "Flu clinic on Saturday.",
        "recipients": [{"nhs_number": "9990000018", "dob": "1951-04-12"}, {"nhs_number": "x", "dob": "1970-01-01"}]})
    assert batch.status_code == 200, batch.text
    for event_type in ("appointment.confirmed", "form-submission.created"):
        hook = await client.post("/v1/webhooks", headers=headers, json={
            "event_type": event_type, "url": "https://hooks.example.test/in", "signing_key": "k" * 20})
        assert hook.status_code == 200, hook.text
    names = {"alice": alice.id, "bob": bob.id, "other_patient": other_patient.id, "location": location.id,
             "spare": spare.id, "gp_type": gp_type.id, "nurse_type": nurse_type.id, "batch": batch.json()["id"]}
    return {k: str(v) for k, v in names.items()}, headers


# ---- requests and their normalised answers ---------------------------------------------------------------

_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
_MINTED = re.compile(r"^(cus|card)_[A-Za-z0-9]{16}$")


def normalised(value: Any) -> Any:
    """``value`` with wall-clock timestamps and randomly minted Stripe ids replaced (they differ per run)."""
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    if isinstance(value, str) and _TIME.match(value):
        return "<time>"
    if isinstance(value, str) and _MINTED.match(value) and value not in ("cus_alicepayer00001", "cus_acmehaulage0001"):
        return "<minted>"
    return value


async def send(app: FastAPI, template: str, names: dict[str, str], headers: dict[str, str]) -> httpx.Response:
    noauth = template.startswith("NOAUTH ")
    url = template.removeprefix("NOAUTH ").format(**names)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(url, headers={"x-request-id": "fixed"} if noauth else headers)


def digest(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.mark.parametrize("path", list(CASES))
async def test_answers_are_the_recorded_ones(path: str, app, client, clean, backend: str) -> None:  # type: ignore[no-untyped-def]
    names, headers = await seed(clean, client)
    got: dict[str, list[Any]] = {}
    bodies: dict[str, Any] = {}
    for template in matrix(CASES[path]):
        r = await send(app, template, names, headers)
        assert r.headers["content-type"] == "application/json", template
        body = normalised(r.json())
        bodies[digest(body)] = body
        got[template] = [r.status_code, digest(body)]
    if RECORD and backend == "sqlite":
        golden = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {"requests": {}, "bodies": {}}
        golden["requests"][path] = got
        golden["bodies"].update(bodies)
        used = {key for answers in golden["requests"].values() for _status, key in answers.values()}
        golden["bodies"] = {key: body for key, body in sorted(golden["bodies"].items()) if key in used}
        golden["requests"] = dict(sorted(golden["requests"].items()))
        GOLDEN.write_text(json.dumps(golden, indent=1, ensure_ascii=False, sort_keys=False) + "\n")
        return
    golden = json.loads(GOLDEN.read_text())
    expected = golden["requests"][path]
    assert list(got) == list(expected)
    for template, (status, key) in expected.items():
        assert (got[template][0], bodies[got[template][1]]) == (status, golden["bodies"][key]), template
    assert {status for status, _ in expected.values()} >= {200, 400, 401}


# ---- FastAPI extracting the documented parameters --------------------------------------------------------

@contextmanager
def fastapis_documented_handlers(app: FastAPI, paths: set[str]) -> Iterator[None]:
    """The GET routes at ``paths`` served, meanwhile, by FastAPI's own handler for their documented graph:
    FastAPI extracts and validates every parameter OpenAPI shows, and calls the documented dependencies."""
    saved = []
    for r in app.router.routes:
        if isinstance(r, APIRoute) and r.path in paths and "GET" in r.methods:
            saved.append((r, r.app))
            r.app = wrap_app_with_body_limit(request_response(APIRoute.get_route_handler(r)), r.max_body_size)
    assert len(saved) == len(paths)
    try:
        yield
    finally:
        for r, served in saved:
            r.app = served


def route_path(case_path: str) -> str:
    """The route's path template (``/v2/patients/{id}``) for a case path (``/v2/patients/{alice}``)."""
    return re.sub(r"\{[a-z_]+\}", "{id}", case_path)


@pytest.mark.parametrize("path", list(CASES))
async def test_answers_are_fastapis_for_the_documented_parameters(path: str, settings, clean, clock) -> None:  # type: ignore[no-untyped-def]
    served, documented = create_app(settings, clock=clock, db=clean), create_app(settings, clock=clock, db=clean)
    transport = httpx.ASGITransport(app=served, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        names, headers = await seed(clean, client)
    for template in matrix(CASES[path]):
        got = await send(served, template, names, headers)
        with fastapis_documented_handlers(documented, {route_path(CASES[path].path)}):
            expected = await send(documented, template, names, headers)
        assert (got.status_code, got.headers.raw, got.content) == (
            expected.status_code, expected.headers.raw, expected.content), template


def test_the_routes_compile(app) -> None:  # type: ignore[no-untyped-def]
    rows = {(r.methods, r.path): r for r in compiled_routes(app)}
    for case in CASES.values():
        row = rows[("GET", route_path(case.path))]
        assert row.compiled, (row.path, row.reason)


# ---- from_query on every kind of parameter, against FastAPI reading the same signature ------------------

class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@from_query
async def _plain(
    required: Annotated[str, Query()],
    n: Annotated[int, Query(ge=1, le=10)] = 5,
    flag: Annotated[bool, Query()] = False,
    maybe: Annotated[int | None, Query()] = None,
    ratio: float = 1.5,
    kind: Annotated[Literal["a", "b"], Query()] = "a",
    colour: Annotated[Colour | None, Query()] = None,
    name: Annotated[str, Query(alias="full-name", min_length=2, max_length=5, pattern="^[a-z]+$")] = "xx",
    day: Annotated[date | None, Query()] = None,
) -> dict[str, Any]:
    return {"required": required, "n": n, "flag": flag, "maybe": maybe, "ratio": ratio, "kind": kind,
            "colour": colour, "name": name, "day": day}


@from_query
async def _listed(
    request: Request,
    page: PageDep,
    tags: Annotated[list[int], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
    words: Annotated[list[str] | None, Query(alias="word", max_length=3)] = None,
    strict: Annotated[bool, Query()] = True,
) -> dict[str, Any]:
    return {"path": request.url.path, "page": [page.page_index, page.page_size], "tags": tags, "words": words,
            "strict": strict}


@from_query
async def _nested(inner: Annotated[dict[str, Any], Depends(_plain)], below: Annotated[int, Query(lt=3)] = 0
                  ) -> dict[str, Any]:
    return {**inner, "below": below}


def _define(router: APIRouter) -> None:
    @router.get("/plain")
    async def plain(values: Annotated[dict[str, Any], Depends(_plain)]) -> dict[str, Any]:
        return values

    @router.get("/listed/{item}")
    async def listed(item: str, values: Annotated[dict[str, Any], Depends(_listed)]) -> dict[str, Any]:
        return {"item": item, **values}

    @router.get("/nested")
    async def nested(values: Annotated[dict[str, Any], Depends(_nested)]) -> dict[str, Any]:
        return values


SYNTHETIC = [
    "/plain", "/plain?required=", "/plain?required=r", "/plain?required=r&required=s", "/plain?required[]=r",
    *(f"/plain?required=r&n={quote(v)}" for v in NUMBERISH + ("10", "11", "5.5", "1e1", "0x1", "1_0")),
    *(f"/plain?required=r&flag={quote(v)}" for v in BOOLISH + ("y", "n", "t", "f", "2", "True ", "off&flag=on")),
    *(f"/plain?required=r&maybe={quote(v)}" for v in ("", "1", "x", "null", "None")),
    *(f"/plain?required=r&ratio={quote(v)}" for v in ("", "2", "2.5", "1e3", "nan", "inf", "-0", "x", "١")),
    *(f"/plain?required=r&kind={quote(v)}" for v in ("a", "b", "A", "", "c", " a")),
    *(f"/plain?required=r&colour={quote(v)}" for v in ("red", "RED", "blue", "", "green")),
    *(f"/plain?required=r&full-name={quote(v)}" for v in ("ab", "a", "abcdef", "AB", "", "a b", "abcde")),
    "/plain?required=r&name=ab", "/plain?required=r&full_name=ab",
    *(f"/plain?required=r&day={quote(v)}" for v in ("2026-03-02", "2026-3-2", "2026-02-30", "20260302", "x", "0")),
    "/plain?n=0&flag=x&kind=c&full-name=A&day=x", "/plain?required=r&n=0&flag=x&maybe=x&ratio=x&colour=x",
    "/listed/i", "/listed/i?tags=1&tags=2", "/listed/i?tags=1&tags=x&tags=y", "/listed/i?tags[]=1", "/listed/i?tags=",
    "/listed/i?word=abc&word=abcd&word=", "/listed/i?word=a", "/listed/i?strict=no&tags=1.0",
    "/listed/i?page_index=x&tags=x", "/listed/i?page_size=2&page_index=3&tags=4&word=ab",
    "/nested", "/nested?required=r", "/nested?below=3", "/nested?required=r&below=2",
    "/nested?n=0&below=x", "/nested?required=r&n=11&below=-5",
]


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status_code)


async def test_from_query_reads_and_rejects_as_fastapi_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same routes, served by the runtimes (compiled) and by FastAPI reading the documented signatures:
    the same values, and the same errors (FastAPI's own 422 body: type, loc, msg, input and ctx)."""
    served, documented = FastAPI(), FastAPI()
    for app in (served, documented):  # the page's ValidationFailed as a 400; FastAPI's own 422 for the rest
        app.add_exception_handler(ApiError, _api_error)
    router = APIRouter(route_class=ApiRoute)
    _define(router)
    include_routes(served, router)
    plain_router = APIRouter()  # FastAPI's APIRoute: its handler extracts every documented parameter
    _define(plain_router)
    include_routes(documented, plain_router)
    assert all(row.compiled for row in compiled_routes(served)), compiled_routes(served)
    statuses = set()
    for url in SYNTHETIC:
        answers = []
        for app in (served, documented):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                r = await client.get(url)
            answers.append((r.status_code, r.content))
        assert answers[0] == answers[1], url
        statuses.add(answers[0][0])
    assert statuses == {200, 400, 422}


async def _with_header(x_key: Annotated[str, Header()]) -> str:
    return x_key


async def _one() -> int:
    return 1


async def _with_dependency(one: Annotated[int, Depends(_one)]) -> int:
    return one


def test_from_query_refuses_what_it_cannot_serve() -> None:
    for documented in (_with_header, _with_dependency):
        with pytest.raises(TypeError, match="only query parameters"):
            from_query(documented)
