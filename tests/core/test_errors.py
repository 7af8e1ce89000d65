"""One error body for every status (NOTES.md "Errors")."""

import logging

import pytest
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from openhero.app import create_app
from openhero.core.errors import ErrorResponse, error_body, error_item, plain_message
from tests.core.test_auth import assert_error


async def test_validation_errors_list_each_bad_field(api):
    r = await api.patch("/v1/me", json={"name": 5, "address": {"postcode": ["x"]}, "prescription_partner": "nope"})
    body = assert_error(r, 400, "invalid_type")
    paths = {tuple(item["path"]) for item in body["message"]}
    assert paths == {("name",), ("address", "postcode"), ("prescription_partner",)}


async def test_malformed_json_is_400(api):
    r = await api.patch("/v1/me", content=b'{"name": ', headers={"content-type": "application/json"})
    assert_error(r, 400, "invalid_json")


async def test_unknown_route_is_404_in_contract_shape(api):
    body = assert_error(await api.get("/v1/does-not-exist"), 404, "not_found")
    assert body["message"][0]["path"] == ["/v1/does-not-exist"]


async def test_wrong_method_is_405_in_contract_shape(api):
    assert_error(await api.delete("/v1/me"), 405, "method_not_allowed")


async def test_unknown_and_foreign_ids_are_404(api, clean, tenant):
    from tests.builders import make_admin, make_tenant

    other = await make_tenant(clean)
    foreign = await make_admin(clean, other.id)
    for raw in (str(foreign.id), "999999", "abc", "99999999999999999999999"):
        assert_error(await api.patch(f"/v1/admins/{raw}", json={"external_prescriber_id": "X1"}), 404, "not_found")


async def test_unexpected_exception_is_500_in_shape_with_request_id(settings, clean, clock, tenant, caplog):
    app = create_app(settings, clock=clock, db=clean)
    boom = APIRouter()

    @boom.get("/boom")
    async def explode() -> None:
        raise RuntimeError("kaboom")

    app.include_router(boom)
    import httpx

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        with caplog.at_level(logging.ERROR, logger="openhero.errors"):
            r = await c.get("/boom", headers={"x-request-id": "req-123"})
    body = assert_error(r, 500, "internal_error")
    assert "req-123" in body["message"][0]["message"]
    assert any("req-123" in rec.getMessage() for rec in caplog.records)


async def test_openapi_requires_both_headers_together(client):
    schema = (await client.get("/openapi.json")).json()
    assert schema["paths"]["/v2/tasks"]["get"]["security"] == [{"apiKeyAuth": [], "practiceGroupId": []}]
    assert schema["paths"]["/v2/tasks"]["get"]["operationId"] == "listTasks"


# ---- ErrorResponse: orjson's bytes must be JSONResponse's ----------------------------------------------------


_SCALARS = st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.text()
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner,
                                                                                                   max_size=4),
                       max_leaves=12)


@hsettings(max_examples=400, deadline=None)
@given(items=st.lists(st.fixed_dictionaries({"code": st.text(), "expected": st.text(),
                                             "path": st.lists(st.text() | st.integers(), max_size=3)},
                                            optional={"message": st.text(), "extra": _VALUES}), max_size=3),
       status=st.integers(min_value=400, max_value=599))
def test_error_bodies_are_written_byte_for_byte_as_jsonresponse_writes_them(items, status) -> None:
    body = error_body(status, items)
    assert ErrorResponse(body, status_code=status).body == JSONResponse(body, status_code=status).body


@pytest.mark.parametrize("content", [
    {"big": 2**70},  # beyond 64 bits: orjson refuses it, JSONResponse writes it
    {1: "non-string key"},
    {"nested": [{"n": -(2**64)}]},
])
def test_what_orjson_refuses_is_written_by_jsonresponse(content) -> None:
    assert ErrorResponse(content).body == JSONResponse(content).body


def test_a_body_jsonresponse_cannot_write_still_fails() -> None:
    for response in (ErrorResponse, JSONResponse):
        with pytest.raises(UnicodeEncodeError):
            response({"lone": "\ud800"})


def test_python_messages_are_still_replaced_when_remembered() -> None:
    for _ in range(2):  # the second answer comes from plain_message's memory
        assert plain_message("invalid literal for int() with base 10: 'x'") == "must be a whole number"
        assert error_item("c", "Slot not found")["expected"] == "Slot not found"
