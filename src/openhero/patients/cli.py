"""`openhero patients ...`: the sandbox PDS's test patients, a PDS trace, and the PDS public key."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Annotated

import typer

from openhero.patients.pds.sandbox_data import PEOPLE, SandboxPerson

app = typer.Typer(help="Patients and the sandbox PDS.", no_args_is_help=True)

OUTCOMES = {
    "traced": "traced -> {{patient_id}}",
    "identity_check": "identity check -> 200 {{message, login_url}}, nothing stored",
    "restricted": "restricted record -> registered without address or contacts",
    "deceased": "deceased -> 409 patient_deceased",
    "unavailable": "PDS unavailable -> 503 (any dob), nothing stored",
    "superseded": "superseded: old number {old} -> registered as {new}",
}


def describe(person: SandboxPerson) -> str:
    return OUTCOMES[person.outcome].format(old=person.old_nhs_number, new=person.nhs_number)


def rows() -> list[dict[str, str | None]]:
    return [
        {
            "nhs_number": p.old_nhs_number or p.nhs_number,
            "dob": p.dob,
            "name": f"{p.title} {p.first_name} {p.last_name}",
            # PDS withholds a restricted record's contacts (it still matches on its postcode).
            "postcode": p.postcode,
            "mobile": None if p.outcome == "restricted" else p.mobile,
            "email": None if p.outcome == "restricted" else p.email,
            "outcome": describe(p),
        }
        for p in PEOPLE
    ]


@app.command("sandbox-patients")
def sandbox_patients(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """List the sandbox PDS's test patients and what POST /v1/patients/register_pds answers for each.
    Any other valid NHS number, or a wrong dob, answers 404."""
    table = rows()
    if as_json:
        typer.echo(json.dumps(table, indent=2))
        return
    header = f"{'NHS number':<11} {'dob':<10} {'name':<26} {'postcode':<9} {'mobile':<12} outcome"
    typer.echo(header)
    typer.echo("-" * len(header))
    for r in table:
        typer.echo(
            f"{r['nhs_number']:<11} {r['dob']:<10} {r['name']:<26} {r['postcode'] or '-':<9} "
            f"{r['mobile'] or '-':<12} {r['outcome']}"
        )


@app.command("trace")
def trace(
    nhs_number: Annotated[str, typer.Argument(help="NHS number, spaced or not")],
    dob: Annotated[str, typer.Argument(help="Date of birth, YYYY-MM-DD")],
    ods: Annotated[
        str | None, typer.Option("--ods", help="ODS code of the organisation the trace is for (production PDS)")
    ] = None,
    correlation_id: Annotated[str | None, typer.Option("--correlation-id", help="sent as X-Correlation-ID")] = None,
) -> None:
    """Trace one person with the configured PDS adapter (OPENHERO_PDS_*) and print the result;
    nothing is stored. Checks a pds_fhir configuration, production access (token URL, API key,
    private key, kid) included."""
    from openhero.patients.nhs import normalise_nhs_number, parse_dob
    from openhero.patients.pds import PdsError, get_pds_adapter
    from openhero.settings import get_settings

    try:
        number, born = normalise_nhs_number(nhs_number), parse_dob(dob)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        adapter = get_pds_adapter(get_settings())
        person = asyncio.run(adapter.trace_by_nhs_number(number, born, ods_code=ods, correlation_id=correlation_id))
    except RuntimeError as exc:  # incomplete PDS settings
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except PdsError as exc:
        typer.echo(f"{type(exc).__name__}: {exc}" + (f" ({exc.login_url})" if hasattr(exc, "login_url") else ""))
        raise typer.Exit(1) from None
    typer.echo(json.dumps(dataclasses.asdict(person), indent=2, default=str))


@app.command("pds-jwks")
def pds_jwks() -> None:
    """Print the JWKS (public key only) for OPENHERO_PDS_PRIVATE_KEY_FILE and OPENHERO_PDS_KEY_ID:
    the document to register with NHS (or host at your JWKS URL) for signed-JWT access."""
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from jwt.algorithms import RSAAlgorithm

    from openhero.settings import get_settings

    settings = get_settings()
    if not settings.pds_private_key_file or not settings.pds_key_id:
        typer.echo("error: set OPENHERO_PDS_PRIVATE_KEY_FILE and OPENHERO_PDS_KEY_ID", err=True)
        raise typer.Exit(2)
    try:
        with open(settings.pds_private_key_file, "rb") as pem:
            key = load_pem_private_key(pem.read(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        typer.echo(f"error: cannot read {settings.pds_private_key_file}: {type(exc).__name__}", err=True)
        raise typer.Exit(2) from None
    if not isinstance(key, RSAPrivateKey):
        typer.echo("error: the PDS private key must be an RSA key", err=True)
        raise typer.Exit(2)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=settings.pds_key_id, alg="RS512", use="sig")
    typer.echo(json.dumps({"keys": [jwk]}, indent=2))
