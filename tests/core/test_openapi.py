"""The published OpenAPI document says what the server does: the statuses each operation answers, each with
the one error body; typed parameters; Hero's examples; valid OpenAPI; printable without a server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from tests.builders import Tenant

ERROR_REF = "#/components/schemas/HeroErrorResponse"
METHODS = ("get", "put", "post", "patch", "delete")


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()
            if method in METHODS]


def by_id(doc: dict[str, Any], operation_id: str) -> dict[str, Any]:
    return next(op for _, _, op in operations(doc) if op["operationId"] == operation_id)


def deref(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        _, kind, name = node["$ref"].rsplit("/", 2)
        return doc["components"][kind][name]
    return node


def statuses(op: dict[str, Any]) -> set[int]:
    return {int(s) for s in op["responses"]}


def param(op: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in op.get("parameters", []) if p["name"] == name)


@pytest.fixture
async def doc(client: httpx.AsyncClient) -> dict[str, Any]:
    return (await client.get("/openapi.json")).json()


async def test_document_is_valid_openapi_without_422(doc):
    validate(doc)
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert "ValidationError" not in doc["components"]["schemas"]
    for path, method, op in operations(doc):
        assert "422" not in op["responses"], (method, path)
        for status, response in op["responses"].items():
            response = deref(doc, response)
            if int(status) >= 400:
                assert response["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}, (path, status)
                assert response["content"]["application/json"]["example"]["statusCode"] == int(status)
    error = doc["components"]["schemas"]["HeroErrorResponse"]
    assert error["required"] == ["error", "statusCode", "message"]


async def test_statuses_follow_what_each_route_can_answer(doc):
    for path, method, op in operations(doc):
        found = statuses(op)
        if op.get("security"):
            assert {401, 403, 429} <= found, (method, path)
        if "{" in path:
            assert {400, 404} <= found, (method, path)
        if "requestBody" in op:
            assert {400, 413} <= found, (method, path)
    assert statuses(by_id(doc, "getPracticeGroupById")) == {200, 401, 403, 429}
    assert statuses(by_id(doc, "getAppointment")) == {200, 400, 401, 403, 404, 429}
    assert statuses(by_id(doc, "createAppointment")) == {200, 400, 401, 403, 404, 409, 413, 429}
    assert statuses(by_id(doc, "bookAppointment")) == {200, 400, 401, 403, 404, 409, 429}
    assert {404, 409, 502, 503} <= statuses(by_id(doc, "registerPatientPds"))
    assert 409 not in statuses(by_id(doc, "listSlots")) and 502 not in statuses(by_id(doc, "sendMessage"))
    assert by_id(doc, "listSlots")["responses"]["429"] == {"$ref": "#/components/responses/TooManyRequests"}
    assert doc["components"]["responses"]["TooManyRequests"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert by_id(doc, "registerPatientPds")["responses"]["404"]["description"].startswith("PDS traced no patient")
    assert by_id(doc, "listTasks")["security"] == [{"apiKeyAuth": [], "practiceGroupId": []}]


async def test_parameters_carry_their_real_types(doc):
    types = by_id(doc, "listAppointmentTypes")
    assert param(types, "has_availability")["schema"] == {"type": "boolean"}
    assert param(types, "location_ids")["schema"] == {"type": "array", "items": {"type": "string",
                                                                                 "pattern": r"^\d+$"}}
    assert param(by_id(doc, "listTemplates"), "has_follow_up")["schema"] == {"type": "boolean"}
    slots = by_id(doc, "listSlots")
    assert param(slots, "page_index")["schema"]["type"] == "integer"
    assert param(slots, "page_index")["schema"]["minimum"] == 0
    assert param(slots, "page_size")["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    assert {"type": "string", "format": "date"} in param(slots, "start_date")["schema"]["anyOf"]
    assert param(by_id(doc, "getAppointment"), "id")["schema"] == {"type": "string", "pattern": r"^\d+$"}
    tasks = by_id(doc, "listTasks")
    assert param(tasks, "status[]")["schema"]["items"]["enum"] == ["open", "in_progress", "closed"]
    assert param(tasks, "order_descending[]")["schema"] == {"type": "array", "items": {"type": "boolean"}}
    assert param(tasks, "status[]")["explode"] is True
    assert param(by_id(doc, "listPatientsV3"), "dob")["schema"] == {"type": "string", "format": "date"}
    assert "pattern" not in param(by_id(doc, "listPatientsV3"), "ehr_partner_id")["schema"]  # an EHR's own id
    for _, _, op in operations(doc):  # optional query parameters are never "or null"
        for p in op.get("parameters", []):
            assert {"type": "null"} not in p["schema"].get("anyOf", []), (op["operationId"], p["name"])


async def test_hero_guide_examples_are_on_the_operations(doc):
    pds = by_id(doc, "registerPatientPds")
    request = pds["requestBody"]["content"]["application/json"]["examples"]
    assert request["byNhsNumber"]["value"] == {"nhs_number": "900 000 0009", "dob": "2010-10-22"}
    assert set(pds["responses"]["200"]["content"]["application/json"]["examples"]) == {"registered",
                                                                                       "verificationRequired"}
    for operation_id in ("createAppointment", "sendMessage", "createWebhook", "updateTask", "createBatchMessage"):
        assert by_id(doc, operation_id)["requestBody"]["content"]["application/json"]["examples"], operation_id


async def test_every_example_matches_its_schema(doc):
    from openapi_schema_validator import OAS31Validator

    checked = 0
    for path, method, op in operations(doc):
        bodies = [op.get("requestBody", {})] + [deref(doc, r) for r in op["responses"].values()]
        for body in bodies:
            media = body.get("content", {}).get("application/json", {})
            samples = [e["value"] for e in media.get("examples", {}).values()]
            samples += [media["example"]] if "example" in media else []
            for sample in samples:
                schema = {**media["schema"], "components": doc["components"]}
                errors = [e.message for e in OAS31Validator(schema).iter_errors(sample)]
                assert not errors, (method, path, sample, errors)
                checked += 1
    assert checked > 40  # the shared error responses are checked once, through the operations


async def test_request_examples_pass_the_servers_validation(doc, client: httpx.AsyncClient, tenant: Tenant):
    """Each request example is a body the server accepts: no 400 (unknown ids in it may still be 404)."""
    sent = 0
    for path, method, op in operations(doc):
        examples = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("examples", {})
        for name, sample in examples.items():
            r = await client.request(method, _fill(path, "99999999"), headers=tenant.headers, json=sample["value"])
            assert r.status_code != 400 and r.status_code in statuses(op), (op["operationId"], name, r.text[:300])
            sent += 1
    assert sent >= 15


def samples(doc: dict[str, Any], schema: dict[str, Any]) -> list[Any]:
    """Values the declared schema allows, at its edges: each enum value, the integer bounds, a date..."""
    schema = deref(doc, schema)
    if "examples" in schema:
        return list(schema["examples"])
    if "anyOf" in schema:
        return [v for option in schema["anyOf"] for v in samples(doc, option)]
    if "enum" in schema:
        return list(schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return [[v] for v in samples(doc, schema["items"])]
    if kind == "boolean":
        return ["true", "false"]
    if kind == "integer":
        return [str(schema.get(edge)) for edge in ("minimum", "maximum") if edge in schema] or ["1"]
    if schema.get("format") == "date":
        return ["2030-01-01"]
    if schema.get("format") == "date-time":
        return ["2030-01-01T09:00:00Z"]
    if schema.get("pattern", "").startswith(r"^\d+(,"):
        return ["1", "1,2"]
    return ["1"]


async def test_every_value_the_document_allows_passes_the_servers_validation(doc, client: httpx.AsyncClient,
                                                                            tenant: Tenant):
    """Declared types are a promise to generated clients: booleans, integer bounds, dates, each enum value and
    id patterns all pass validation (a 400 may only blame another parameter, e.g. `field` needs `search`; an
    id that names nothing may be a 404)."""
    tried = 0
    for path, method, op in operations(doc):
        if method != "get" or "{" in path:
            continue
        for p in op.get("parameters", []):
            others = {o["name"].removesuffix("[]") for o in op["parameters"] if o is not p}
            for value in samples(doc, p["schema"]):
                r = await client.get(path, headers=tenant.headers, params={p["name"]: value})
                blamed = {str(item["path"][0]) if item["path"] else "" for item in r.json()["message"]} \
                    if r.status_code == 400 else set()
                assert r.status_code in statuses(op) and blamed <= others, (
                    op["operationId"], p["name"], value, r.text[:300])
                tried += 1
    assert tried >= 100


async def test_typed_parameters_still_accept_strings_at_runtime(api):
    assert (await api.get("/v1/templates", params={"has_follow_up": "true"})).status_code == 200
    assert (await api.get("/v1/appointment_types", params={"has_availability": "1"})).status_code == 200
    assert (await api.get("/v1/admins", params={"page_size": "5", "page_index": "0"})).status_code == 200
    assert (await api.get("/v1/admins", params={"page_size": "five"})).status_code == 400


def _fill(path: str, value: str) -> str:
    out, rest = "", path
    while "{" in rest:
        head, _, tail = rest.partition("{")
        out += head + value
        rest = tail.partition("}")[2]
    return out + rest


async def test_every_answer_to_bad_input_is_a_documented_status(doc, client: httpx.AsyncClient, tenant: Tenant):
    """No credentials, unknown and malformed ids, bad query values, empty and malformed bodies: whatever the
    server answers must be a status the operation documents, with the error body."""
    seen: set[int] = set()

    async def check(method: str, path: str, op: dict[str, Any], **kwargs: Any) -> None:
        r = await client.request(method, path, **kwargs)
        assert r.status_code in statuses(op), (method, path, kwargs, r.status_code, r.text[:300])
        seen.add(r.status_code)
        if r.status_code >= 400:
            body = r.json()
            assert body["error"] is True and body["statusCode"] == r.status_code and body["message"]

    auth = tenant.headers
    for path, method, op in operations(doc):
        if not op.get("security"):
            continue
        await check(method, _fill(path, "1"), op)
        await check(method, _fill(path, "1"), op, headers={"x-api-key": "ohk_" + "x" * 40,
                                                           "x-practice-group-id": str(tenant.id)})
        await check(method, _fill(path, "99999999"), op, headers=auth)
        await check(method, _fill(path, "abc"), op, headers=auth)
        for p in op.get("parameters", []):
            if p["in"] == "query":
                await check(method, _fill(path, "99999999"), op, headers=auth, params={p["name"]: "x!"})
        if "requestBody" in op:
            await check(method, _fill(path, "99999999"), op, headers=auth, json={})
            await check(method, _fill(path, "99999999"), op, headers={**auth, "content-type": "application/json"},
                        content=b"{not json")
    assert {400, 401, 404} <= seen


def test_openapi_command_prints_the_document_without_a_server(tmp_path):
    """As a build pipeline runs it: a separate process, outside sandbox mode, with the default secret and a
    database that does not exist (and is not created)."""
    from typer.testing import CliRunner

    from openhero.cli import app
    from openhero.settings import get_settings

    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHERO_")}
    env["OPENHERO_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'never-created.db'}"
    target = tmp_path / "openapi.json"
    out = subprocess.run([sys.executable, "-m", "openhero.cli", "openapi", "--output", str(target)],
                         capture_output=True, text=True, env=env, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    written = json.loads(target.read_text())
    assert written["openapi"].startswith("3.1") and "/v1/appointments/{id}/book" in written["paths"]
    assert not (tmp_path / "never-created.db").exists()

    get_settings.cache_clear()
    try:  # without --output the document goes to stdout, and only the document
        printed = CliRunner().invoke(app, ["openapi"], env={"OPENHERO_DATABASE_URL": env["OPENHERO_DATABASE_URL"]})
    finally:
        get_settings.cache_clear()
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout)["paths"] == written["paths"]
