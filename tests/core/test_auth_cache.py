"""Key cache and Elements token binding, over real HTTP (the app served by uvicorn on loopback).

- A token is checked against the key that minted it on every use: ids in its claims, key not revoked,
  acting group in the key's network, scopes no wider than the key's current ones.
- The hot path makes no key query; a change committed by another process (the CLI) or written behind the
  app's back takes effect once ``REVALIDATE_SECONDS`` have passed, a change committed in this process on the
  next request. (Asserted as "the first request after that interval", not as a wall-clock race: a loaded
  CI machine can stall one request for seconds.)
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import event, text

from openhero.core import tokens
from openhero.core.auth import ACCESS_TOKEN_PURPOSE, REVALIDATE_SECONDS, KeyCache
from openhero.practice import keys as key_service
from tests.builders import make_network, make_practice_group, make_tenant
from tests.conftest import TEST_SECRET


def forge(clock, **claims) -> str:  # type: ignore[no-untyped-def]
    """A token signed with the server's secret (what anyone holding the sandbox secret can make)."""
    return tokens.mint(TEST_SECRET, purpose=ACCESS_TOKEN_PURPOSE, now=clock.now(), ttl=timedelta(minutes=30),
                       **claims)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def error_code(r: httpx.Response) -> tuple[int, str]:
    body = r.json()
    assert body["error"] is True and body["statusCode"] == r.status_code, body
    return r.status_code, body["message"][0]["code"]


