"""Worker jobs for batch messages, one chunk of recipients per job (see ``batch``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core.worker import JobContext, Retry, job_handler
from openhero.messaging import batch
from openhero.messaging.contacts import MISSING_CONTACT, contact_on_record
from openhero.messaging.delivery import CHECK_JOB, outcome_values, outgoing
from openhero.messaging.models import BatchMessage, BatchRecipient, Message
from openhero.messaging.providers import Provider, ProviderUnavailable, SendResult, get_provider
from openhero.patients.models import Patient
from openhero.patients.pds import (
    PdsDeceased,
    PdsError,
    PdsIdentityCheckRequired,
    PdsNotFound,
    PdsPatient,
    PdsUnavailable,
    get_pds_adapter,
)
from openhero.patients.service import register_from_pds

CHANNELS = {"SMS": "sms", "EMAIL": "email", "NHS_APP": "nhs_app"}
PDS_CONCURRENCY = 8
# PDS unreachable for a recipient: tried again a minute later, then marked ENRICHMENT_ERROR.
PDS_ATTEMPTS = 3
PROVIDER_CONCURRENCY = 10
# PDS or the provider being down defers the chunk, not the whole batch.
RETRY_AFTER = timedelta(minutes=1)


def _bounds(b: BatchMessage, chunk: int) -> tuple[int, int]:
    return chunk * b.chunk_size, (chunk + 1) * b.chunk_size


@dataclass
class Enriched:
    recipient_id: int
    patient_id: int | None = None
    traced: PdsPatient | None = None
    error: str | None = None


def _pds_error(exc: PdsError) -> str:
    if isinstance(exc, PdsNotFound):
        return "Not traced on PDS (NHS number and date of birth do not match a person)"
    if isinstance(exc, PdsIdentityCheckRequired):
        return "PDS needs the patient to verify their identity first"
    if isinstance(exc, PdsDeceased):
        return "PDS records the patient as deceased"
    return f"PDS trace failed: {exc}"


async def _trace(adapter: Any, nhs_number: str, dob: date, limit: asyncio.Semaphore) -> PdsPatient | str | None:
    """The traced person, an enrichment error, or None when PDS could not answer (try again)."""
    async with limit:
        try:
            return await adapter.trace_by_nhs_number(nhs_number, dob)
        except PdsUnavailable:
            return None
        except PdsError as exc:
            return _pds_error(exc)


def _contact_error(channel: str, patient: Patient | PdsPatient) -> str | None:
    if isinstance(patient, PdsPatient):
        found = {"sms": patient.mobile, "email": patient.email, "nhs_app": patient.nhs_number}[channel]
    else:
        found = contact_on_record(channel, patient)
    return None if found else MISSING_CONTACT[channel]


@job_handler(batch.ENRICH_JOB)
async def enrich_chunk(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Resolve each recipient to a patient of the practice: the practice's own record when it holds
    the NHS number with that date of birth, otherwise a PDS trace (registering the traced patient)."""
    batch_id, chunk = int(payload["batch_id"]), int(payload["chunk"])
    async with ctx.db.session(write=False) as session:
        b = await session.get(BatchMessage, batch_id)
        if b is None:
            return
        lo, hi = _bounds(b, chunk)
        rows = (
            await session.execute(
                select(BatchRecipient.id, BatchRecipient.nhs_number, BatchRecipient.dob).where(
                    BatchRecipient.batch_id == batch_id,
                    BatchRecipient.position >= lo,
                    BatchRecipient.position < hi,
                    BatchRecipient.status == "CREATED",
                )
            )
        ).all()
        numbers = {r.nhs_number for r in rows}
        local = (
            {
                p.nhs_number: p
                for p in (
                    await session.execute(
                        select(Patient).where(
                            Patient.practice_group_id == b.practice_group_id, Patient.nhs_number.in_(numbers)
                        )
                    )
                ).scalars()
            }
            if numbers
            else {}
        )
    channel = CHANNELS[b.channel]
    attempt = int(payload.get("attempt", 1))
    unavailable = 0
    results: list[Enriched] = []
    to_trace = []
    for r in rows:
        patient = local.get(r.nhs_number)
        if patient is None:
            to_trace.append(r)
        elif patient.dob != r.dob:
            results.append(Enriched(r.id, error="Date of birth does not match the practice's record"))
        elif patient.status == "archived" or patient.deceased_at is not None:
            results.append(Enriched(r.id, error="The practice's record is archived or the patient is deceased"))
        else:
            results.append(Enriched(r.id, patient_id=patient.id, error=_contact_error(channel, patient)))
    if to_trace:
        adapter = get_pds_adapter(ctx.settings, ctx.http)
        limit = asyncio.Semaphore(PDS_CONCURRENCY)
        traced = await asyncio.gather(*(_trace(adapter, r.nhs_number, r.dob, limit) for r in to_trace))
        for r, outcome in zip(to_trace, traced, strict=True):
            if outcome is None:
                if attempt < PDS_ATTEMPTS:
                    unavailable += 1  # stays CREATED; a later job tries again
                else:
                    results.append(Enriched(r.id, error=f"PDS unavailable after {PDS_ATTEMPTS} attempts"))
            elif isinstance(outcome, str):
                results.append(Enriched(r.id, error=outcome))
            else:
                results.append(Enriched(r.id, traced=outcome, error=_contact_error(channel, outcome)))
    now = ctx.clock.now()
    async with ctx.db.session() as session:
        updates = []
        for e in results:
            if e.traced is not None and e.error is None:
                e.patient_id = (await register_from_pds(session, b.practice_group_id, e.traced, now)).id
            updates.append(
                {
                    "id": e.recipient_id,
                    "status": "ENRICHMENT_ERROR" if e.error else "ENRICHED",
                    "error": e.error,
                    "patient_id": e.patient_id,
                    "updated_at": now,
                }
            )
        if updates:
            await session.execute(update(BatchRecipient), updates)
        status = (
            await session.execute(select(BatchMessage.status).where(BatchMessage.id == batch_id).with_for_update())
        ).scalar_one()
        if status != "CREATED":
            # Send was requested while this chunk was being enriched: queue it now.
            await queue_chunk(session, b, chunk, now=now)
            await batch.maybe_complete(session, batch_id, now=now)
        if unavailable:
            await batch.enqueue_many(
                session,
                batch.ENRICH_JOB,
                [{**payload, "attempt": attempt + 1}],
                group_id=b.practice_group_id,
                now=now,
                run_at=now + RETRY_AFTER,
            )
        await session.commit()


