"""Turns episodes (with batch-loaded assignees, tasks and patients) into the contract's shapes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from openhero.episodes import repository, schemas
from openhero.episodes.models import Episode, EpisodeNote
from openhero.patients.models import Patient
from openhero.practice.models import Admin

_SEXES = {"male", "female", "other", "unspecified"}


def list_patient(patient: Patient | None) -> schemas.EpisodeListPatient | None:
    if patient is None:
        return None
    return schemas.EpisodeListPatient.model_validate(patient, from_attributes=True)


def task_patient(patient: Patient | None) -> schemas.EpisodeTaskPatient | None:
    if patient is None:
        return None
    sex = (patient.sex or "").lower()
    emails = list(patient.emails or []) or ([patient.email] if patient.email else [])
    full_name = " ".join(p for p in (patient.title, patient.first_name, patient.last_name) if p)
    return schemas.EpisodeTaskPatient(
        id=str(patient.id), uid=patient.uid, ehr_partner_id=patient.ehr_partner_id, emis_id=patient.emis_id,
        deceased_at=patient.deceased_at, dob=patient.dob, title=patient.title, first_name=patient.first_name,
        last_name=patient.last_name, sex=sex if sex in _SEXES else "unspecified", nhs_number=patient.nhs_number,
        email=patient.email, mobile=patient.mobile, last_sync_at=patient.last_sync_at, full_name=full_name,
        contact_emails=emails, registered_practitioner_name=None, notes=patient.notes, membership_scheme_names=[],
        address=schemas.Address(line1=patient.address_line_1, line2=patient.address_line_2,
                                line3=patient.address_line_3, town=patient.town or "", county=patient.county,
                                country=patient.country or "United Kingdom", postcode=patient.postcode or ""),
    )


def assignee_out(rows: Sequence[repository.AssigneeRow]) -> list[schemas.EpisodeAssignee]:
    return [schemas.EpisodeAssignee(type=kind, id=str(who), name=name) for kind, who, name in rows]  # type: ignore[arg-type]


def note_out(note: EpisodeNote, admin: Admin | None) -> schemas.EpisodeNote:
    who = None
    if admin is not None:
        who = schemas.NoteAdmin(id=admin.id, first_name=admin.first_name, last_name=admin.last_name,
                                full_name=f"{admin.first_name} {admin.last_name}".strip())
    return schemas.EpisodeNote(id=note.id, episode_id=note.episode_id, description=note.description, admin=who,
                               practice_group_id=note.practice_group_id, archived_at=note.archived_at,
                               created_at=note.created_at)


def _base(e: Episode, assignees: Sequence[repository.AssigneeRow], patient: Patient | None) -> dict:  # type: ignore[type-arg]
    return {"id": str(e.id), "status": e.status, "priority": e.priority, "title": e.title, "type": e.episode_type,
            "assignees": assignee_out(assignees), "patient": list_patient(patient), "created_at": e.created_at,
            "updated_at": e.updated_at, "closed_at": e.closed_at}


async def list_items(session: AsyncSession, episodes: Sequence[Episode]) -> list[schemas.EpisodeListItem]:
    ids = [e.id for e in episodes]
    assignees = await repository.assignees_of(session, ids)
    tasks = await repository.tasks_of(session, ids)
    patient_ids = [e.patient_id for e in episodes] + [t.patient_id for ts in tasks.values() for t in ts]
    patients = await repository.patients_by_id(session, patient_ids)  # type: ignore[arg-type]
    out = []
    for e in episodes:
        # Each task patient's rendering is shared by the episode's tasks of the same patient.
        rendered: dict[int, schemas.EpisodeTaskPatient | None] = {}
        items = []
        for t in tasks.get(e.id, []):
            if t.patient_id is None or t.patient_id not in patients:
                continue  # the patient record is gone
            if t.patient_id not in rendered:
                rendered[t.patient_id] = task_patient(patients[t.patient_id])
            items.append(schemas.EpisodeTask(id=str(t.id), type_label=t.type_label, details=t.details,
                                             category=t.category, status=t.status, priority=t.priority,
                                             created_at=t.created_at, patient=rendered[t.patient_id]))
        out.append(schemas.EpisodeListItem(**_base(e, assignees.get(e.id, []), patients.get(e.patient_id or 0)),
                                           tasks=items))
    return out


async def list_items_v2(session: AsyncSession, episodes: Sequence[Episode]) -> list[schemas.EpisodeListItemV2]:
    ids = [e.id for e in episodes]
    assignees = await repository.assignees_of(session, ids)
    counts = await repository.counts_of(session, ids)
    patients = await repository.patients_by_id(session, [e.patient_id for e in episodes])  # type: ignore[misc]
    out = []
    for e in episodes:
        total, still_open, notes = counts.get(e.id, (0, 0, 0))
        out.append(schemas.EpisodeListItemV2(**_base(e, assignees.get(e.id, []), patients.get(e.patient_id or 0)),
                                             task_count=total, open_task_count=still_open, note_count=notes))
    return out


async def full(session: AsyncSession, episode: Episode) -> schemas.Episode:
    item = (await list_items(session, [episode]))[0]
    notes = await repository.notes_of(session, episode.id)
    return schemas.Episode.model_validate({**dict(item), "notes": [note_out(n, a) for n, a in notes]})
