"""The demo data set: a realistic GP practice in a primary care network, a sister practice in the same
network (cross-organisation calls) and an unrelated practice outside it (403s).

Seeding is idempotent: a practice group is recognised by its ODS code and seeded once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.booking.models import AppointmentType
from openhero.domains import import_optional
from openhero.practice.models import Admin, AdminTeam, Location, Network, PracticeGroup, Practitioner
from openhero.tasks.models import PRIORITY_RANK, Task

DEMO_ODS = "Y02001"  # Oakwood Surgery: the group the demo key belongs to
SISTER_ODS = "Y02002"
OUTSIDE_ODS = "Y03001"


@dataclass
class DemoIds:
    practice_group_id: int
    sister_practice_group_id: int
    outside_practice_group_id: int


PRACTICES: list[dict[str, Any]] = [
    {"ods_code": DEMO_ODS, "name": "Oakwood Surgery", "phone": "0113 496 0001", "email": "oakwood.surgery@nhs.net",
     "address": {"line_1": "1 Oakwood Lane", "town": "Leeds", "county": "West Yorkshire", "postcode": "LS8 2PF"},
     "locations": [
         {"name": "Oakwood Surgery – Main Site", "phone": "0113 496 0001",
          "address": {"line_1": "1 Oakwood Lane", "town": "Leeds", "postcode": "LS8 2PF"}},
         {"name": "Roundhay Branch Surgery", "phone": "0113 496 0002",
          "address": {"line_1": "14 Street Lane", "line_2": "Roundhay", "town": "Leeds", "postcode": "LS8 1BW"}},
     ]},
    {"ods_code": SISTER_ODS, "name": "Park Lane Medical Centre", "phone": "0113 496 0100",
     "email": "parklane.mc@nhs.net",
     "address": {"line_1": "220 Park Lane", "town": "Leeds", "county": "West Yorkshire", "postcode": "LS3 1EJ"},
     "locations": [{"name": "Park Lane Medical Centre", "phone": "0113 496 0100",
                    "address": {"line_1": "220 Park Lane", "town": "Leeds", "postcode": "LS3 1EJ"}}]},
    {"ods_code": OUTSIDE_ODS, "name": "Riverside Health Centre", "phone": "01904 496 200",
     "email": "riverside.hc@nhs.net",
     "address": {"line_1": "5 Skeldergate", "town": "York", "county": "North Yorkshire", "postcode": "YO1 6DH"},
     "locations": [{"name": "Riverside Health Centre", "phone": "01904 496 200",
                    "address": {"line_1": "5 Skeldergate", "town": "York", "postcode": "YO1 6DH"}}]},
]

PRACTITIONERS = [
    # (title, first, last, type, gender, location indexes)
    ("Dr", "Priya", "Sharma", "GP", "female", (0, 1)),
    ("Dr", "James", "O'Connor", "GP", "male", (0,)),
    ("Nurse", "Helen", "Brooks", "Nurse", "female", (0, 1)),
    ("Mr", "Tom", "Fletcher", "Cognitive Behavioural Therapist", "male", (1,)),
]

ADMINS = [
    ("Sarah", "Mitchell", "sarah.mitchell", "Practice Manager"),
    ("Daniel", "Hughes", "daniel.hughes", "Receptionist"),
    ("Aisha", "Khan", "aisha.khan", "Care Navigator"),
]

APPOINTMENT_TYPES = [
    # name, partner slot name, sector, price, minutes, video, in person, telephone, practitioner type, locations
    ("GP Consultation", "GP Routine", "nhs", "0", 10, False, True, True, "GP", (0, 1)),
    ("GP Video Consultation", "GP Video", "nhs", "0", 10, True, False, False, "GP", (0,)),
    ("Nurse Appointment – Blood Test", "Nurse Bloods", "nhs", "0", 15, False, True, False, "Nurse", (0, 1)),
    ("Private Travel Vaccination", "Travel Clinic", "paid", "65.00", 20, False, True, False, "Nurse", (0,)),
    ("Private CBT Session", "CBT", "paid", "90.00", 50, True, False, True, "Cognitive Behavioural Therapist", (1,)),
]

TASK_KINDS = [
    # type label, category, details
    ("Appointment booked", "appointment", "Booked online: GP Consultation"),
    ("Repeat prescription request", "prescription", "Requests repeat of salbutamol 100mcg inhaler"),
    ("Patient reply", "communication", "Replied to flu clinic invitation: 'Can I bring my husband too?'"),
    ("Form submission", "form_response", "Care navigation form: ongoing lower back pain for 3 weeks"),
    ("Test results to review", "results", "FBC and U&E results received from Leeds Teaching Hospitals"),
    ("Write to record failed", "system_alert", "SMS could not be written to the patient's record"),
    ("Fit note request", "general", "Requests extension of fit note ending this Friday"),
    ("Medication review due", "general", "Annual medication review for hypertension"),
]


async def _group_by_ods(session: AsyncSession, ods: str) -> PracticeGroup | None:
    return (await session.execute(select(PracticeGroup).where(PracticeGroup.ods_code == ods))).scalar_one_or_none()


async def _optional_hook(module: str, function: str, *args: Any) -> Any:
    """Call another domain's demo hook when that domain is installed."""
    mod = import_optional(module)
    return None if mod is None else await getattr(mod, function)(*args)


