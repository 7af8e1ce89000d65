"""A fake PDS FHIR R4 server and NHS OAuth 2.0 token endpoint on loopback, with production rules.

Real HTTP, real FHIR JSON, and what integration/production PDS enforces in application-restricted
mode (``require_auth``, the default):

- ``POST /oauth2/token`` takes the client credentials grant with a signed JWT client assertion and
  checks it the way NHS does: ``alg`` RS512 and the registered ``kid``, the signature against the
  registered public key, ``iss`` = ``sub`` = the API key, ``aud`` = this token URL, a ``jti`` never
  seen before and ``exp`` in the future but at most 5 minutes ahead. It answers
  ``{"access_token", "expires_in": "599", "token_type": "Bearer", "issued_at"}`` (strings, as NHS).
- ``/Patient`` requires ``Authorization: Bearer <issued token>`` (401 ``ACCESS_DENIED``), an
  ``X-Request-ID`` that is a UUID (400 ``MISSING_VALUE`` / ``INVALID_VALUE``) and the
  ``NHSD-End-User-Organisation-ODS`` header (400 ``MISSING_VALUE``); a search with ``_max-results``
  other than 1 is 403 ``INVALID_VALUE``, and more than one match answers 200 with a
  ``TOO_MANY_MATCHES`` OperationOutcome. ``X-Request-ID`` and ``X-Correlation-ID`` are mirrored.

``require_auth = False`` behaves like the NHS public sandbox (no token, no ODS header).
It serves the sandbox people (``openhero.patients.pds.sandbox_data``) and the NHS-shaped records of
``pds_records``; tests may replace ``records[nhs_number]``. Switches: ``mode`` (``"ok"``,
``"error"``: every answer HTTP 500, ``"slow"``: answers after 10 s), ``fail_next`` (statuses to
answer first, e.g. ``[429, 503]``), ``token_mode`` (``"ok"``, ``"error"``: 500, ``"slow"``),
``revoke_tokens()``. ``requests`` and ``token_requests`` record what was asked.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openhero.patients.nhs import normalise_postcode
from openhero.patients.pds.sandbox_data import PEOPLE, to_fhir
from tests.patients import pds_records

FHIR_JSON = "application/fhir+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ODS_HEADER = "NHSD-End-User-Organisation-ODS"


def _outcome(status: int, code: str, diagnostics: str, issue_code: str = "processing") -> JSONResponse:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error" if status >= 400 else "information",
                "code": issue_code,
                "diagnostics": diagnostics,
                "details": {
                    "coding": [
                        {"system": "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode", "version": "1",
                         "code": code}
                    ]
                },
            }
        ],
    }
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


@dataclass
class Seen:
    path: str
    params: dict[str, str]
    headers: dict[str, str]  # lower-case names


class FakePds:
    def __init__(self) -> None:
        self.url = ""
        self.app = Starlette(
            routes=[
                Route("/oauth2/token", self._token, methods=["POST"]),
                Route("/Patient/{nhs_number}", self._read),
                Route("/Patient", self._search),
            ]
        )
        self._server: uvicorn.Server | None = None
        self.api_key = ""
        self.key_id = ""
        self.public_key: RSAPublicKey | None = None
        self.reset()

    def reset(self) -> None:
        self.require_auth = True
        self.mode = "ok"
        self.token_mode = "ok"
        self.token_expires_in = 599
        self.fail_next: list[int] = []
        self.requests: list[Seen] = []
        self.token_requests = 0
        self.tokens_issued = 0
        self.token_errors: list[str] = []
        self._tokens: set[str] = set()
        self._jtis: set[str] = set()
        self.records: dict[str, dict[str, Any]] = {}
        self._aliases: dict[str, str] = {}
        for person in PEOPLE:
            self.records[person.nhs_number] = to_fhir(person)
            if person.old_nhs_number:
                self._aliases[person.old_nhs_number] = person.nhs_number
        self.records.update(pds_records.records())
        self.unavailable = {p.nhs_number for p in PEOPLE if p.outcome == "unavailable"}

    def register_app(self, *, api_key: str, key_id: str, public_key: RSAPublicKey) -> None:
        """What an NHS developer-portal application holds: its API key and public key (by kid)."""
        self.api_key, self.key_id, self.public_key = api_key, key_id, public_key

    @property
    def token_url(self) -> str:
        return f"{self.url}/oauth2/token"

    def revoke_tokens(self) -> None:
        self._tokens.clear()

    # --- token endpoint ------------------------------------------------------------------------

    async def _token(self, request: Request) -> JSONResponse:
        self.token_requests += 1
        if self.token_mode == "error":
            return _oauth_error(500, "server_error", "fake token endpoint failing on purpose")
        if self.token_mode == "slow":
            await asyncio.sleep(10)
        form = await request.form()
        refused = self._check_assertion(form)
        if refused is not None:
            self.token_errors.append(refused.body.decode())
            return refused
        token = secrets.token_urlsafe(24)
        self._tokens.add(token)
        self.tokens_issued += 1
        return JSONResponse(
            {
                "access_token": token,
                "expires_in": str(self.token_expires_in),
                "token_type": "Bearer",
                "issued_at": str(int(time.time() * 1000)),
            }
        )

    def _check_assertion(self, form: Any) -> JSONResponse | None:
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "grant_type is missing or not client_credentials")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return _oauth_error(400, "invalid_request", "Missing or invalid client_assertion_type")
        assertion = form.get("client_assertion")
        if not isinstance(assertion, str) or not assertion:
            return _oauth_error(400, "invalid_request", "Missing client_assertion")
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            return _oauth_error(400, "invalid_request", "Malformed JWT in client_assertion")
        if header.get("alg") != "RS512":
            return _oauth_error(400, "invalid_request", "Missing or invalid alg header in JWT")
        if header.get("typ", "JWT") != "JWT":
            return _oauth_error(400, "invalid_request", "Invalid typ header in JWT")
        if header.get("kid") != self.key_id or self.public_key is None:
            return _oauth_error(401, "invalid_request", "Invalid 'kid' header in JWT - no matching public key")
        try:
            claims = jwt.decode(
                assertion,
                self.public_key,
                algorithms=["RS512"],
                audience=self.token_url,
                options={"require": ["iss", "sub", "aud", "jti", "exp"]},
            )
        except jwt.InvalidAudienceError:
            return _oauth_error(401, "invalid_request", "Missing or invalid 'aud' claim in client_assertion JWT")
        except jwt.ExpiredSignatureError:
            return _oauth_error(400, "invalid_request", "Invalid exp claim in JWT - JWT has expired")
        except jwt.InvalidSignatureError:
            return _oauth_error(401, "public_key error", "JWT signature verification failed")
        except jwt.PyJWTError as exc:
            return _oauth_error(400, "invalid_request", f"Invalid client_assertion JWT: {type(exc).__name__}")
        if claims["iss"] != self.api_key or claims["sub"] != self.api_key:
            return _oauth_error(401, "invalid_request", "Invalid 'iss'/'sub' claims in client_assertion JWT")
        if not isinstance(claims["exp"], int) or claims["exp"] > time.time() + 300:
            return _oauth_error(
                400, "invalid_request", "Invalid exp claim in JWT - more than 5 minutes in future"
            )
        if not isinstance(claims["jti"], str) or claims["jti"] in self._jtis:
            return _oauth_error(400, "invalid_request", "Non-unique jti claim in JWT")
        self._jtis.add(claims["jti"])
        return None

    # --- PDS -----------------------------------------------------------------------------------

    def _mirror(self, request: Request, response: Response) -> Response:
        for name in ("X-Request-ID", "X-Correlation-ID"):
            if name in request.headers:
                response.headers[name] = request.headers[name]
        return response

    async def _gate(self, request: Request) -> JSONResponse | None:
        self.requests.append(
            Seen(request.url.path, dict(request.query_params), {k.lower(): v for k, v in request.headers.items()})
        )
        if self.mode == "error":
            return _outcome(500, "SERVICE_ERROR", "fake PDS failing on purpose")
        if self.mode == "slow":
            await asyncio.sleep(10)
        if self.fail_next:
            status = self.fail_next.pop(0)
            if status == 429:
                return _outcome(429, "TOO_MANY_REQUESTS", "Your application has created a spike in traffic",
                                "throttled")
            return _outcome(status, "SERVICE_UNAVAILABLE", "Spine is unavailable")
        request_id = request.headers.get("X-Request-ID")
        if request_id is None:
            return _outcome(400, "MISSING_VALUE", "Invalid request with error - X-Request-ID header must be supplied "
                            "to access this resource", "required")
        if not UUID_RE.match(request_id):
            return _outcome(400, "INVALID_VALUE", f"Invalid value - '{request_id}' in header 'X-Request-ID'",
                            "value")
        if not self.require_auth:
            return None
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self._tokens:
            return _outcome(401, "ACCESS_DENIED", "Invalid access token", "forbidden")
        if not request.headers.get(ODS_HEADER):
            return _outcome(400, "MISSING_VALUE", f"Missing value - '{ODS_HEADER}' header", "required")
        return None

    async def _read(self, request: Request) -> Response:
        failed = await self._gate(request)
        if failed is not None:
            return self._mirror(request, failed)
        number = request.path_params["nhs_number"]
        number = self._aliases.get(number, number)
        if number in self.unavailable:
            return self._mirror(request, _outcome(503, "SERVICE_UNAVAILABLE", "Spine unavailable"))
        record = self.records.get(number)
        if record is None:
            return self._mirror(request, _outcome(404, "RESOURCE_NOT_FOUND", "Resource Id not found", "not_found"))
        return self._mirror(request, JSONResponse(record, media_type=FHIR_JSON))

    async def _search(self, request: Request) -> Response:
        failed = await self._gate(request)
        if failed is not None:
            return self._mirror(request, failed)
        q = request.query_params
        max_results = q.get("_max-results", "1" if self.require_auth else "50")
        if self.require_auth and max_results != "1":
            return self._mirror(
                request,
                _outcome(403, "INVALID_VALUE", "Cannot retrieve more than one result with application-restricted "
                         "access token", "value"),
            )
        matches = [r for r in self.records.values() if _matches(r, q)]
        if len(matches) > int(max_results):
            return self._mirror(
                request, _outcome(200, "TOO_MANY_MATCHES", "Too Many Matches", "multiple-matches")
            )
        entries: list[dict[str, Any]] = [
            {"fullUrl": f"{self.url}/Patient/{r['id']}", "search": {"score": 1}, "resource": r} for r in matches
        ]
        bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
        return self._mirror(request, JSONResponse(bundle, media_type=FHIR_JSON))

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", loop="asyncio"
        )
        self._server = uvicorn.Server(config)
        threading.Thread(target=self._server.run, daemon=True).start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)  # waiting for a server thread to bind, not for time to pass in a test
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True


def _matches(record: dict[str, Any], q: Any) -> bool:
    """Exact (non-fuzzy) PDS search on any of the record's names and addresses, ignoring case."""
    if record.get("birthDate") != q.get("birthdate", "").removeprefix("eq"):
        return False
    family, given = q.get("family", "").casefold(), q.get("given", "").casefold()
    named = any(
        (n.get("family") or "").casefold() == family and given in [g.casefold() for g in n.get("given") or []]
        for n in record.get("name") or []
    )
    wanted = normalise_postcode(q.get("address-postalcode") or "")
    housed = any(normalise_postcode(a.get("postalCode") or "") == wanted for a in record.get("address") or [])
    return named and housed