async def after_revalidation(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> httpx.Response:
    """The first request once ``REVALIDATE_SECONDS`` have passed since a change: the cache must have checked
    the database again by then, however slow the machine is (a revalidation that began before the change
    counts from its start, so it cannot satisfy this one)."""
    await asyncio.sleep(REVALIDATE_SECONDS + 0.05)
    return await client.get(path, headers=headers)


# ---- token binding -------------------------------------------------------------------------------------

@pytest.mark.parametrize("claims", [
    {"sub": "abc", "practice_group_id": "{group}"},
    {"sub": "{key}", "practice_group_id": "12x"},
    {"sub": "\u0663", "practice_group_id": "{group}"},  # Arabic-Indic 3: isdigit() but not an id
    {"sub": "{key}", "practice_group_id": "99999999999999999999999"},
    {"sub": None, "practice_group_id": "{group}"},
    {"sub": "{key}", "practice_group_id": {"id": 1}},
    {"sub": "{key}", "practice_group_id": "{group}", "scopes": "booking"},
])
async def test_token_with_malformed_claims_is_401(live_server, tenant, clock, claims):
    values = {k: (v.format(key=tenant.key.id, group=tenant.id) if isinstance(v, str) else v)
              for k, v in claims.items()}
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as c:
        r = await c.get("/v1/me", headers=bearer(forge(clock, **values)))
    assert error_code(r) == (401, "unauthorised"), r.text
    assert r.json()["message"][0]["path"] == ["authorization"]


async def test_token_for_a_group_outside_the_keys_network_is_403(live_server, clean, clock):
    network = await make_network(clean)
    hub = await make_tenant(clean, network_id=network.id)
    member = await make_practice_group(clean, network_id=network.id)
    stranger = await make_practice_group(clean)
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as c:
        # A token acting for a member of the key's network works (cross-organisation, as with the key).
        ok = forge(clock, sub=str(hub.key.id), practice_group_id=str(member.id), scopes=["booking"])
        r = await c.get("/v1/me", headers=bearer(ok))
        assert r.status_code == 200 and r.json()["id"] == str(member.id)
        for group in (stranger.id, 987654321):
            forged = forge(clock, sub=str(hub.key.id), practice_group_id=str(group), scopes=["booking"])
            r = await c.get("/v1/me", headers=bearer(forged))
            assert error_code(r) == (403, "forbidden"), r.text


async def test_token_scopes_are_capped_by_the_keys_current_scopes(live_server, clean, clock):
    messaging_only = await make_tenant(clean, scopes=["messaging"])
    forged = forge(clock, sub=str(messaging_only.key.id), practice_group_id=str(messaging_only.id),
                   scopes=["booking", "booking_links", "messaging"])
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as c:
        assert error_code(await c.get("/v1/slots", headers=bearer(forged))) == (403, "forbidden")
        caps = (await c.get("/v1/me/capabilities", headers=bearer(forged))).json()
        assert caps["scopes"] == ["messaging"] and caps["booking"] is False

        # A real token loses a scope as soon as its key does (the change made behind the app's back).
        full = await make_tenant(clean)
        token = (await c.post("/v1/access_token", headers=full.headers)).json()["access_token"]
        assert (await c.get("/v1/slots", headers=bearer(token))).status_code == 200
        async with clean.engine.begin() as conn:
            await conn.execute(text("UPDATE api_keys SET scopes = :s WHERE id = :id"),
                               {"s": '["messaging"]', "id": full.key.id})
        assert error_code(await after_revalidation(c, "/v1/slots", bearer(token))) == (403, "forbidden")


async def test_token_of_a_key_revoked_elsewhere_dies_within_a_second(live_server, clean, tenant):
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as c:
        token = (await c.post("/v1/access_token", headers=tenant.headers)).json()["access_token"]
        assert (await c.get("/v1/me", headers=bearer(token))).status_code == 200
        async with clean.engine.begin() as conn:
            await conn.execute(text("UPDATE api_keys SET revoked_at = created_at WHERE id = :id"),
                               {"id": tenant.key.id})
        assert error_code(await after_revalidation(c, "/v1/me", bearer(token))) == (401, "unauthorised")


async def test_token_stops_working_when_its_group_leaves_the_network(live_server, clean, clock):
    network = await make_network(clean)
    hub = await make_tenant(clean, network_id=network.id)
    member = await make_practice_group(clean, network_id=network.id)
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as c:
        token = (await c.post("/v1/access_token", headers={**hub.headers, "x-practice-group-id": str(member.id)})
                 ).json()["access_token"]
        assert (await c.get("/v1/me", headers=bearer(token))).json()["id"] == str(member.id)
        async with clean.engine.begin() as conn:
            await conn.execute(text("UPDATE practice_groups SET network_id = NULL WHERE id = :id"),
                               {"id": member.id})
        assert error_code(await after_revalidation(c, "/v1/me", bearer(token))) == (403, "forbidden")


# ---- the key cache -------------------------------------------------------------------------------------

async def test_hot_path_makes_no_key_query(live_server, clean, tenant):
    statements: list[str] = []

    def record(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(clean.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with httpx.AsyncClient(base_url=live_server, headers=tenant.headers, timeout=30) as c:
            assert (await c.get("/v2/tasks")).status_code == 200
            statements.clear()
            started = time.monotonic()
            for _ in range(40):
                assert (await c.get("/v2/tasks")).status_code == 200
            elapsed = time.monotonic() - started
    finally:
        event.remove(clean.engine.sync_engine, "before_cursor_execute", record)
    key_queries = [s for s in statements if "api_keys" in s]
    # At most one batched revalidation per REVALIDATE_SECONDS, never one per request.
    assert len(key_queries) <= 1 + elapsed / REVALIDATE_SECONDS, (len(key_queries), elapsed)
    assert len(key_queries) < 40


async def test_revoke_in_this_process_applies_to_the_next_request(live_server, clean, tenant):
    async with httpx.AsyncClient(base_url=live_server, headers=tenant.headers, timeout=30) as c:
        assert (await c.get("/v1/me")).status_code == 200
        async with clean.session() as s:
            await key_service.revoke_key(s, tenant.key.id)
            await s.commit()
        assert error_code(await c.get("/v1/me")) == (401, "unauthorised")


async def test_rotate_in_this_process_kills_the_old_key_on_the_next_request(live_server, clean, tenant):
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as c:
        assert (await c.get("/v1/me", headers=tenant.headers)).status_code == 200
        async with clean.session() as s:
            _, raw = await key_service.rotate_key(s, tenant.key.id)
            await s.commit()
        assert error_code(await c.get("/v1/me", headers=tenant.headers)) == (401, "unauthorised")
        assert (await c.get("/v1/me", headers={**tenant.headers, "x-api-key": raw})).status_code == 200


async def test_revoke_by_the_cli_process_takes_effect_within_a_second(live_server, clean, tenant, database_url):
    from tests.test_cli import openhero_process

    async with httpx.AsyncClient(base_url=live_server, headers=tenant.headers, timeout=30) as c:
        assert (await c.get("/v1/me")).status_code == 200
        done = await asyncio.to_thread(openhero_process, database_url, "keys", "revoke", str(tenant.key.id))
        assert done.returncode == 0, done.stderr
        assert error_code(await after_revalidation(c, "/v1/me", {})) == (401, "unauthorised")


async def test_group_header_with_non_ascii_digits_is_401(live_server, tenant):
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as c:
        for raw in (b"\xb3", "\u0663".encode(), b"9" * 19):  # the last is past BIGINT
            r = await c.get("/v1/me", headers=[(b"x-api-key", tenant.raw_key.encode()),
                                               (b"x-practice-group-id", raw)])
            assert error_code(r) == (401, "unauthorised"), (raw, r.text)


async def test_many_keys_concurrently_each_act_as_themselves(live_server, clean):
    tenants = [await make_tenant(clean) for _ in range(6)]
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as c:
        results = await asyncio.gather(*(c.get("/v1/me", headers=t.headers) for t in tenants * 5))
    assert [r.json()["id"] for r in results] == [str(t.id) for t in tenants * 5]



# ---- the in-process rate limiter -----------------------------------------------------------------------

def test_local_moving_window_is_exact():
    from openhero.core.ratelimit import LocalLimiter

    limiter = LocalLimiter(3, 60.0)
    assert [limiter.hit("k", now=t) for t in (0.0, 1.0, 2.0)] == [None, None, None]
    assert limiter.hit("k", now=3.0) == pytest.approx(57.0)  # the first hit leaves the window at t=60
    assert limiter.hit("other", now=3.0) is None  # budgets are per identifier
    assert limiter.hit("k", now=59.9) == pytest.approx(0.1)
    assert limiter.hit("k", now=60.0) is None  # exactly one slot freed
    assert limiter.hit("k", now=60.5) is not None


def test_local_sliding_counter_for_large_budgets():
    from openhero.core.ratelimit import EXACT_UP_TO, LocalLimiter

    amount = EXACT_UP_TO + 10
    limiter = LocalLimiter(amount, 60.0)
    assert not limiter.exact
    assert all(limiter.hit("k", now=1.0) is None for _ in range(amount))
    assert limiter.hit("k", now=1.0) is not None
    # Half a window into the next window (which started at 61), half the previous window's hits still count.
    allowed = sum(limiter.hit("k", now=91.0) is None for _ in range(amount))
    assert abs(allowed - amount / 2) <= 1


# ---- the check itself: one at a time, no convoy ----------------------------------------------------------

class _SlowCheck:
    """Stands in for ``KeyCache._revalidate``: counts the checks, runs until ``release`` is set (no wall-clock
    race: a loaded machine can stall any step), fails when told to."""

    def __init__(self) -> None:
        self.calls, self.fail, self.release = 0, False, asyncio.Event()

    async def __call__(self) -> None:
        self.calls += 1
        await self.release.wait()
        if self.fail:
            self.fail = False
            raise ConnectionError("database went away")


def _cache_with(check: _SlowCheck, clean) -> KeyCache:  # type: ignore[no-untyped-def]
    cache = KeyCache(clean)
    cache.networks = {1: None}  # something cached, so there is something to check
    cache._revalidate = check  # type: ignore[method-assign]
    return cache


async def test_requests_during_a_check_do_not_queue_behind_it(clean, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from openhero.core import auth

    monkeypatch.setattr(auth, "STALE_SECONDS", 60.0)  # what the cache holds stays usable however slow this runs
    check = _SlowCheck()
    cache = _cache_with(check, clean)
    cache.checked_at -= REVALIDATE_SECONDS  # due
    first = asyncio.ensure_future(cache.fresh())  # runs the check and waits for it
    await asyncio.sleep(0)
    others = [asyncio.ensure_future(cache.fresh()) for _ in range(20)]
    # Answered from the cache while the check is still running (behind a lock they would wait for it).
    await asyncio.wait_for(asyncio.gather(*others), 10)
    assert not first.done() and check.calls == 1
    check.release.set()
    await first
    assert check.calls == 1 and time.monotonic() - cache.checked_at < 10


async def test_past_the_stale_limit_or_after_a_local_change_requests_wait_for_the_check(
        clean) -> None:  # type: ignore[no-untyped-def]
    from openhero.core import auth
    from openhero.core.auth import STALE_SECONDS

    for make_stale in ("age", "local change"):
        check = _SlowCheck()
        cache = _cache_with(check, clean)
        cache.checked_at -= REVALIDATE_SECONDS
        first = asyncio.ensure_future(cache.fresh())
        await asyncio.sleep(0)
        if make_stale == "age":
            cache.checked_at -= STALE_SECONDS  # what the cache holds is now too old to serve
        else:
            auth.invalidate_keys()  # a revoke committed in this process: the next request must see it
        waiters = [asyncio.ensure_future(cache.fresh()) for _ in range(10)]
        for _ in range(5):
            await asyncio.sleep(0)
        assert not any(w.done() for w in waiters)  # they wait ...
        check.release.set()
        await asyncio.gather(first, *waiters)  # ... and all resume once a check that counts has finished
        assert check.calls == (1 if make_stale == "age" else 2)  # a local change needs a check begun after it
        assert cache.generation == auth._generation


async def test_a_failed_check_fails_its_request_and_the_next_one_checks_again(
        clean) -> None:  # type: ignore[no-untyped-def]
    check = _SlowCheck()
    cache = _cache_with(check, clean)
    cache.checked_at -= 2  # too old for anyone to use unchecked
    check.fail = True
    first = asyncio.ensure_future(cache.fresh())
    await asyncio.sleep(0)
    waiter = asyncio.ensure_future(cache.fresh())
    await asyncio.sleep(0)
    check.release.set()
    with pytest.raises(ConnectionError):
        await first
    await asyncio.wait_for(waiter, 10)  # it woke, found no check under way, and ran one itself
    assert check.calls == 2 and time.monotonic() - cache.checked_at < 10


async def test_concurrent_misses_for_one_key_share_one_lookup(clean) -> None:  # type: ignore[no-untyped-def]
    tenant = await make_tenant(clean)
    cache = KeyCache(clean)
    queries: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if "api_keys" in statement:
            queries.append(statement)

    event.listen(clean.engine.sync_engine, "before_cursor_execute", count)
    try:
        found = await asyncio.gather(*(cache.by_secret(tenant.raw_key) for _ in range(20)))
        assert len(queries) == 1 and {state.key_id for state in found} == {tenant.key.id}
        unknown = tenant.raw_key[:-4] + ("aaaa" if not tenant.raw_key.endswith("aaaa") else "bbbb")
        assert await asyncio.gather(*(cache.by_secret(unknown) for _ in range(5))) == [None] * 5
        assert len(queries) == 2
    finally:
        event.remove(clean.engine.sync_engine, "before_cursor_execute", count)


async def test_a_failed_shared_lookup_lets_each_waiter_look_for_itself(clean) -> None:  # type: ignore[no-untyped-def]
    tenant = await make_tenant(clean)
    cache = KeyCache(clean)
    failures = iter([True])

    def fail_once(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if "api_keys" in statement and next(failures, False):
            raise ConnectionError("database went away")

    event.listen(clean.engine.sync_engine, "before_cursor_execute", fail_once)
    try:
        results = await asyncio.gather(*(cache.by_secret(tenant.raw_key) for _ in range(5)),
                                       return_exceptions=True)
    finally:
        event.remove(clean.engine.sync_engine, "before_cursor_execute", fail_once)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1  # the request whose lookup failed says so; the others retried and found the key
    assert all(r.key_id == tenant.key.id for r in results if not isinstance(r, BaseException))
