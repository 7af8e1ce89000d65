async def test_me(api, tenant):
    r = await api.get("/v1/me")
    assert r.status_code == 200, r.text
    assert r.json()["id"] == str(tenant.id)


async def test_shapes(client, api):
    r = await api.patch("/v1/me", content=b"{bad", headers={"content-type": "application/json"})
    print(r.status_code, r.json())
    r = await api.patch("/v1/me", json={"name": 5, "address": {"line_1": []}})
    print(r.status_code, r.json())
    r = await api.get("/v1/nope")
    print(r.status_code, r.json())
    r = await api.delete("/v1/me")
    print(r.status_code, r.json())
    r = await api.get("/v1/admins?page_size=1000")
    print(r.status_code, r.json())
    r = await client.get("/v1/me", headers={"x-api-key": "x"})
    print(r.status_code, r.json())
    r = await api.get("/openapi.json")
    print(r.status_code, len(r.text))
