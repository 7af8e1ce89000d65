"""FHIR R4 ``Patient`` (as PDS serves it) -> ``PdsPatient``, and the checks every trace applies.

Both adapters go through here: the sandbox keeps its people as FHIR JSON too, so the mapping is
exercised on every sandbox trace, not only against a real PDS.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient as FhirPatient
from pydantic import ValidationError

from openhero.patients.nhs import PATIENT_TITLES, normalise_postcode
from openhero.patients.pds.base import (
    PdsBadResponse,
    PdsDeceased,
    PdsIdentityCheckRequired,
    PdsNotFound,
    PdsPatient,
)

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
VERIFICATION_EXTENSION = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
VERIFICATION_SYSTEM = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
# "R" restricted and "V" very restricted: PDS withholds address and telecom ("S-flagged" records).
RESTRICTED_CODES = frozenset({"R", "V", "REDACTED"})
GENDERS = {"male": "Male", "female": "Female", "other": "Other", "unknown": "Not known"}
TITLES = frozenset(PATIENT_TITLES)
_TITLE_BY_LOWER = {t.lower().rstrip("."): t for t in TITLES}
NO_BIRTH_DATE = "PDS holds no date of birth for this patient, so the trace cannot be verified"


def parse_patient(resource: dict[str, Any]) -> FhirPatient:
    try:
        return FhirPatient.model_validate(resource)
    except (ValidationError, ValueError, TypeError) as exc:
        raise PdsBadResponse(f"PDS returned a Patient that is not valid FHIR R4: {exc}") from None


def parse_search_bundle(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """The Patient resources of a PDS searchset Bundle (as dicts, parsed one by one later)."""
    try:
        bundle = Bundle.model_validate(resource)
    except (ValidationError, ValueError, TypeError) as exc:
        raise PdsBadResponse(f"PDS returned a Bundle that is not valid FHIR R4: {exc}") from None
    out = []
    for entry in bundle.entry or []:
        if entry.resource is not None and entry.resource.get_resource_type() == "Patient":
            out.append(entry.resource.model_dump(mode="json", exclude_none=True))
    return out


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _period(item: Any) -> tuple[date | None, date | None]:
    period = getattr(item, "period", None)
    if period is None:
        return None, None
    return _as_date(getattr(period, "start", None)), _as_date(getattr(period, "end", None))


def _is_current(item: Any, today: date) -> bool:
    start, end = _period(item)
    return (start is None or start <= today) and (end is None or end >= today)


def _recency(item: Any) -> date:
    """How recent a no-longer-current entry is: when it ended, else when it started."""
    start, end = _period(item)
    return end or start or date.min


def _choose(items: list[Any] | None, today: date, *uses: str) -> Any | None:
    """The entry to use: a current one (by period), preferring ``uses`` in order; when none is
    current, the most recent. PDS keeps history with ``period.end``, and its own sandbox records
    have only ended periods, so "nothing current" must not mean "nothing"."""
    items = [item for item in items or [] if getattr(item, "use", None) != "old"] or list(items or [])
    live = [item for item in items if _is_current(item, today)]
    if live:
        return _pick(live, *uses)
    if not items:
        return None
    # Past entries before future ones, then the latest first; a preferred use breaks ties.
    rank = {use: i for i, use in enumerate(uses)}
    return max(
        items,
        key=lambda item: (
            (_period(item)[0] or date.min) <= today,
            _recency(item),
            -rank.get(getattr(item, "use", None) or "", len(rank)),
        ),
    )


def _pick(items: list[Any], *uses: str) -> Any | None:
    for use in uses:
        for item in items:
            if getattr(item, "use", None) == use:
                return item
    return items[0] if items else None


def _verified(patient: FhirPatient) -> bool:
    for identifier in patient.identifier or []:
        for ext in identifier.extension or []:
            if ext.url == VERIFICATION_EXTENSION and ext.valueCodeableConcept is not None:
                codes = {c.code for c in ext.valueCodeableConcept.coding or []}
                return "01" in codes  # 01 = number present and verified
    return True  # PDS omits the extension on ordinary verified records


def _restricted(patient: FhirPatient) -> bool:
    security = patient.meta.security if patient.meta else None
    return any((label.code or "").upper() in RESTRICTED_CODES for label in security or [])


def _address(patient: FhirPatient, today: date) -> dict[str, str | None]:
    address = _choose(patient.address, today, "home", "temp")
    if address is None:
        return {}
    lines = [line for line in address.line or [] if line]
    town, county = address.city, address.district
    # PDS writes post town and county as the 4th and 5th address lines rather than city/district.
    if town is None and len(lines) >= 4:
        town = lines[3]
    if county is None and len(lines) >= 5:
        county = lines[4]
    return {
        "address_line_1": lines[0] if lines else None,
        "address_line_2": lines[1] if len(lines) > 1 else None,
        "address_line_3": lines[2] if len(lines) > 2 else None,
        "town": town,
        "county": county,
        "postcode": normalise_postcode(address.postalCode) if address.postalCode else None,
    }


def _telecom(patient: FhirPatient, today: date) -> dict[str, str | None]:
    items = patient.telecom or []
    phones = [t for t in items if t.system in ("phone", "sms")]
    mobile = _choose([t for t in phones if t.use == "mobile" or t.system == "sms"], today, "mobile")
    landline = _choose([t for t in phones if t.use in ("home", "work")], today, "home", "work")
    email = _choose([t for t in items if t.system == "email"], today, "home", "work")
    return {
        "mobile": mobile.value if mobile else None,
        "landline": landline.value if landline else None,
        "email": email.value if email else None,
    }


def patient_from_fhir(resource: dict[str, Any], *, today: date | None = None) -> tuple[PdsPatient, bool]:
    """Map a PDS Patient resource; returns the patient and whether its NHS number is verified."""
    patient = parse_patient(resource)
    today = today or datetime.now(UTC).date()
    if not patient.id:
        raise PdsBadResponse("PDS returned a Patient without an id")
    if patient.birthDate is None:
        # A valid answer (PDS's minimal record), but the caller's date of birth cannot be checked.
        raise PdsNotFound(NO_BIRTH_DATE)
    name = _choose(patient.name, today, "usual", "official")
    prefix = (name.prefix or [None])[0] if name else None
    deceased = patient.deceasedDateTime
    if deceased is None and patient.deceasedBoolean:
        deceased = datetime.combine(patient.birthDate, datetime.min.time(), UTC)
    if deceased is not None and deceased.tzinfo is None:
        deceased = deceased.replace(tzinfo=UTC)
    gp = (patient.generalPractitioner or [None])[0]
    gp_ods = gp.identifier.value if gp is not None and gp.identifier is not None else None
    restricted = _restricted(patient)
    birth = patient.birthDate if isinstance(patient.birthDate, date) else date.fromisoformat(str(patient.birthDate))
    out = PdsPatient(
        nhs_number=str(patient.id),
        dob=birth,
        title=_TITLE_BY_LOWER.get(prefix.lower().rstrip(".")) if prefix else None,
        first_name=" ".join(name.given or []) or None if name else None,
        last_name=name.family if name else None,
        sex=GENDERS.get(patient.gender or "", None),
        deceased_at=deceased.astimezone(UTC) if deceased else None,
        restricted=restricted,
        gp_ods_code=gp_ods,
        **_telecom(patient, today),
        **_address(patient, today),
    )
    return (out.without_contacts() if restricted else out), _verified(patient)


def outcome_codes(body: dict[str, Any]) -> str:
    """The Spine error codes of an OperationOutcome (e.g. "TOO_MANY_MATCHES"), comma separated."""
    codes = []
    for issue in body.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        for coding in (issue.get("details") or {}).get("coding") or []:
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                codes.append(coding["code"])
    return ", ".join(codes)


def identity_login_url(base_url: str, secret: str, nhs_number: str) -> str:
    """Where the patient proves who they are; opaque (no NHS number in the URL), stable per person."""
    ref = hmac.new(secret.encode(), f"identity:{nhs_number}".encode(), hashlib.sha256).hexdigest()[:24]
    return f"{base_url.rstrip('/')}/verify/{ref}"


def settle_trace(
    traced: PdsPatient, verified: bool, *, requested_nhs_number: str | None, dob: date, login_url: str
) -> PdsPatient:
    """The outcome rules shared by both adapters, applied to a traced person.

    - the date of birth must match (PDS's read-by-id does not check it for us);
    - a deceased record is refused; an unverified NHS number needs an identity check;
    - a trace by an old NHS number reports the number it superseded.
    """
    if traced.dob != dob:
        raise PdsNotFound("No patient found")
    if traced.deceased_at is not None:
        raise PdsDeceased(traced)
    if not verified:
        raise PdsIdentityCheckRequired(login_url)
    if requested_nhs_number and requested_nhs_number != traced.nhs_number:
        return replace(traced, superseded_nhs_number=requested_nhs_number)
    return traced
