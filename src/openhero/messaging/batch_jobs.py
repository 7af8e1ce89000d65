"""Worker jobs for batch messages, one chunk of recipients per job (see ``batch``).

Chunks are written with Core statements (executemany / multi-row INSERT), not ORM objects: a chunk
is a thousand rows and the ORM's per-object bookkeeping would dominate the time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import String, bindparam, cast, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core.worker import JobContext, Retry, job_handler
from openhero.messaging import batch
from openhero.messaging.contacts import MISSING_CONTACT, contact_on_record
from openhero.messaging.delivery import CHECK_JOB, SEND_MAX_ATTEMPTS, gave_up, outgoing, retry_delay, sender_for
from openhero.messaging.models import BatchMessage, BatchRecipient, Message
from openhero.messaging.providers import Provider, ProviderUnavailable, Sender, SendResult, get_provider
from openhero.messaging.providers.sandbox import SandboxProvider
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
from openhero.practice.models import PracticeGroup

CHANNELS = {"SMS": "sms", "EMAIL": "email", "NHS_APP": "nhs_app"}
PDS_CONCURRENCY = 8
PROVIDER_CONCURRENCY = 10
# PDS unreachable for a recipient: tried again a minute later, then marked ENRICHMENT_ERROR.
PDS_ATTEMPTS = 3
# The provider being down defers the chunk, not the whole batch.
RETRY_AFTER = timedelta(minutes=1)

LOCAL_COLUMNS = (
    Patient.id,
    Patient.nhs_number,
    Patient.dob,
    Patient.status,
    Patient.deceased_at,
    Patient.mobile,
    Patient.email,
)
_recipients = BatchRecipient.__table__
_messages = Message.__table__


def _bounds(b: BatchMessage, chunk: int) -> tuple[int, int]:
    return chunk * b.chunk_size, (chunk + 1) * b.chunk_size


@dataclass
class Enriched:
    recipient_id: int
    status: str = "ENRICHED"
    nhs_number: str | None = None
    dob: date | None = None
    patient_id: int | None = None
    traced: PdsPatient | None = None
    error: str | None = None
    position: int = 0
    contact: str | None = None


def _pds_error(exc: PdsError) -> str:
    if isinstance(exc, PdsNotFound):
        return "Not traced on PDS (NHS number and date of birth do not match a person)"
    if isinstance(exc, PdsIdentityCheckRequired):
        return "PDS needs the patient to verify their identity first"
    if isinstance(exc, PdsDeceased):
        return "PDS records the patient as deceased"
    return f"PDS trace failed: {exc}"


async def _trace(adapter: Any, nhs_number: str, dob: date, limit: asyncio.Semaphore,
                 ods_code: str | None) -> PdsPatient | str | None:
    """The traced person, an enrichment error, or None when PDS could not answer (try again)."""
    async with limit:
        try:
            return await adapter.trace_by_nhs_number(nhs_number, dob, ods_code=ods_code)
        except PdsUnavailable:
            return None
        except PdsError as exc:
            return _pds_error(exc)


def _traced_contact(channel: str, traced: PdsPatient) -> str | None:
    return {"sms": traced.mobile, "email": traced.email, "nhs_app": traced.nhs_number}[channel]


def _fail(e: Enriched, error: str, status: str = "ENRICHMENT_ERROR") -> Enriched:
    e.status, e.error = status, error
    return e


@job_handler(batch.ENRICH_JOB)
async def enrich_chunk(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Validate each recipient, then resolve it to a patient of the practice: the practice's own
    record when it holds the NHS number with that dob, otherwise a PDS trace (registering the person)."""
    batch_id, chunk = int(payload["batch_id"]), int(payload["chunk"])
    attempt = int(payload.get("attempt", 1))
    async with ctx.db.session(write=False) as session:
        b = await session.get(BatchMessage, batch_id)
        if b is None:
            return
        lo, hi = _bounds(b, chunk)
        rows = (
            await session.execute(
                select(_recipients.c.id, _recipients.c.position, _recipients.c.nhs_number, _recipients.c.raw_dob).where(
                    _recipients.c.batch_id == batch_id,
                    _recipients.c.position >= lo,
                    _recipients.c.position < hi,
                    _recipients.c.status == "CREATED",
                )
            )
        ).all()
        results: list[Enriched] = []
        valid: list[Enriched] = []
        for r in rows:
            checked = batch.check_recipient(r.nhs_number, r.raw_dob)
            if isinstance(checked, str):
                results.append(_fail(Enriched(r.id), checked, "INVALID_PAYLOAD"))
            else:
                valid.append(Enriched(r.id, nhs_number=checked[0], dob=checked[1], position=r.position))
        numbers = {e.nhs_number for e in valid}
        # Plain rows with the few columns needed: a thousand ORM patients cost more than the query.
        local = {}
        if numbers:
            found = await session.execute(
                select(*LOCAL_COLUMNS).where(
                    Patient.practice_group_id == b.practice_group_id, Patient.nhs_number.in_(numbers)
                )
            )
            local = {p.nhs_number: p for p in found}
    channel = CHANNELS[b.channel]
    to_trace: list[Enriched] = []
    for e in valid:
        patient = local.get(e.nhs_number)
        if patient is None:
            to_trace.append(e)
            continue
        results.append(e)
        if patient.dob != e.dob:
            _fail(e, "Date of birth does not match the practice's record")
        elif patient.status == "archived" or patient.deceased_at is not None:
            _fail(e, "The practice's record is archived or the patient is deceased")
        else:
            e.patient_id = patient.id
            e.contact = contact_on_record(channel, patient)
            if e.contact is None:
                _fail(e, MISSING_CONTACT[channel])
    unavailable = 0
    if to_trace:
        adapter = get_pds_adapter(ctx.settings, ctx.http)
        limit = asyncio.Semaphore(PDS_CONCURRENCY)
        async with ctx.db.session(write=False) as session:  # PDS needs the acting organisation's ODS code
            ods_code = (await session.execute(
                select(PracticeGroup.ods_code).where(PracticeGroup.id == b.practice_group_id))).scalar_one_or_none()
        outcomes = await asyncio.gather(*(_trace(adapter, e.nhs_number, e.dob, limit, ods_code)  # type: ignore[arg-type]
                                          for e in to_trace))
        for e, outcome in zip(to_trace, outcomes, strict=True):
            if outcome is None:
                if attempt < PDS_ATTEMPTS:
                    unavailable += 1  # stays CREATED; a later job tries again
                    continue
                _fail(e, f"PDS unavailable after {PDS_ATTEMPTS} attempts")
            elif isinstance(outcome, str):
                _fail(e, outcome)
            elif _traced_contact(channel, outcome) is None:
                _fail(e, MISSING_CONTACT[channel])
            else:
                e.traced = outcome
                e.contact = _traced_contact(channel, outcome)
            results.append(e)
    now = ctx.clock.now()
    # Send already requested when we started: go straight to QUEUED (one write per recipient, not two).
    direct = b.status != "CREATED"
    ready = [e for e in results if e.status == "ENRICHED"]
    if direct:
        for e in ready:
            e.status = "QUEUED"
    async with ctx.db.session() as session:
        for e in results:
            if e.traced is not None:
                e.patient_id = (await register_from_pds(session, b.practice_group_id, e.traced, now)).id
        resolved = [
            {
                "rid": e.recipient_id,
                "st": e.status,
                "err": e.error,
                "pid": e.patient_id,
                "nhs": e.nhs_number,
                "d": e.dob,
            }
            for e in results
            if e.status != "INVALID_PAYLOAD"
        ]
        if resolved:
            await session.execute(
                update(_recipients)
                .where(_recipients.c.id == bindparam("rid"))
                .values(
                    status=bindparam("st"),
                    error=bindparam("err"),
                    patient_id=bindparam("pid"),
                    nhs_number=bindparam("nhs"),
                    dob=bindparam("d"),
                    updated_at=now,
                ),
                resolved,
            )
        invalid = [{"rid": e.recipient_id, "err": e.error} for e in results if e.status == "INVALID_PAYLOAD"]
        if invalid:
            await session.execute(
                update(_recipients)
                .where(_recipients.c.id == bindparam("rid"))
                .values(status="INVALID_PAYLOAD", error=bindparam("err"), updated_at=now),
                invalid,
            )
        if direct and ready:
            await _insert_messages(session, b, [(e.position, e.patient_id, e.contact) for e in ready], chunk, now)
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
    if direct:
        await batch.settle(ctx.db, batch_id, now=now)
        return
    # Read the status only after our commit: if send was requested before this read, we queue the
    # chunk; if after, the send request's own queue job runs later and finds our ENRICHED rows.
    async with ctx.db.session() as session:
        status = (await session.execute(select(BatchMessage.status).where(BatchMessage.id == batch_id))).scalar_one()
        if status == "CREATED":
            return
        await queue_chunk(session, b, chunk, now=now)
        await session.commit()
    await batch.settle(ctx.db, batch_id, now=now)


