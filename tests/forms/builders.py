"""Forms builders: the demo forms for a group, and a patient's submission through the service."""

from __future__ import annotations

from datetime import datetime

from openhero.core.db import Database
from openhero.forms import service
from openhero.forms.demo import seed_demo_forms
from openhero.forms.models import Form, FormResponse


async def make_demo_forms(db: Database, group_id: int, now: datetime) -> list[Form]:
    """Care navigation, travel vaccination, PHQ-9, home blood pressure (DEMO_FORMS order)."""
    async with db.session() as s:
        forms = await seed_demo_forms(s, group_id, now)
        await s.commit()
        return forms


async def submit(db: Database, form: Form, patient_id: int | None, answers: dict[int, list[str]], now: datetime
                 ) -> FormResponse:
    async with db.session() as s:
        loaded = await service.form_of_group(s, form.practice_group_id, form.id)
        assert loaded is not None
        checked = service.check_answers(loaded, answers)
        assert checked.ok, checked.errors
        response = await service.submit_response(s, form=loaded, patient_id=patient_id, checked=checked, now=now)
        await s.commit()
        return response
