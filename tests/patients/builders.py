"""Builders for the patients domain's own rows (EHR records and attachments)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from openhero.core.db import Database
from openhero.patients.models import EhrAttachment, EhrRecord
from tests.builders import make_row

_n = 0


async def make_ehr_record(db: Database, group_id: int, **overrides: Any) -> EhrRecord:
    global _n
    _n += 1
    values: dict[str, Any] = {
        "practice_group_id": group_id,
        "ehr_partner": "emis",
        "ehr_partner_id": f"EMIS-{_n:05d}",
        "first_name": "Jane",
        "last_name": "Smith",
        "dob": date(2010, 10, 22),
        "restricted": False,
    }
    values.update(overrides)
    return await make_row(db, EhrRecord, **values)


async def make_attachment(db: Database, group_id: int, record_id: int, **overrides: Any) -> EhrAttachment:
    values: dict[str, Any] = {
        "practice_group_id": group_id,
        "ehr_record_id": record_id,
        "file_name": "letter.pdf",
        "content_type": "application/pdf",
        "size_bytes": 1024,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    values.update(overrides)
    return await make_row(db, EhrAttachment, **values)
