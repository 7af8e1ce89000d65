"""The built-in sandbox PDS: a documented set of test people with one for every trace outcome."""

from __future__ import annotations

from datetime import date

from openhero.patients.nhs import normalise_postcode
from openhero.patients.pds.base import PdsNotFound, PdsPatient, PdsUnavailable
from openhero.patients.pds.mapping import identity_login_url, patient_from_fhir, settle_trace
from openhero.patients.pds.sandbox_data import PEOPLE, SandboxPerson, to_fhir


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


class SandboxPdsAdapter:
    def __init__(self, *, public_base_url: str, secret_key: str) -> None:
        self._base_url = public_base_url
        self._secret = secret_key
        self._by_number: dict[str, SandboxPerson] = {}
        for person in PEOPLE:
            self._by_number[person.nhs_number] = person
            if person.old_nhs_number:
                self._by_number[person.old_nhs_number] = person

    def _settle(self, person: SandboxPerson, requested: str | None, dob: date) -> PdsPatient:
        if person.outcome == "unavailable":
            raise PdsUnavailable("The sandbox PDS is unavailable for this patient (test case)")
        traced, verified = patient_from_fhir(to_fhir(person))
        return settle_trace(
            traced,
            verified,
            requested_nhs_number=requested,
            dob=dob,
            login_url=identity_login_url(self._base_url, self._secret, traced.nhs_number),
        )

    async def trace_by_nhs_number(
        self, nhs_number: str, dob: date, *, ods_code: str | None = None, correlation_id: str | None = None
    ) -> PdsPatient:
        person = self._by_number.get(nhs_number)
        if person is None:
            raise PdsNotFound("No patient found")
        return self._settle(person, nhs_number, dob)

    async def trace_by_demographics(
        self,
        forename: str,
        surname: str,
        dob: date,
        postcode: str,
        *,
        ods_code: str | None = None,
        correlation_id: str | None = None,
    ) -> PdsPatient:
        wanted = (_key(forename), _key(surname), dob.isoformat(), normalise_postcode(postcode))
        matches = [
            p
            for p in PEOPLE
            if (_key(p.first_name), _key(p.last_name), p.dob, normalise_postcode(p.postcode)) == wanted
        ]
        if len(matches) != 1:
            raise PdsNotFound("No patient found")
        return self._settle(matches[0], None, dob)
