"""The sandbox PDS's people, kept as FHIR R4 ``Patient`` JSON exactly as PDS would serve them.

NHS numbers are valid modulus-11 numbers from the 900/999 test ranges, mobiles are in Ofcom's
07700 900xxx drama range and emails are at example.com: nothing here can reach a real person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openhero.patients.pds.mapping import (
    CONFIDENTIALITY_SYSTEM,
    NHS_NUMBER_SYSTEM,
    ODS_SYSTEM,
    VERIFICATION_EXTENSION,
    VERIFICATION_SYSTEM,
)

SANDBOX_GP_ODS = "B86001"


@dataclass(frozen=True)
class SandboxPerson:
    nhs_number: str
    title: str
    first_name: str
    last_name: str
    gender: str
    dob: str
    mobile: str | None
    email: str | None
    lines: tuple[str, ...]
    postcode: str
    outcome: str = "traced"  # traced | identity_check | restricted | deceased | unavailable | superseded
    deceased: str | None = None
    # For the superseded case: the old number a partner may still hold for this person.
    old_nhs_number: str | None = None


# The outcome table in docs/patients.md; keep them in step.
SPECIAL = [
    SandboxPerson(
        "9000000009",
        "Mrs",
        "Jane",
        "Smith",
        "female",
        "2010-10-22",
        "07700900001",
        "jane.smith@example.com",
        ("1 Trevelyan Square", "Boar Lane", "City Centre", "Leeds", "West Yorkshire"),
        "LS1 6AE",
    ),
    SandboxPerson(
        "9000000017",
        "Mr",
        "Peter",
        "Jones",
        "male",
        "1985-03-14",
        "07700900002",
        "peter.jones@example.com",
        ("22 Kirkgate", "", "", "Bradford", "West Yorkshire"),
        "BD1 1QL",
        outcome="identity_check",
    ),
    SandboxPerson(
        "9000000025",
        "Ms",
        "Rachel",
        "Thornton",
        "female",
        "1972-07-01",
        "07700900003",
        "rachel.thornton@example.com",
        ("5 Cardigan Road", "", "", "Leeds", "West Yorkshire"),
        "LS6 2AB",
        outcome="restricted",
    ),
    SandboxPerson(
        "9000000033",
        "Mr",
        "Albert",
        "Hargreaves",
        "male",
        "1940-01-05",
        None,
        None,
        ("9 Bishophill", "", "", "York", "North Yorkshire"),
        "YO1 7HH",
        outcome="deceased",
        deceased="2024-02-11T08:30:00+00:00",
    ),
    SandboxPerson(
        "9000000068",
        "Mrs",
        "Una",
        "Kershaw",
        "female",
        "1990-01-01",
        "07700900005",
        None,
        ("1 Woodhouse Lane", "", "", "Leeds", "West Yorkshire"),
        "LS2 9JT",
        outcome="unavailable",
    ),
    SandboxPerson(
        "9990000239",
        "Mr",
        "Oliver",
        "Newman",
        "male",
        "1968-09-30",
        "07700900006",
        "oliver.newman@example.com",
        ("14 Museum Street", "", "", "York", "North Yorkshire"),
        "YO1 7DJ",
        outcome="superseded",
        old_nhs_number="9990000220",
    ),
]

_ORDINARY = [
    # nhs, title, first, last, gender, dob, mobile suffix, street, town, county, postcode
    (
        "9990000018",
        "Mrs",
        "Margaret",
        "Holroyd",
        "female",
        "1948-05-17",
        "101",
        "12 Otley Road",
        "Leeds",
        "West Yorkshire",
        "LS6 3PX",
    ),
    (
        "9990000026",
        "Mr",
        "Mohammed",
        "Hussain",
        "male",
        "1979-11-02",
        "102",
        "48 Manningham Lane",
        "Bradford",
        "West Yorkshire",
        "BD8 7JH",
    ),
    (
        "9990000034",
        "Miss",
        "Chloe",
        "Atkinson",
        "female",
        "1999-02-23",
        "103",
        "3 Clarendon Road",
        "Leeds",
        "West Yorkshire",
        "LS2 9NZ",
    ),
    (
        "9990000042",
        "Mr",
        "George",
        "Whitaker",
        "male",
        "1956-08-09",
        "104",
        "27 Bootham",
        "York",
        "North Yorkshire",
        "YO30 7BT",
    ),
    (
        "9990000050",
        "Mrs",
        "Aisha",
        "Begum",
        "female",
        "1988-04-30",
        "105",
        "61 Leeds Road",
        "Bradford",
        "West Yorkshire",
        "BD3 9LY",
    ),
    (
        "9990000069",
        "Mr",
        "Thomas",
        "Wainwright",
        "male",
        "1992-12-12",
        "106",
        "8 Chapel Allerton Lane",
        "Leeds",
        "West Yorkshire",
        "LS7 3PQ",
    ),
    (
        "9990000077",
        "Ms",
        "Emily",
        "Firth",
        "female",
        "1983-06-21",
        "107",
        "19 Fishergate",
        "York",
        "North Yorkshire",
        "YO10 4AF",
    ),
    (
        "9990000085",
        "Mr",
        "Daniel",
        "Kowalski",
        "male",
        "1975-03-03",
        "108",
        "102 Roundhay Road",
        "Leeds",
        "West Yorkshire",
        "LS8 5AJ",
    ),
    (
        "9990000093",
        "Mrs",
        "Patricia",
        "Greenwood",
        "female",
        "1951-10-14",
        "109",
        "4 Ilkley Road",
        "Bradford",
        "West Yorkshire",
        "BD9 4QA",
    ),
    (
        "9990000107",
        "Mr",
        "Harry",
        "Sutcliffe",
        "male",
        "2001-07-07",
        "110",
        "33 Headingley Lane",
        "Leeds",
        "West Yorkshire",
        "LS6 1BL",
    ),
    (
        "9990000115",
        "Miss",
        "Sophie",
        "Brennan",
        "female",
        "1996-09-18",
        "111",
        "7 Clifton",
        "York",
        "North Yorkshire",
        "YO30 6AA",
    ),
    (
        "9990000123",
        "Mr",
        "Imran",
        "Akhtar",
        "male",
        "1969-01-26",
        "112",
        "55 Great Horton Road",
        "Bradford",
        "West Yorkshire",
        "BD7 1AE",
    ),
    (
        "9990000131",
        "Mrs",
        "Susan",
        "Metcalfe",
        "female",
        "1962-04-04",
        "113",
        "18 Selby Road",
        "Leeds",
        "West Yorkshire",
        "LS9 0EW",
    ),
    (
        "9990000158",
        "Mr",
        "William",
        "Dawson",
        "male",
        "1944-12-01",
        "114",
        "2 Heslington Lane",
        "York",
        "North Yorkshire",
        "YO10 5DX",
    ),
    (
        "9990000166",
        "Ms",
        "Priya",
        "Sharma",
        "female",
        "1990-08-15",
        "115",
        "90 Kirkstall Road",
        "Leeds",
        "West Yorkshire",
        "LS3 1HS",
    ),
    (
        "9990000174",
        "Mr",
        "Jack",
        "Hebden",
        "male",
        "2005-03-19",
        "116",
        "11 Thornton Road",
        "Bradford",
        "West Yorkshire",
        "BD1 2JT",
    ),
    (
        "9990000182",
        "Mrs",
        "Helen",
        "Crowther",
        "female",
        "1971-11-11",
        "117",
        "24 Tadcaster Road",
        "York",
        "North Yorkshire",
        "YO24 1LR",
    ),
    (
        "9990000190",
        "Mr",
        "Samuel",
        "Okafor",
        "male",
        "1986-05-05",
        "118",
        "6 Harehills Lane",
        "Leeds",
        "West Yorkshire",
        "LS8 4HA",
    ),
    (
        "9990000204",
        "Miss",
        "Grace",
        "Lister",
        "female",
        "2012-01-20",
        "119",
        "15 Saltaire Road",
        "Shipley",
        "West Yorkshire",
        "BD18 3HH",
    ),
    (
        "9990000212",
        "Dr",
        "Catherine",
        "Ellis",
        "female",
        "1966-02-28",
        "120",
        "40 The Mount",
        "York",
        "North Yorkshire",
        "YO24 1AR",
    ),
]

ORDINARY = [
    SandboxPerson(
        nhs,
        title,
        first,
        last,
        gender,
        dob,
        f"07700900{suffix}",
        f"{first.lower()}.{last.lower()}@example.com",
        (street, "", "", town, county),
        postcode,
    )
    for nhs, title, first, last, gender, dob, suffix, street, town, county, postcode in _ORDINARY
]

PEOPLE: list[SandboxPerson] = SPECIAL + ORDINARY


def to_fhir(person: SandboxPerson) -> dict[str, Any]:
    """The person as a PDS FHIR R4 Patient resource (also what the fake PDS server in tests serves)."""
    verification = "02" if person.outcome == "identity_check" else "01"
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": person.nhs_number,
        "meta": {
            "versionId": "2",
            "security": [
                {
                    "system": CONFIDENTIALITY_SYSTEM,
                    "code": "R" if person.outcome == "restricted" else "U",
                    "display": "restricted" if person.outcome == "restricted" else "unrestricted",
                }
            ],
        },
        "identifier": [
            {
                "system": NHS_NUMBER_SYSTEM,
                "value": person.nhs_number,
                "extension": [
                    {
                        "url": VERIFICATION_EXTENSION,
                        "valueCodeableConcept": {"coding": [{"system": VERIFICATION_SYSTEM, "code": verification}]},
                    }
                ],
            }
        ],
        "name": [
            {
                "id": "name-1",
                "use": "usual",
                "period": {"start": "2000-01-01"},
                "given": [person.first_name],
                "family": person.last_name,
                "prefix": [person.title],
            }
        ],
        "gender": person.gender,
        "birthDate": person.dob,
        "generalPractitioner": [
            {"type": "Organization", "identifier": {"system": ODS_SYSTEM, "value": SANDBOX_GP_ODS}}
        ],
    }
    if person.deceased:
        resource["deceasedDateTime"] = person.deceased
    # PDS does not send address or telecom for restricted records at all.
    if person.outcome != "restricted":
        telecom = []
        if person.mobile:
            telecom.append({"id": "tel-1", "system": "phone", "value": person.mobile, "use": "mobile"})
        if person.email:
            telecom.append({"id": "tel-2", "system": "email", "value": person.email, "use": "home"})
        if telecom:
            resource["telecom"] = telecom
        address: dict[str, Any] = {
            "id": "addr-1",
            "use": "home",
            "period": {"start": "2015-01-01"},
            "line": [line for line in person.lines if line],
            "postalCode": person.postcode,
        }
        if len(address["line"]) < 4:
            # Short addresses name the post town and county in city/district rather than in lines 4-5.
            address["line"], address["city"], address["district"] = (
                address["line"][:-2],
                *address["line"][-2:],
            )
        resource["address"] = [address]
    return resource
