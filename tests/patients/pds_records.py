"""PDS Patient records shaped like NHS Digital's published sandbox examples, written for these tests.

What matters about the real examples is their shape, so these keep it: every name, telecom and
address carries a ``period`` and most of those periods have ended; a restricted record has the
``R`` confidentiality label and no address or telecom at all; the minimal record has only an id,
its identifier and meta (no name, no birth date). The people, numbers and places are our own
(valid 900-range test numbers, Ofcom drama-range phone numbers, example.com addresses).
"""

from __future__ import annotations

import copy
from typing import Any

from openhero.patients.pds.mapping import (
    CONFIDENTIALITY_SYSTEM,
    NHS_NUMBER_SYSTEM,
    ODS_SYSTEM,
    VERIFICATION_EXTENSION,
    VERIFICATION_SYSTEM,
)

ENDED = "9000000106"  # everything ended: the most recent entries are the ones to use
RESTRICTED = "9000000114"
MINIMAL = "9000000122"
TWIN_A, TWIN_B = "9000000130", "9000000149"  # same name, dob and postcode: an ambiguous search


def _meta(code: str = "U") -> dict[str, Any]:
    display = {"U": "unrestricted", "R": "restricted"}[code]
    return {"versionId": "3", "security": [{"system": CONFIDENTIALITY_SYSTEM, "code": code, "display": display}]}


def _identifier(nhs_number: str) -> list[dict[str, Any]]:
    return [
        {
            "system": NHS_NUMBER_SYSTEM,
            "value": nhs_number,
            "extension": [
                {
                    "url": VERIFICATION_EXTENSION,
                    "valueCodeableConcept": {
                        "coding": [
                            {"system": VERIFICATION_SYSTEM, "code": "01", "display": "Number present and verified"}
                        ]
                    },
                }
            ],
        }
    ]


def _period(start: str, end: str | None = None) -> dict[str, str]:
    return {"start": start, "end": end} if end else {"start": start}


def ended_record() -> dict[str, Any]:
    """Mrs Ellen Rose Marsh: two names, three phones, an email and two addresses, all ended."""
    return {
        "resourceType": "Patient",
        "id": ENDED,
        "identifier": _identifier(ENDED),
        "meta": _meta(),
        "name": [
            {
                "id": "n-old",
                "use": "usual",
                "period": _period("1990-01-01", "2019-12-31"),
                "given": ["Ellen"],
                "family": "Pike",
                "prefix": ["Miss"],
            },
            {
                "id": "n-1",
                "use": "usual",
                "period": _period("2020-01-01", "2021-12-31"),
                "given": ["Ellen", "Rose"],
                "family": "Marsh",
                "prefix": ["Mrs"],
                "suffix": ["MBE"],
            },
        ],
        "gender": "female",
        "birthDate": "1961-04-12",
        "generalPractitioner": [
            {
                "id": "gp-1",
                "type": "Organization",
                "identifier": {"system": ODS_SYSTEM, "value": "Y12345", "period": _period("2020-01-01", "2021-12-31")},
            }
        ],
        "telecom": [
            {"id": "t-1", "period": _period("2020-01-01", "2021-12-31"), "system": "phone", "value": "01632960587",
             "use": "home"},
            {"id": "t-2", "period": _period("2014-01-01", "2018-06-30"), "system": "phone", "value": "07700900222",
             "use": "mobile"},
            {"id": "t-3", "period": _period("2018-07-01", "2021-12-31"), "system": "phone", "value": "07700900111",
             "use": "mobile"},
            {"id": "t-4", "period": _period("2020-01-01", "2021-12-31"), "system": "email",
             "value": "ellen.marsh@example.com", "use": "home"},
        ],
        "address": [
            {
                "id": "a-old",
                "use": "home",
                "period": _period("2001-03-01", "2019-12-31"),
                "line": ["9 Westgate"],
                "city": "Wakefield",
                "district": "West Yorkshire",
                "postalCode": "WF1 1AA",
            },
            {
                "id": "a-1",
                "use": "home",
                "period": _period("2020-01-01", "2021-12-31"),
                "line": ["2 Park Square East", "Park Square", "City Centre", "Leeds", "West Yorkshire"],
                "postalCode": "LS1 2NE",
            },
        ],
    }


def restricted_record() -> dict[str, Any]:
    """A sensitive record: PDS sends the name but no address, telecom or GP."""
    return {
        "resourceType": "Patient",
        "id": RESTRICTED,
        "identifier": _identifier(RESTRICTED),
        "meta": _meta("R"),
        "name": [
            {
                "id": "n-1",
                "use": "usual",
                "period": _period("2020-01-01", "2021-12-31"),
                "given": ["Robin"],
                "family": "Hale",
                "prefix": ["Mx"],
            }
        ],
        "gender": "other",
        "birthDate": "1979-02-03",
    }


def minimal_record() -> dict[str, Any]:
    """Only what PDS always sends: no name, no birth date."""
    return {"resourceType": "Patient", "id": MINIMAL, "identifier": _identifier(MINIMAL), "meta": _meta()}


def twin_record(nhs_number: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": nhs_number,
        "identifier": _identifier(nhs_number),
        "meta": _meta(),
        "name": [{"id": "n-1", "use": "usual", "period": _period("2001-06-01"), "given": ["Sam"], "family": "Ambler"}],
        "gender": "unknown",
        "birthDate": "2001-06-01",
        "address": [
            {"id": "a-1", "use": "home", "period": _period("2001-06-01"), "line": ["4 Headingley Lane"],
             "city": "Leeds", "postalCode": "LS6 1AA"}
        ],
    }


def records() -> dict[str, dict[str, Any]]:
    out = {
        ENDED: ended_record(),
        RESTRICTED: restricted_record(),
        MINIMAL: minimal_record(),
        TWIN_A: twin_record(TWIN_A),
        TWIN_B: twin_record(TWIN_B),
    }
    return copy.deepcopy(out)
