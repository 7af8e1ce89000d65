"""Practice group, staff, places and Elements token schemas."""

from __future__ import annotations

from email.headerregistry import Address

from pydantic import EmailStr, Field, field_validator
from pydantic_core import PydanticCustomError

from openhero.core.schemas import ApiModel, Id, RequestModel, Timestamp


class PracticeAddress(ApiModel):
    line_1: str | None = None
    line_2: str | None = None
    line_3: str | None = None
    town: str | None = None
    county: str | None = None
    postcode: str | None = None
    country: str | None = None


class PracticeAddressInput(RequestModel):
    line_1: str | None = Field(default=None, max_length=200)
    line_2: str | None = Field(default=None, max_length=200)
    line_3: str | None = Field(default=None, max_length=200)
    town: str | None = Field(default=None, max_length=100)
    county: str | None = Field(default=None, max_length=100)
    postcode: str | None = Field(default=None, max_length=16)
    country: str | None = Field(default=None, max_length=100)


class PracticeGroupOut(ApiModel):
    id: Id
    name: str
    sector: str
    address: PracticeAddress
    ods_code: str | None = None
    network_id: Id | None = None
    phone: str | None = None
    email: str | None = None
    prescription_partner_enabled: bool = False
    prescription_partner: str | None = None
    email_from: str | None = Field(default=None, description="openhero: the From of this group's emails (SMTP).")
    email_reply_to: str | None = Field(default=None, description="openhero: the Reply-To of this group's emails.")
    created_at: Timestamp


class PrescriptionPartnerCredentials(RequestModel):
    email: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=200)


class UpdatePracticeGroupRequest(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    prescription_partner_enabled: bool | None = None
    prescription_partner: str | None = Field(default=None, pattern="^(signature_rx)$",
                                             description="openhero accepts the one value seen in Hero's docs.")
    prescription_partner_credentials: PrescriptionPartnerCredentials | None = None
    address: PracticeAddressInput | None = None
    email_from: str | None = Field(
        default=None, max_length=320,
        description="openhero extension: the From of emails this group sends through the SMTP relay, "
                    "`Name <address>` or an address (null: the server's OPENHERO_SMTP_FROM). The relay must "
                    "allow the authenticated account to send as this address (NHSmail/Office 365 'Send As'); "
                    "Message-IDs use its domain.")
    email_reply_to: str | None = Field(
        default=None, max_length=320,
        description="openhero extension: where patients' replies go, `Name <address>` or an address "
                    "(null: no Reply-To header).")

    @field_validator("email_from", "email_reply_to")
    @classmethod
    def _mailbox(cls, value: str | None) -> str | None:
        return mailbox(value) if value else None


def mailbox(value: str) -> str:
    """``Name <address>`` or ``address`` -> the normalised header value; 400 when it is not one mailbox."""
    from pydantic import validate_email

    try:
        name, address = validate_email(value.strip())
    except Exception:
        raise PydanticCustomError("value_error", "a single mailbox: Name <address> or address") from None
    if not address.isascii():  # SMTPUTF8 addresses are refused by NHSmail and most relays
        raise PydanticCustomError("value_error", "an ASCII email address")
    return str(Address(display_name=name, addr_spec=address)) if "<" in value and name else address


class CapabilitiesOut(ApiModel):
    """openhero's shape (Hero's was not published): one boolean per feature."""

    practice_group_id: Id
    messaging: bool
    sms: bool
    email: bool
    nhs_app: bool
    batch_messaging: bool
    booking: bool
    booking_links: bool
    form_links: bool
    webhooks: bool
    write_to_record: bool
    prescriptions: bool
    scopes: list[str]
    permissions: list[str]


class ConfigurationOut(ApiModel):
    """openhero's shape (Hero's was not published): the settings that change API behaviour."""

    practice_group_id: Id
    timezone: str
    reservation_hold_minutes: int
    cancellation_policy_hours: int
    access_token_ttl_seconds: int
    default_page_size: int
    max_page_size: int
    write_to_record_snomed_defaults: dict[str, str]


class LocationOut(ApiModel):
    id: Id
    name: str
    address: PracticeAddress
    phone: str | None = None
    online_booking_enabled: bool


class PractitionerOut(ApiModel):
    id: Id
    title: str | None = None
    first_name: str
    last_name: str
    full_name: str
    practitioner_type: str
    gender: str | None = None
    gmc_number: str | None = None
    bio: str | None = None
    location_ids: list[Id]


class PrescriberDetails(ApiModel):
    name: str | None = None
    email: str | None = None
    registration_code: str | None = None


class PrescriberDetailsInput(RequestModel):
    name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    registration_code: str | None = Field(default=None, max_length=64)


class AdminOut(ApiModel):
    id: Id
    first_name: str
    last_name: str
    email: str
    external_prescriber_id: str | None
    prescriber_details: PrescriberDetails | None = None


class UpdateAdminRequest(RequestModel):
    external_prescriber_id: str | None = Field(default=None, min_length=1, max_length=100)
    prescriber_details: PrescriberDetailsInput | None = None


class UpdateAdminResponse(ApiModel):
    admin_id: Id


class AccessTokenResponse(ApiModel):
    access_token: str