async def queue_chunk(session: AsyncSession, b: BatchMessage, chunk: int, *, now: datetime) -> int:
    """Claim the chunk's ENRICHED recipients (ENRICHED -> QUEUED, a conditional update, so each is
    queued once whoever else tries), create their messages and the chunk's send job."""
    lo, hi = _bounds(b, chunk)
    claimed = (
        await session.execute(
            update(_recipients)
            .where(
                _recipients.c.batch_id == b.id,
                _recipients.c.position >= lo,
                _recipients.c.position < hi,
                _recipients.c.status == "ENRICHED",
            )
            .values(status="QUEUED", updated_at=now)
            .returning(_recipients.c.position, _recipients.c.patient_id)
        )
    ).all()
    if not claimed:
        return 0
    channel = CHANNELS[b.channel]
    column = {"sms": Patient.mobile, "email": Patient.email, "nhs_app": Patient.nhs_number}[channel]
    contacts = dict(
        (await session.execute(select(Patient.id, column).where(Patient.id.in_({c.patient_id for c in claimed})))).all()
    )
    await _insert_messages(
        session, b, [(c.position, c.patient_id, contacts.get(c.patient_id)) for c in claimed], chunk, now
    )
    return len(claimed)


async def _insert_messages(
    session: AsyncSession,
    b: BatchMessage,
    recipients: list[tuple[int, int | None, str | None]],
    chunk: int,
    now: datetime,
) -> None:
    """The chunk's messages (position, patient, contact) and its send job."""
    common = {
        "practice_group_id": b.practice_group_id,
        "message_type": CHANNELS[b.channel],
        "content": b.content,
        "subject": b.subject,
        "status": "queued",
        "batch_id": b.id,
        "api_key_id": b.api_key_id,
        "submitted_by": f"batch message {b.id}",
        "write_to_record": False,
        "wtr_status": "not_requested",
        "encrypted": False,
        "created_at": now,
        "updated_at": now,
    }
    await session.execute(
        insert(_messages),
        [
            {**common, "patient_id": patient_id, "recipient": contact, "batch_position": position}
            for position, patient_id, contact in recipients
        ],
    )
    await batch.enqueue_many(
        session, batch.SEND_JOB, [{"batch_id": b.id, "chunk": chunk}], group_id=b.practice_group_id, now=now,
        max_attempts=SEND_MAX_ATTEMPTS,
    )