async def seed_demo(session: AsyncSession, now: datetime) -> DemoIds:
    network = (await session.execute(select(Network).where(Network.name == "Leeds Central PCN"))).scalar_one_or_none()
    if network is None:
        network = Network(name="Leeds Central PCN")
        session.add(network)
        await session.flush()
    ids = []
    for index, spec in enumerate(PRACTICES):
        group = await _group_by_ods(session, spec["ods_code"])
        if group is None:
            group = await _seed_practice(session, spec, network.id if index < 2 else None, now,
                                         rng=random.Random(index))
        ids.append(group.id)
    await session.flush()
    return DemoIds(*ids)


async def _seed_practice(session: AsyncSession, spec: dict[str, Any], network_id: int | None, now: datetime,
                         rng: random.Random) -> PracticeGroup:
    group = PracticeGroup(name=spec["name"], ods_code=spec["ods_code"], sector="nhs", network_id=network_id,
                          address=spec["address"], phone=spec["phone"], email=spec["email"], created_at=now,
                          updated_at=now)
    session.add(group)
    await session.flush()
    locations = [Location(practice_group_id=group.id, **loc) for loc in spec["locations"]]
    session.add_all(locations)
    await session.flush()

    def at(indexes: tuple[int, ...]) -> list[Location]:
        return [locations[i] for i in indexes if i < len(locations)]

    session.add_all([
        Practitioner(practice_group_id=group.id, title=title, first_name=first, last_name=last, practitioner_type=kind,
                     gender=gender, locations=at(locs))
        for title, first, last, kind, gender, locs in PRACTITIONERS])
    domain = spec["email"].split("@")[1]
    admins = [Admin(practice_group_id=group.id, first_name=first, last_name=last, role=role,
                    email=f"{login}.{spec['ods_code'].lower()}@{domain}") for first, last, login, role in ADMINS]
    session.add_all(admins)
    await session.flush()
    team = AdminTeam(practice_group_id=group.id, name="Reception Team", members=admins[1:])
    session.add(team)
    await session.flush()
    forms = await _optional_hook("openhero.forms.demo", "seed_demo_forms", session, group.id, now) or []
    travel_form = next((f.id for f in forms if "travel" in f.title.lower()), None)
    # Paid appointments land in the reception team's queue (invoicing); NHS ones are unassigned.
    session.add_all([
        AppointmentType(practice_group_id=group.id, name=name, partner_slot_name=slot, sector=sector,
                        price=Decimal(price), duration=minutes, video=video, in_person=in_person, telephone=phone,
                        practitioner_type=kind, locations=at(locs),
                        assignee_type="AdminTeam" if sector == "paid" else None,
                        assignee_id=team.id if sector == "paid" else None,
                        form_id=travel_form if name.startswith("Private Travel") else None)
        for name, slot, sector, price, minutes, video, in_person, phone, kind, locs in APPOINTMENT_TYPES])
    await session.flush()
    patients = await _optional_hook("openhero.patients.demo", "seed_demo_patients", session, group.id, now) or []
    await _seed_tasks(session, group.id, [p.id for p in patients], admins, team, now, rng)
    await _optional_hook("openhero.booking.demo", "seed_demo_schedule", session, group.id, now)
    await _optional_hook("openhero.messaging.demo", "seed_demo_messaging", session, group.id, now)
    await _optional_hook("openhero.links.demo", "seed_demo_links", session, group.id, now)
    await _optional_hook("openhero.invoicing.demo", "seed_demo_invoicing", session, group.id, now)
    await _optional_hook("openhero.episodes.demo", "seed_demo_episodes", session, group.id, now)
    await _optional_hook("openhero.prescriptions.demo", "seed_demo_pharmacies", session, group.id, now)
    return group


async def _seed_tasks(session: AsyncSession, group_id: int, patient_ids: list[int], admins: list[Admin],
                      team: AdminTeam, now: datetime, rng: random.Random) -> None:
    priorities = ["lowest", "low", "medium", "medium", "high", "highest"]
    for i in range(30):
        label, category, details = TASK_KINDS[i % len(TASK_KINDS)]
        created = now - timedelta(hours=3 * i + rng.randint(0, 120) / 60)
        status = "closed" if i % 3 == 0 else ("in_progress" if i % 5 == 0 else "open")
        assignee: tuple[str | None, int | None] = [
            ("admin", admins[i % len(admins)].id), ("admin_team", team.id), (None, None)][i % 3]
        priority = priorities[rng.randrange(len(priorities))]
        session.add(Task(
            practice_group_id=group_id, type_label=label, category=category, details=details, status=status,
            priority=priority, priority_rank=PRIORITY_RANK[priority], assignee_type=assignee[0],
            assignee_id=assignee[1], patient_id=patient_ids[i % len(patient_ids)] if patient_ids else None,
            triggered_by={"type": "system"}, created_at=created, updated_at=created,
            closed_at=created + timedelta(hours=2) if status == "closed" else None))
    await session.flush()
