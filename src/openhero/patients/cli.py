"""`openhero patients ...`: the sandbox PDS's documented test patients."""

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
) -> None:
    """Trace one person with the configured PDS adapter (OPENHERO_PDS_ADAPTER) and print the result;
    nothing is stored. Useful to check a pds_fhir configuration."""
    from openhero.patients.nhs import normalise_nhs_number, parse_dob
    from openhero.patients.pds import PdsError, get_pds_adapter
    from openhero.settings import get_settings

    try:
        number, born = normalise_nhs_number(nhs_number), parse_dob(dob)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        person = asyncio.run(get_pds_adapter(get_settings()).trace_by_nhs_number(number, born))
    except PdsError as exc:
        typer.echo(f"{type(exc).__name__}: {exc}" + (f" ({exc.login_url})" if hasattr(exc, "login_url") else ""))
        raise typer.Exit(1) from None
    typer.echo(json.dumps(dataclasses.asdict(person), indent=2, default=str))
