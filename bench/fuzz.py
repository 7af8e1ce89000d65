"""Fuzz every operation of the server's own OpenAPI with schemathesis, in bounded time; print figures.

For each backend: a fresh migrated database seeded with the demo practices (so small ids name real rows),
a key with every scope, the app served by uvicorn on loopback, then for every operation in the served
``/openapi.json`` a few schema-conforming (positive) and schema-violating (negative) cases, and then a
sweep of every path and query parameter through a list of hostile values (``HOSTILE``). A failure is
any 5xx, a dropped connection, or a 4xx whose body is not the contract's error shape. Responses that
disagree with the documented schema (status or body) are counted separately.

    .venv/bin/python bench/fuzz.py [--backend sqlite|postgres|both] [--examples 25] [--budget 600]

The suite runs the same driver with a handful of examples per operation (tests/core/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


@dataclass
class FuzzResult:
    operations: int = 0
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    schema_mismatches: list[str] = field(default_factory=list)
    skipped_operations: list[str] = field(default_factory=list)
    seconds: float = 0.0
    http_seconds: float = 0.0  # of ``seconds``, waiting for the server's answers


def _is_error_body(body: Any, status: int) -> bool:
    return (isinstance(body, dict) and body.get("error") is True and body.get("statusCode") == status
            and isinstance(body.get("message"), list) and len(body["message"]) > 0
            and all(isinstance(i, dict) and {"code", "expected", "path"} <= i.keys() for i in body["message"]))


def _describe(case: Any) -> str:
    try:
        return case.as_curl_command()
    except Exception:  # pragma: no cover - description only
        return f"{case.method} {case.formatted_path}"


def fuzz(base_url: str, headers: dict[str, str], *, examples: int = 5, budget_seconds: float = 300.0,
         check_schema: bool = False, derandomize: bool = False) -> FuzzResult:
    """Run positive and negative cases for every operation; stop starting operations after the budget."""
    import requests
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import CHECKS  # noqa: F401  (registers the built-in checks)

    started = time.monotonic()
    document = requests.get(f"{base_url}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    result = FuzzResult()
    session = requests.Session()
    hypothesis_settings = settings(max_examples=examples, deadline=None, database=None, derandomize=derandomize,
                                   phases=[Phase.explicit, Phase.generate], print_blob=False,
                                   suppress_health_check=list(HealthCheck))
    checks = []
    if check_schema:
        from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
        checks = [status_code_conformance, response_schema_conformance]

    def exercise(case: Any, label: str) -> None:
        case.headers = {**(case.headers or {}), **headers}
        result.cases += 1
        sent = time.monotonic()
        try:
            response = case.call(base_url=base_url, session=session, timeout=30)
        except requests.RequestException as exc:
            result.failures.append(f"connection error {type(exc).__name__}: {_describe(case)}")
            return
        result.http_seconds += time.monotonic() - sent
        status = response.status_code
        result.statuses[status] += 1
        if status >= 500:
            result.failures.append(f"{status}: {_describe(case)} -> {response.text[:300]}")
            return
        if status >= 400 and status != 405:
            try:
                body = response.json()
            except ValueError:
                body = None
            if not _is_error_body(body, status):
                result.failures.append(f"{status} without the error body: {_describe(case)} -> "
                                       f"{response.text[:200]}")
                return
        if checks:
            try:
                case.validate_response(response, checks=checks)
            except BaseExceptionGroup as group:
                for failure in group.exceptions:
                    result.schema_mismatches.append(f"{label}: {type(failure).__name__} "
                                                    f"{str(failure).splitlines()[0][:160]}")
            except Exception as exc:
                result.schema_mismatches.append(f"{label}: {type(exc).__name__} "
                                                f"{str(exc).splitlines()[0][:160]}")

    def bind(label: str) -> Any:
        def run(case: Any) -> None:
            exercise(case, label)
        return run

    for item in schema.get_all_operations():
        try:
            operation = item.ok()
        except Exception as exc:  # an operation schemathesis cannot read is reported, not silently dropped
            result.skipped_operations.append(str(exc)[:200])
            continue
        if time.monotonic() - started > budget_seconds:
            result.skipped_operations.append(f"{operation.label} (time budget)")
            continue
        result.operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                strategy = operation.as_strategy(generation_mode=mode, headers=dict(headers))
            except Exception as exc:
                result.skipped_operations.append(f"{operation.label} {mode.value}: {str(exc)[:200]}")
                continue

            run = hypothesis_settings(given(case=strategy)(bind(operation.label)))
            try:
                run()
            except Unsatisfiable:
                if mode is GenerationMode.POSITIVE:
                    result.skipped_operations.append(f"{operation.label}: no case satisfies the schema")
                # else: nothing in this operation's schema can be violated (no parameters, free strings)
            except Exception as exc:  # generation itself failed
                result.skipped_operations.append(f"{operation.label} {mode.value}: {type(exc).__name__} "
                                                 f"{str(exc)[:200]}")
    result.seconds = time.monotonic() - started
    return result


# Values that schema-driven generation rarely produces and that broke handlers before (issue 11).
HOSTILE = ["\u00b3", "\u0662", "\uff11", str(2**63), "9" * 30, "-1", "0", "", " ", "1e3", "1.5", "true", "null",
           "%", "x" * 5000, "9999-12-31", "0001-01-01", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
           "2024-02-30", "a\x00b", "'; select 1; --", "[]", "\U0001f642", "\u202eevil", "..%2f..%2f"]


def sweep(base_url: str, headers: dict[str, str], result: FuzzResult, values: list[str] = HOSTILE) -> None:
    """Every path and query parameter of every operation set, one at a time, to each hostile value (the
    other path parameters are "1", an id the demo data holds); the same failure rules as ``fuzz``."""
    from urllib.parse import quote

    import requests

    started = time.monotonic()
    session = requests.Session()
    document = session.get(f"{base_url}/openapi.json", timeout=30).json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            result.operations += 1
            params = [p for p in operation.get("parameters", []) if p.get("in") in ("path", "query")]
            path_names = [p["name"] for p in params if p["in"] == "path"]
            for param in params:
                for value in values:
                    filled = {name: quote(value, safe="") if name == param["name"] else "1" for name in path_names}
                    url = base_url + path.format(**filled)
                    query = {param["name"]: value} if param["in"] == "query" else None
                    body = {} if method in ("post", "put", "patch") else None
                    label = f"{method.upper()} {path} {param['in']} {param['name']}={value[:40]!r}"
                    result.cases += 1
                    sent = time.monotonic()
                    try:
                        response = session.request(method, url, params=query, json=body, headers=headers,
                                                   timeout=30)
                    except requests.RequestException as exc:
                        result.failures.append(f"connection error {type(exc).__name__}: {label}")
                        continue
                    result.http_seconds += time.monotonic() - sent
                    result.statuses[response.status_code] += 1
                    if response.status_code >= 500:
                        result.failures.append(f"{response.status_code}: {label} -> {response.text[:200]}")
                    elif response.status_code >= 400 and response.status_code != 405:
                        try:
                            ok = _is_error_body(response.json(), response.status_code)
                        except ValueError:
                            ok = False
                        if not ok:
                            result.failures.append(f"{response.status_code} without the error body: {label}")
    result.seconds += time.monotonic() - started


async def seed(url: str) -> dict[str, str]:
    """The demo practices and a key with every scope; returns the headers to call with."""
    from datetime import UTC, datetime

    from openhero.core.auth import PERMISSIONS, SCOPES
    from openhero.core.db import Database
    from openhero.practice.demo import seed_demo
    from openhero.practice.keys import create_key

    db = Database(url, pool_size=2)
    try:
        async with db.session() as session:
            ids = await seed_demo(session, datetime.now(UTC))
            _key, raw = await create_key(session, practice_group_id=ids.practice_group_id, scopes=list(SCOPES),
                                         permissions=list(PERMISSIONS), name="fuzz key")
            await session.commit()
            return {"x-api-key": raw, "x-practice-group-id": str(ids.practice_group_id)}
    finally:
        await db.dispose()


def report(backend: str, result: FuzzResult, limit: int = 20) -> None:
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(result.statuses.items()))
    print(f"[{backend}] operations {result.operations}, cases {result.cases}, failures {len(result.failures)}, "
          f"schema mismatches {len(result.schema_mismatches)}, skipped {len(result.skipped_operations)}, "
          f"{result.seconds:.1f} s ({result.http_seconds:.1f} s waiting for answers)")
    print(f"[{backend}] statuses {statuses}")
    for line in result.failures[:limit]:
        print(f"[{backend}] FAIL {line}")
    kinds = Counter(m.split(": ", 1)[1].split(" ", 1)[0] for m in result.schema_mismatches)
    if kinds:
        print(f"[{backend}] schema mismatches by kind: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    for line in sorted(Counter(result.schema_mismatches).items(), key=lambda kv: -kv[1])[:limit]:
        print(f"[{backend}] schema ({line[1]}x) {line[0]}")
    for line in result.skipped_operations[:limit]:
        print(f"[{backend}] skipped {line}")


def main() -> None:
    from bench._common import fresh_database, postgres_answers, server

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--examples", type=int, default=25, help="cases per operation and mode")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds per backend")
    parser.add_argument("--no-schema", action="store_true", help="skip documented-schema conformance checks")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if "postgres" in backends and not postgres_answers():
        print("PostgreSQL does not answer; fuzzing SQLite only")
        backends = ["sqlite"]
    failed = False
    for backend in backends:
        with fresh_database(backend) as url:
            headers = asyncio.run(seed(url))
            env = {"OPENHERO_DATABASE_URL": url, "OPENHERO_SECRET_KEY": "fuzz-secret-" + "x" * 40,
                   "OPENHERO_SERVE_WORKER": "false"}
            with server("openhero.app:create_app", env) as base_url:
                result = fuzz(base_url, headers, examples=args.examples, budget_seconds=args.budget,
                              check_schema=not args.no_schema)
                hostile = FuzzResult()
                sweep(base_url, headers, hostile)
        report(backend, result)
        report(f"{backend} hostile values", hostile)
        failed = failed or bool(result.failures) or bool(hostile.failures)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
