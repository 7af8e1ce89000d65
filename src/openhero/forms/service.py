"""Reading forms and responses, checking a patient's answers, and storing a submission.

A submission is one transaction: the response row, a task in the practice inbox and the
``form-submission.created`` event are written together (services flush; the caller commits).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.core.auth import Principal
from openhero.core.errors import NotFound
from openhero.core.outbox import emit
from openhero.core.pagination import PageParams, paginate
from openhero.core.tenancy import get_owned, owned
from openhero.forms.models import Form, FormQuestion, FormResponse
from openhero.tasks.service import create_task

YES_NO = ("Yes", "No")
MAX_ANSWER_LENGTH = 5000
DETAILS_LIMIT = 1000


async def list_forms(session: AsyncSession, principal: Principal, *, search: str | None, reply_form: bool | None,
                     form_type: str | None, page: PageParams) -> tuple[list[Form], int]:
    stmt = owned(Form, principal).where(Form.active.is_(True))
    if search:
        pattern = f"%{search.lower()}%"
        stmt = stmt.where(or_(func.lower(Form.title).like(pattern), func.lower(Form.description).like(pattern)))
    if reply_form is not None:
        stmt = stmt.where(Form.reply_form.is_(reply_form))
    if form_type:
        stmt = stmt.where(Form.form_type == form_type)
    return await paginate(session, stmt.order_by(Form.title, Form.id), page)


async def get_form(session: AsyncSession, principal: Principal, raw_id: str) -> Form:
    return await get_owned(session, Form, raw_id, principal, "Form")


async def form_of_group(session: AsyncSession, practice_group_id: int, form_id: int) -> Form | None:
    """An active form of the group, for links and appointment types (which name forms by id)."""
    stmt = select(Form).where(Form.id == form_id, Form.practice_group_id == practice_group_id,
                              Form.active.is_(True))
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_response(session: AsyncSession, principal: Principal, raw_id: str) -> FormResponse:
    return await get_owned(session, FormResponse, raw_id, principal, "Form response")


# --- answers -------------------------------------------------------------------------------------

@dataclass
class CheckedAnswers:
    answers: list[dict[str, Any]]  # stored shape, question order
    errors: dict[int, str]  # question id -> what is wrong, in words a patient understands
    escalate: bool  # an answer asks for a clinician's attention soon

    @property
    def ok(self) -> bool:
        return not self.errors


def _check_one(question: FormQuestion, values: Sequence[str]) -> tuple[Any, str | None]:
    """The stored value of one answer, or an error message."""
    values = [v.strip() for v in values if v is not None and v.strip()]
    if not values:
        return None, ("Answer this question" if question.required else None)
    if any(len(v) > MAX_ANSWER_LENGTH for v in values):
        return None, f"Keep your answer under {MAX_ANSWER_LENGTH} characters"
    options = list(question.options or ())
    if question.kind == "multi_choice":
        if any(v not in options for v in values):
            return None, "Choose from the options shown"
        return [o for o in options if o in values], None
    value = values[0]
    if question.kind == "choice" and value not in options:
        return None, "Choose one of the options shown"
    if question.kind == "yes_no" and value not in YES_NO:
        return None, "Choose yes or no"
    if question.kind == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return None, "Enter a real date, for example 2026-03-27"
    if question.kind == "number":
        try:
            float(value)
        except ValueError:
            return None, "Enter a number"
    return value, None


def check_answers(form: Form, submitted: Mapping[int, Sequence[str]]) -> CheckedAnswers:
    """Check submitted values (question id -> the values sent) against the form's questions."""
    answers: list[dict[str, Any]] = []
    errors: dict[int, str] = {}
    escalate = False
    for question in form.questions:
        value, error = _check_one(question, submitted.get(question.id, ()))
        if error:
            errors[question.id] = error
            continue
        if value is None:
            continue
        answers.append({"form_question_id": str(question.id), "name": question.name, "value": value})
        flagged = set(question.escalate_values or ())
        chosen = set(value) if isinstance(value, list) else {value}
        escalate = escalate or bool(flagged & chosen)
    return CheckedAnswers(answers=answers, errors=errors, escalate=escalate)


def _details(form: Form, answers: list[dict[str, Any]]) -> str:
    parts = []
    for answer in answers:
        value = answer["value"]
        shown = ", ".join(value) if isinstance(value, list) else str(value)
        parts.append(f"{answer['name']} {shown}")
    text = f"{form.title}: " + "; ".join(parts)
    return text if len(text) <= DETAILS_LIMIT else text[:DETAILS_LIMIT - 1] + "…"


async def submit_response(session: AsyncSession, *, form: Form, patient_id: int | None, checked: CheckedAnswers,
                          appointment_id: int | None = None, short_link_id: int | None = None,
                          triggered_by: dict[str, Any] | None = None, now: datetime) -> FormResponse:
    """Store a patient's checked answers, open a task for the practice and emit form-submission.created."""
    if not checked.ok:
        raise ValueError("answers have errors; check them with check_answers first")
    response = FormResponse(practice_group_id=form.practice_group_id, form_id=form.id, patient_id=patient_id,
                            appointment_id=appointment_id, short_link_id=short_link_id, answers=checked.answers,
                            hidden=False, created_at=now, updated_at=now)
    session.add(response)
    await session.flush()
    await create_task(session, practice_group_id=form.practice_group_id, type_label="Form submission",
                      category="form_response", patient_id=patient_id,
                      priority="high" if checked.escalate else "medium", details=_details(form, checked.answers),
                      appointment_id=appointment_id, form_response_id=response.id, triggered_by=triggered_by,
                      now=now)
    await emit(session, "form-submission.created", "FormSubmission", response.id,
               practice_group_id=form.practice_group_id, now=now)
    return response


async def require_form(session: AsyncSession, practice_group_id: int, form_id: int, path: str) -> Form:
    form = await form_of_group(session, practice_group_id, form_id)
    if form is None:
        raise NotFound("Form", path=[path])
    return form
