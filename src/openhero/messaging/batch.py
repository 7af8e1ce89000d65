"""Batch messages (campaigns): one content body, many recipients named by NHS number + dob.

Lifecycle (NOTES.md): batch ``CREATED -> PENDING -> SENDING -> COMPLETED``; recipient
``CREATED -> ENRICHED | ENRICHMENT_ERROR`` (or ``INVALID_PAYLOAD`` at creation) ``-> QUEUED``.

Recipients are numbered 0..n-1 (``position``) and handled in fixed chunks by worker jobs, so any
number of workers share the work and none holds more than one chunk in memory:
- creation stores the recipients and enqueues one enrichment job per chunk;
- ``PATCH .../send`` marks the batch PENDING and enqueues one queueing job per chunk; a chunk
  enriched after that is queued by its enrichment job (both take the batch row lock, so no chunk is
  missed), and a recipient is moved ENRICHED -> QUEUED by a conditional update (no double queueing);
- each queued chunk is sent by one send job; the last one to finish marks the batch COMPLETED.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, exists, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core import audit
from openhero.core.auth import Principal
from openhero.core.db import Database
from openhero.core.errors import Conflict, ValidationFailed, error_item
from openhero.core.jobs import Job
from openhero.core.pagination import PageParams, paginate
from openhero.core.tenancy import get_owned, owned
from openhero.messaging import limits
from openhero.messaging.models import (
    BATCH_STATUSES,
    MESSAGE_STATUSES,
    RECIPIENT_STATUSES,
    BatchMessage,
    BatchRecipient,
    Message,
)
from openhero.messaging.schemas import BatchRecipientInput, CreateBatchMessageRequest
from openhero.patients.nhs import normalise_nhs_number, parse_dob

CHUNK_SIZE = 1000
MAX_RECIPIENTS = 200_000
INSERT_SLICE = 5000
ENRICH_JOB = "messaging.batch_enrich"
QUEUE_JOB = "messaging.batch_queue"
SEND_JOB = "messaging.batch_send"


def _recipient_row(batch_id: int, position: int, item: BatchRecipientInput, now: datetime) -> dict[str, Any]:
    # Stored verbatim; enrichment (in the workers, in parallel) validates and normalises.
    return {
        "batch_id": batch_id,
        "position": position,
        "status": "CREATED",
        "error": None,
        "nhs_number": str(item.nhs_number)[:32],
        "dob": None,
        "raw_dob": (item.dob or "")[:40] or None,
        "patient_id": None,
        "created_at": now,
        "updated_at": now,
    }


def check_recipient(nhs_number: str | None, raw_dob: str | None) -> tuple[str, date] | str:
    """The normalised NHS number and dob, or why the recipient is INVALID_PAYLOAD."""
    try:
        number = normalise_nhs_number(nhs_number)
    except ValueError as exc:
        return f"nhs_number: {exc}"
    try:
        return number, parse_dob(raw_dob)
    except ValueError as exc:
        return f"dob: {exc}"


async def enqueue_many(
    session: AsyncSession,
    kind: str,
    payloads: list[dict[str, Any]],
    *,
    group_id: int,
    now: datetime,
    run_at: datetime | None = None,
    max_attempts: int = 20,
) -> None:
    """Many jobs in one INSERT (core ``enqueue`` flushes one row at a time)."""
    if payloads:
        await session.execute(
            insert(Job),
            [
                {
                    "kind": kind,
                    "payload": p,
                    "practice_group_id": group_id,
                    "status": "queued",
                    "run_at": run_at or now,
                    "attempts": 0,
                    "max_attempts": max_attempts,
                    "created_at": now,
                }
                for p in payloads
            ],
        )


RECIPIENT_COLUMNS = (
    "batch_id",
    "position",
    "status",
    "error",
    "nhs_number",
    "dob",
    "raw_dob",
    "patient_id",
    "created_at",
    "updated_at",
)


async def _store_recipients(
    session: AsyncSession, batch_id: int, recipients: list[BatchRecipientInput], now: datetime
) -> None:
    """PostgreSQL: COPY (a 100k-recipient batch is one request); elsewhere multi-row INSERTs."""
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        raw = await connection.get_raw_connection()
        records = (
            tuple(_recipient_row(batch_id, i, item, now)[c] for c in RECIPIENT_COLUMNS)
            for i, item in enumerate(recipients)
        )
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            BatchRecipient.__tablename__, records=records, columns=RECIPIENT_COLUMNS
        )
        return
    for start in range(0, len(recipients), INSERT_SLICE):
        rows = [
            _recipient_row(batch_id, start + i, item, now)
            for i, item in enumerate(recipients[start : start + INSERT_SLICE])
        ]
        await session.execute(insert(BatchRecipient.__table__), rows)


async def create_batch(
    session: AsyncSession, principal: Principal, body: CreateBatchMessageRequest, *, now: datetime
) -> BatchMessage:
    if body.channel == "EMAIL" and not body.subject:
        raise ValidationFailed(
            "subject is required when channel is EMAIL",
            code="invalid_type",
            expected="a subject (required for EMAIL)",
            path=["subject"],
        )
    limits.check_content(body.channel.lower(), body.content, ["content"])
    recipients = body.recipients if isinstance(body.recipients, list) else [body.recipients]
    if not recipients:
        raise ValidationFailed(
            "recipients must not be empty",
            items=[error_item("too_small", "at least 1 recipient", ["recipients"], "recipients must not be empty")],
        )
    if len(recipients) > MAX_RECIPIENTS:
        raise ValidationFailed(
            "too many recipients",
            items=[
                error_item("too_big", f"at most {MAX_RECIPIENTS} recipients", ["recipients"], "too many recipients")
            ],
        )
    batch = BatchMessage(
        practice_group_id=principal.practice_group_id,
        name=body.name,
        channel=body.channel,
        subject=body.subject if body.channel == "EMAIL" else body.subject,
        content=body.content,
        status="CREATED",
        recipient_count=len(recipients),
        chunk_size=CHUNK_SIZE,
        chunks_total=math.ceil(len(recipients) / CHUNK_SIZE),
        api_key_id=principal.key_id,
        created_at=now,
        updated_at=now,
    )
    session.add(batch)
    await session.flush()
    await _store_recipients(session, batch.id, recipients, now)
    await enqueue_many(
        session,
        ENRICH_JOB,
        [{"batch_id": batch.id, "chunk": c} for c in range(batch.chunks_total)],
        group_id=batch.practice_group_id,
        now=now,
    )
    await audit.record(
        session,
        principal,
        "batch_message.create",
        "BatchMessage",
        batch.id,
        now=now,
        details={"recipients": len(recipients), "channel": body.channel},
    )
    return batch


async def request_send(session: AsyncSession, principal: Principal, raw_id: str, *, now: datetime) -> BatchMessage:
    batch = await get_owned(session, BatchMessage, raw_id, principal, "Batch message", for_update=True)
    if batch.status != "CREATED":
        raise Conflict(
            f"The batch message is already {batch.status.lower()}",
            code="batch_already_sent",
            expected="a batch message in status CREATED",
            path=["id"],
        )
    batch.status = "PENDING"
    batch.send_requested_at = now
    batch.updated_at = now
    await enqueue_many(
        session,
        QUEUE_JOB,
        [{"batch_id": batch.id, "chunk": c} for c in range(batch.chunks_total)],
        group_id=batch.practice_group_id,
        now=now,
    )
    await audit.record(session, principal, "batch_message.send", "BatchMessage", batch.id, now=now)
    await session.flush()
    return batch


async def get_batch(session: AsyncSession, principal: Principal, raw_id: str) -> BatchMessage:
    return await get_owned(session, BatchMessage, raw_id, principal, "Batch message")


def _status_filter(raw: str | None, allowed: tuple[str, ...], name: str = "status") -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise ValidationFailed(
            f"invalid {name}",
            items=[
                error_item(
                    "invalid_enum_value", " | ".join(allowed), [name], f"{name} must be one of {', '.join(allowed)}"
                )
            ],
        )
    return raw


async def list_batches(
    session: AsyncSession, principal: Principal, status: str | None, page: PageParams
) -> tuple[list[BatchMessage], int]:
    """``status`` is a batch status, or a recipient status (batches having such a recipient)."""
    value = _status_filter(status, BATCH_STATUSES + tuple(s for s in RECIPIENT_STATUSES if s != "CREATED"))
    stmt: Select[Any] = owned(BatchMessage, principal)
    if value in BATCH_STATUSES:
        stmt = stmt.where(BatchMessage.status == value)
    elif value is not None:
        stmt = stmt.where(exists().where(BatchRecipient.batch_id == BatchMessage.id, BatchRecipient.status == value))
    stmt = stmt.order_by(BatchMessage.created_at.desc(), BatchMessage.id.desc())
    return await paginate(session, stmt, page)


async def list_recipients(
    session: AsyncSession, principal: Principal, raw_id: str, status: str | None, page: PageParams
) -> tuple[list[tuple[BatchRecipient, int | None]], int]:
    """Recipients in submission order, each with the id of its message (same position) if queued."""
    batch = await get_batch(session, principal, raw_id)
    value = _status_filter(status, RECIPIENT_STATUSES)
    where = [BatchRecipient.batch_id == batch.id]
    if value:
        where.append(BatchRecipient.status == value)
    total = (await session.execute(select(func.count()).select_from(BatchRecipient).where(*where))).scalar_one()
    stmt = (
        select(BatchRecipient, Message.id)
        .outerjoin(
            Message,
            and_(Message.batch_id == BatchRecipient.batch_id, Message.batch_position == BatchRecipient.position),
        )
        .where(*where)
        .order_by(BatchRecipient.position)
        .limit(page.page_size)
        .offset(page.offset)
    )
    return [(r, m) for r, m in (await session.execute(stmt)).all()], int(total)


# Message statuses, plus CREATED (the docs' example) meaning created but not yet sent.
MESSAGE_FILTERS = {**{s: s for s in MESSAGE_STATUSES}, **{s.upper(): s for s in MESSAGE_STATUSES}, "CREATED": "queued"}


async def list_sends(
    session: AsyncSession, principal: Principal, raw_id: str, status: str | None, page: PageParams
) -> tuple[list[Message], int]:
    batch = await get_batch(session, principal, raw_id)
    value = _status_filter(status, tuple(MESSAGE_FILTERS))
    stmt = select(Message).where(Message.batch_id == batch.id, Message.practice_group_id == batch.practice_group_id)
    if value:
        stmt = stmt.where(Message.status == MESSAGE_FILTERS[value])
    return await paginate(session, stmt.order_by(Message.batch_position), page)


async def settle(db: Database, batch_id: int, *, now: datetime) -> str | None:
    """Move the batch on (PENDING -> SENDING -> COMPLETED) after a chunk's work has committed.

    Its own short transaction, after the caller's commit: the last chunk to commit runs this after
    every other chunk's work is visible, so exactly then nothing is left waiting. The row lock only
    keeps two settlers from writing the status at once.
    """
    async with db.session() as session:
        batch = (
            await session.execute(select(BatchMessage).where(BatchMessage.id == batch_id).with_for_update())
        ).scalar_one_or_none()
        if batch is None or batch.status not in ("PENDING", "SENDING"):
            return batch.status if batch else None
        waiting = (
            await session.execute(
                select(
                    or_(
                        exists().where(
                            BatchRecipient.batch_id == batch_id, BatchRecipient.status.in_(("CREATED", "ENRICHED"))
                        ),
                        exists().where(Message.batch_id == batch_id, Message.status == "queued"),
                    )
                )
            )
        ).scalar_one()
        if not waiting:
            batch.status = "COMPLETED"
            batch.completed_at = now
        elif (
            batch.status == "PENDING"
            and (await session.execute(select(exists().where(Message.batch_id == batch_id)))).scalar_one()
        ):
            batch.status = "SENDING"
        batch.updated_at = now
        status = batch.status
        await session.commit()
        return status