@job_handler(batch.QUEUE_JOB)
async def queue_chunk_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    batch_id, chunk = int(payload["batch_id"]), int(payload["chunk"])
    now = ctx.clock.now()
    async with ctx.db.session() as session:
        b = await session.get(BatchMessage, batch_id)
        if b is None:
            return
        await queue_chunk(session, b, chunk, now=now)
        await session.commit()
    await batch.settle(ctx.db, batch_id, now=now)


async def _send_all(provider: Provider, messages: list[Any], sender: Sender | None = None
                    ) -> list[SendResult | ProviderUnavailable]:
    """Provider calls for a chunk; a message whose call failed transiently stays queued (its error)."""
    if isinstance(provider, SandboxProvider):
        return [await provider.send(outgoing(m)) for m in messages]
    limit = asyncio.Semaphore(PROVIDER_CONCURRENCY)

    async def one(m: Any) -> SendResult | ProviderUnavailable:
        async with limit:
            try:
                return await provider.send(outgoing(m, sender))
            except ProviderUnavailable as exc:
                return exc

    return list(await asyncio.gather(*(one(m) for m in messages)))


async def _store_results(
    session: AsyncSession, provider: Provider, pairs: list[tuple[Any, SendResult]], now: datetime
) -> None:
    if isinstance(provider, SandboxProvider):
        # Outcomes repeat (delivered, or a handful of magic failures): one UPDATE per outcome, and the
        # sandbox reference is derived from the id in SQL.
        key = lambda p: (p[1].status, p[1].failure_reason or "")  # noqa: E731
        for (status, reason), group in groupby(sorted(pairs, key=key), key=key):
            await session.execute(
                update(_messages)
                .where(_messages.c.id.in_([m.id for m, _ in group]), _messages.c.status == "queued")
                .values(
                    status=status,
                    failure_reason=reason or None,
                    provider=provider.name,
                    sent_at=now,
                    delivered_at=now if status == "delivered" else None,
                    updated_at=now,
                    provider_reference=literal("sandbox-") + cast(_messages.c.id, String),
                )
            )
        await provider.record_many(session, [(outgoing(m), r) for m, r in pairs], now)
        return
    await session.execute(
        update(_messages)
        .where(_messages.c.id == bindparam("mid"), _messages.c.status == "queued")
        .values(
            status=bindparam("st"),
            failure_reason=bindparam("fr"),
            provider_reference=bindparam("ref"),
            delivered_at=bindparam("da"),
            provider=provider.name,
            sent_at=now,
            updated_at=now,
        ),
        [
            {
                "mid": m.id,
                "st": r.status,
                "fr": r.failure_reason,
                "ref": r.reference,
                "da": now if r.status == "delivered" else None,
            }
            for m, r in pairs
        ],
    )
    checks = [{"message_id": m.id} for m, r in pairs if r.status == "sent" and r.check_after is not None]
    if checks:
        after = next(r.check_after for _, r in pairs if r.check_after is not None)
        await batch.enqueue_many(
            session, CHECK_JOB, checks, group_id=pairs[0][0].practice_group_id, now=now, run_at=now + after
        )


