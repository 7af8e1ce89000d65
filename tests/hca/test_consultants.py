"""Booking - HCA: the sandbox consultant directory (search, fields, paging, lookup, scope)."""

from tests.builders import make_tenant
from tests.core.test_auth import assert_error


def names(r) -> list[str]:
    assert r.status_code == 200, r.text
    return [c["last_name"] for c in r.json()["data"]]


async def test_everyone_sorted_and_paged(api):
    r = await api.get("/v1/booking-hca/consultants")
    assert r.json()["count"] == 15 and len(r.json()["data"]) == 15
    assert names(r) == sorted(names(r))
    r2 = await api.get("/v1/booking-hca/consultants?page_size=5&page_index=2")
    assert names(r2) == names(r)[10:] and r2.json()["count"] == 15


async def test_free_text_words_must_all_match(api):
    assert set(names(await api.get("/v1/booking-hca/consultants?search=cardiology"))) == {"Okafor", "Whitfield"}
    assert names(await api.get("/v1/booking-hca/consultants", params={"search": "cardiology harley"})) == [
        "Okafor", "Whitfield"]
    assert names(await api.get("/v1/booking-hca/consultants", params={"search": "knee wellington"})) == ["Hartley"]
    assert names(await api.get("/v1/booking-hca/consultants?search=zzz")) == []


async def test_fields_choose_what_is_searched(api):
    # "Hartley" is a last name and (Harley) nearly a hospital; "grace" is a first name and a hospital.
    assert names(await api.get("/v1/booking-hca/consultants?search=grace&fields=first_name")) == ["Ellison"]
    hospital = names(await api.get("/v1/booking-hca/consultants?search=grace&fields[]=hospitals"))
    assert "Ellison" not in hospital and "Hartley" in hospital
    both = names(await api.get("/v1/booking-hca/consultants?search=grace&fields=first_name&fields=last_name"))
    assert both == ["Ellison"]
    r = await api.get("/v1/booking-hca/consultants?search=x&fields=salary")
    body = assert_error(r, 400, "invalid_enum_value")
    assert body["message"][0]["path"] == ["fields", 0]


async def test_lookup_by_gmc_number(api):
    r = await api.get("/v1/booking-hca/consultants/7100672")
    assert r.status_code == 200
    body = r.json()
    assert body["full_name"] == "Dr Helen Okafor" and body["specialty"] == "Cardiology"
    assert {h["name"] for h in body["hospitals"]} == {"The Harley Street Clinic", "London Bridge Hospital"}
    assert_error(await api.get("/v1/booking-hca/consultants/7999999"), 404, "not_found")
    assert_error(await api.get("/v1/booking-hca/consultants/12345"), 400, "invalid_string")


async def test_needs_booking_scope(client, clean):
    tenant = await make_tenant(clean, scopes=("messaging",))
    for path in ("/v1/booking-hca/consultants", "/v1/booking-hca/consultants/7100672"):
        assert_error(await client.get(path, headers=tenant.headers), 403, "forbidden")
    assert_error(await client.get("/v1/booking-hca/consultants"), 401, "unauthorised")
