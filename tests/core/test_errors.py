"""One error body for every status (NOTES.md "Errors")."""

import logging

from fastapi import APIRouter

from openhero.app import create_app
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