async def queue_chunk(session: AsyncSession, b: BatchMessage, chunk: int, *, now: datetime) -> int:
    """Claim the chunk's ENRICHED recipients (ENRICHED -> QUEUED), create their messages and the
    chunk's send job. The conditional update makes queueing a recipient happen once."""
    lo, hi = _bounds(b, chunk)
    claimed = (
        await session.execute(
            update(BatchRecipient)
            .where(
                BatchRecipient.batch_id == b.id,
                BatchRecipient.position >= lo,
                BatchRecipient.position < hi,
                BatchRecipient.status == "ENRICHED",
            )
            .values(status="QUEUED", updated_at=now)
            .returning(BatchRecipient.id, BatchRecipient.position, BatchRecipient.patient_id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    if not claimed:
        return 0
    channel = CHANNELS[b.channel]
    patients = {
        p.id: p
        for p in (
            await session.execute(select(Patient).where(Patient.id.in_({c.patient_id for c in claimed})))
        ).scalars()
    }
    rows = []
    for c in claimed:
        patient = patients.get(c.patient_id)
        rows.append(
            {
                "practice_group_id": b.practice_group_id,
                "patient_id": c.patient_id,
                "message_type": channel,
                "content": b.content,
                "subject": b.subject,
                "status": "queued",
                "recipient": contact_on_record(channel, patient) if patient else None,
                "batch_id": b.id,
                "batch_position": c.position,
                "api_key_id": b.api_key_id,
                "submitted_by": f"batch message {b.id}",
                "write_to_record": False,
                "wtr_status": "not_requested",
                "encrypted": False,
                "created_at": now,
                "updated_at": now,
            }
        )
    created = (await session.execute(insert(Message).returning(Message.id, Message.batch_position), rows)).all()
    by_position = {m.batch_position: m.id for m in created}
    await session.execute(
        update(BatchRecipient), [{"id": c.id, "message_id": by_position[c.position]} for c in claimed]
    )
    await session.execute(
        update(BatchMessage)
        .where(BatchMessage.id == b.id, BatchMessage.status == "PENDING")
        .values(status="SENDING", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await batch.enqueue_many(
        session, batch.SEND_JOB, [{"batch_id": b.id, "chunk": chunk}], group_id=b.practice_group_id, now=now
    )
    return len(claimed)


@job_handler(batch.QUEUE_JOB)
async def queue_chunk_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    batch_id, chunk = int(payload["batch_id"]), int(payload["chunk"])
    now = ctx.clock.now()
    async with ctx.db.session() as session:
        b = await session.get(BatchMessage, batch_id)
        if b is None:
            return
        await queue_chunk(session, b, chunk, now=now)
        await batch.maybe_complete(session, batch_id, now=now)
        await session.commit()


async def _send_all(provider: Provider, messages: list[Message]) -> list[SendResult | None]:
    """Provider calls for a chunk; a message whose call failed transiently stays queued (None)."""
    if provider.name == "sandbox":
        return [await provider.send(outgoing(m)) for m in messages]
    limit = asyncio.Semaphore(PROVIDER_CONCURRENCY)

    async def one(m: Message) -> SendResult | None:
        async with limit:
            try:
                return await provider.send(outgoing(m))
            except ProviderUnavailable:
                return None

    return list(await asyncio.gather(*(one(m) for m in messages)))


@job_handler(batch.SEND_JOB)
async def send_chunk(ctx: JobContext, payload: dict[str, Any]) -> None:
    batch_id, chunk = int(payload["batch_id"]), int(payload["chunk"])
    async with ctx.db.session(write=False) as session:
        b = await session.get(BatchMessage, batch_id)
        if b is None:
            return
        lo, hi = _bounds(b, chunk)
        messages = list(
            (
                await session.execute(
                    select(Message).where(
                        Message.batch_id == batch_id,
                        Message.batch_position >= lo,
                        Message.batch_position < hi,
                        Message.status == "queued",
                    )
                )
            ).scalars()
        )
    provider = get_provider(CHANNELS[b.channel], ctx.settings)
    results = await _send_all(provider, messages)
    now = ctx.clock.now()
    async with ctx.db.session() as session:
        updates: list[dict[str, Any]] = []
        checks: list[dict[str, Any]] = []
        check_at: datetime | None = None
        for m, result in zip(messages, results, strict=True):
            if result is None:
                continue
            updates.append({"id": m.id, **outcome_values(result, provider, now)})
            await provider.record(session, outgoing(m), result)
            if result.check_after is not None and result.status == "sent":
                checks.append({"message_id": m.id})
                check_at = now + result.check_after
        if updates:
            await session.execute(update(Message), updates)
        await batch.enqueue_many(session, CHECK_JOB, checks, group_id=b.practice_group_id, now=now, run_at=check_at)
        await batch.maybe_complete(session, batch_id, now=now)
        await session.commit()
    if len(updates) < len(messages):
        raise Retry(RETRY_AFTER, f"{len(messages) - len(updates)} sends deferred: provider unavailable")
