"""The PDS (Personal Demographics Service) adapter interface shared by every domain.

An adapter traces one person on the Spine and answers a ``PdsPatient`` or raises one of the
``Pds*`` errors below. Registration (patients) and batch-message enrichment (messaging) both
use it through ``openhero.patients.pds.get_pds_adapter``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Protocol


@dataclass(frozen=True)
class PdsPatient:
    nhs_number: str
    dob: date
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    sex: str | None = None  # the contract's PatientSex: Male | Female | Other | Not known | Not specified
    deceased_at: datetime | None = None
    mobile: str | None = None
    landline: str | None = None
    email: str | None = None
    address_line_1: str | None = None
    address_line_2: str | None = None
    address_line_3: str | None = None
    town: str | None = None
    county: str | None = None
    postcode: str | None = None
    # A sensitive (restricted) record: PDS withholds address and contacts, and so do we.
    restricted: bool = False
    # Set when the trace used an old NHS number that PDS has replaced with ``nhs_number``.
    superseded_nhs_number: str | None = None
    # ODS code of the registered GP practice, when PDS names one.
    gp_ods_code: str | None = None

    def without_contacts(self) -> PdsPatient:
        """The same person with address and contact details removed (restricted records)."""
        return replace(
            self,
            mobile=None,
            landline=None,
            email=None,
            address_line_1=None,
            address_line_2=None,
            address_line_3=None,
            town=None,
            county=None,
            postcode=None,
        )


class PdsError(Exception):
    """Base of every trace outcome that is not a usable patient."""


class PdsNotFound(PdsError):
    """No unique person matches (unknown NHS number, wrong date of birth, no or many matches)."""


class PdsIdentityCheckRequired(PdsError):
    """Traced, but the patient must verify their identity before a record can be created."""

    def __init__(self, login_url: str, message: str = "Patient must verify their identity before proceeding"):
        super().__init__(message)
        self.login_url = login_url
        self.message = message


class PdsDeceased(PdsError):
    """Traced, but PDS records the patient as deceased."""

    def __init__(self, patient: PdsPatient):
        super().__init__(f"Patient {patient.nhs_number} is recorded as deceased")
        self.patient = patient


class PdsUnavailable(PdsError):
    """PDS could not be reached or timed out (maps to 503)."""


class PdsBadResponse(PdsUnavailable):
    """PDS answered with an error or a body we cannot read (maps to 502)."""


class PdsAdapter(Protocol):
    """``ods_code`` is the acting organisation (sent as ``NHSD-End-User-Organisation-ODS``) and
    ``correlation_id`` the API caller's ``X-Correlation-ID``; both are passed on when given."""

    async def trace_by_nhs_number(
        self, nhs_number: str, dob: date, *, ods_code: str | None = None, correlation_id: str | None = None
    ) -> PdsPatient: ...

    async def trace_by_demographics(
        self,
        forename: str,
        surname: str,
        dob: date,
        postcode: str,
        *,
        ods_code: str | None = None,
        correlation_id: str | None = None,
    ) -> PdsPatient: ...