@job_handler(batch.SEND_JOB)
async def send_chunk(ctx: JobContext, payload: dict[str, Any]) -> None:
    batch_id, chunk = int(payload["batch_id"]), int(payload["chunk"])
    async with ctx.db.session(write=False) as session:
        b = await session.get(BatchMessage, batch_id)
        if b is None:
            return
        lo, hi = _bounds(b, chunk)
        messages = (
            await session.execute(
                select(
                    _messages.c.id,
                    _messages.c.practice_group_id,
                    _messages.c.message_type,
                    _messages.c.recipient,
                    _messages.c.subject,
                    _messages.c.content,
                ).where(
                    _messages.c.batch_id == batch_id,
                    _messages.c.batch_position >= lo,
                    _messages.c.batch_position < hi,
                    _messages.c.status == "queued",
                )
            )
        ).all()
        sender = await sender_for(session, b.practice_group_id) if b.channel == "EMAIL" else None
    provider = get_provider(CHANNELS[b.channel], ctx.settings)
    results = await _send_all(provider, list(messages), sender)
    now = ctx.clock.now()
    deferred = [r for r in results if isinstance(r, ProviderUnavailable)]
    delay = retry_delay(now - (b.send_requested_at or b.created_at)) if deferred else None
    if deferred and delay is None:  # the retry window is over: the rest fail with the last reason
        results = [gave_up(str(r)) if isinstance(r, ProviderUnavailable) else r for r in results]
    pairs = [(m, r) for m, r in zip(messages, results, strict=True) if isinstance(r, SendResult)]
    if pairs:
        async with ctx.db.session() as session:
            await _store_results(session, provider, pairs, now)
            await session.commit()
    await batch.settle(ctx.db, batch_id, now=now)
    if delay is not None:
        raise Retry(delay, f"{len(deferred)} sends deferred: {deferred[-1]}")
