"""HCA consultant shapes (openhero's: Hero's response bodies were not published)."""

from __future__ import annotations

from openhero.core.schemas import ApiModel


class HcaHospital(ApiModel):
    name: str
    city: str
    postcode: str


class HcaConsultant(ApiModel):
    gmc_number: str
    title: str
    first_name: str
    last_name: str
    full_name: str
    gender: str
    specialty: str
    sub_specialties: list[str]
    hospitals: list[HcaHospital]
    languages: list[str]
    accepts_gp_referrals: bool
    self_pay: bool


class HcaConsultantList(ApiModel):
    data: list[HcaConsultant]
    count: int
