"""The sandbox HCA consultant directory (openhero).

Hero's Booking - HCA operations search HCA Healthcare UK's consultant directory. openhero ships this
fixed, documented sandbox instead: fictional consultants (names and GMC numbers are invented; any
match with a real registrant is chance) at HCA Healthcare UK's London and Manchester sites.
"""

from __future__ import annotations

from typing import Any

HARLEY = {"name": "The Harley Street Clinic", "city": "London", "postcode": "W1G 8BJ"}
WELLINGTON = {"name": "The Wellington Hospital", "city": "London", "postcode": "NW8 9LE"}
LONDON_BRIDGE = {"name": "London Bridge Hospital", "city": "London", "postcode": "SE1 2PR"}
PRINCESS_GRACE = {"name": "The Princess Grace Hospital", "city": "London", "postcode": "W1U 5NY"}
LISTER = {"name": "The Lister Hospital", "city": "London", "postcode": "SW1W 8RH"}
PORTLAND = {"name": "The Portland Hospital", "city": "London", "postcode": "W1W 5AH"}
CHRISTIE = {"name": "The Christie Private Care", "city": "Manchester", "postcode": "M20 4BX"}
WILMSLOW = {"name": "The Wilmslow Hospital", "city": "Wilmslow", "postcode": "SK9 1NY"}


def _c(gmc: str, title: str, first: str, last: str, gender: str, specialty: str, subs: list[str],
       hospitals: list[dict[str, str]], languages: list[str], nhs_referrals: bool = True) -> dict[str, Any]:
    return {"gmc_number": gmc, "title": title, "first_name": first, "last_name": last,
            "full_name": f"{title} {first} {last}", "gender": gender, "specialty": specialty,
            "sub_specialties": subs, "hospitals": hospitals, "languages": ["English", *languages],
            "accepts_gp_referrals": nhs_referrals, "self_pay": True}


CONSULTANTS: list[dict[str, Any]] = [
    _c("7100231", "Mr", "Oliver", "Hartley", "male", "Orthopaedic Surgery", ["Knee", "Sports injuries"],
       [WELLINGTON, PRINCESS_GRACE], []),
    _c("7100458", "Miss", "Priya", "Raman", "female", "Orthopaedic Surgery", ["Hand and wrist"], [LONDON_BRIDGE],
       ["Tamil"]),
    _c("7100672", "Dr", "Helen", "Okafor", "female", "Cardiology", ["Heart failure", "Echocardiography"],
       [HARLEY, LONDON_BRIDGE], ["Igbo"]),
    _c("7100895", "Prof", "James", "Whitfield", "male", "Cardiology", ["Electrophysiology", "Arrhythmia"],
       [HARLEY], []),
    _c("7101126", "Dr", "Amelia", "Castillo", "female", "Dermatology", ["Skin cancer", "Mohs surgery"],
       [LISTER, PRINCESS_GRACE], ["Spanish"]),
    _c("7101349", "Dr", "Samuel", "Adeyemi", "male", "Gastroenterology", ["Endoscopy", "IBD"],
       [LONDON_BRIDGE, LISTER], ["Yoruba"]),
    _c("7101563", "Ms", "Charlotte", "Beaumont", "female", "Breast Surgery", ["Oncoplastic surgery"],
       [PRINCESS_GRACE, WELLINGTON], ["French"]),
    _c("7101780", "Dr", "Farhan", "Siddiqui", "male", "Neurology", ["Headache", "Epilepsy"], [WELLINGTON],
       ["Urdu", "Hindi"]),
    _c("7102014", "Mr", "Thomas", "Greenwood", "male", "Urology", ["Prostate", "Robotic surgery"],
       [LONDON_BRIDGE, CHRISTIE], []),
    _c("7102237", "Miss", "Eleanor", "Marsh", "female", "Obstetrics and Gynaecology", ["Fertility", "Endometriosis"],
       [PORTLAND, LISTER], []),
    _c("7102451", "Dr", "Lucy", "Tremaine", "female", "Paediatrics", ["Paediatric allergy"], [PORTLAND], []),
    _c("7102688", "Dr", "Rajesh", "Nair", "male", "Medical Oncology", ["Lung cancer", "Immunotherapy"],
       [CHRISTIE, HARLEY], ["Malayalam"]),
    _c("7102905", "Mr", "Daniel", "Kowalski", "male", "ENT", ["Rhinology", "Sinus surgery"],
       [PRINCESS_GRACE, WILMSLOW], ["Polish"]),
    _c("7103142", "Dr", "Grace", "Ellison", "female", "Endocrinology", ["Thyroid", "Diabetes"],
       [LISTER, WILMSLOW], []),
    _c("7103366", "Mr", "Alistair", "Munro", "male", "General Surgery", ["Hernia", "Laparoscopic surgery"],
       [WILMSLOW, CHRISTIE], [], nhs_referrals=False),
]

BY_GMC = {c["gmc_number"]: c for c in CONSULTANTS}

# Field name -> how to read its searchable text.
SEARCHABLE: dict[str, Any] = {
    "first_name": lambda c: [c["first_name"]],
    "last_name": lambda c: [c["last_name"]],
    "full_name": lambda c: [c["full_name"]],
    "gmc_number": lambda c: [c["gmc_number"]],
    "specialty": lambda c: [c["specialty"]],
    "sub_specialties": lambda c: c["sub_specialties"],
    "hospitals": lambda c: [f"{h['name']} {h['city']}" for h in c["hospitals"]],
    "languages": lambda c: c["languages"],
}
