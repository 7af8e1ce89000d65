"""Form shapes, field names exactly as the contract's (FormSummary, Form, FormField, FormResponse)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from openhero.core.schemas import ApiModel, Id, Timestamp

FormType = Literal["questionnaire", "response", "appointment", "care_navigation"]
QuestionKind = Literal["text", "textarea", "choice", "multi_choice", "yes_no", "date", "number"]


class FormSummaryOut(ApiModel):
    id: Id
    title: str
    description: str
    patient_title: str | None
    patient_description: str | None
    reply_form: bool
    form_type: FormType
    snomed_code: str | None


class FormFieldOut(ApiModel):
    """``form_question_id`` and ``name`` are Hero's; the rest is openhero's (Hero's page was cut off there),
    enough for a partner to render the question."""

    form_question_id: Id
    name: str
    type: QuestionKind = Field(description="openhero: how the question is answered.")
    required: bool = Field(description="openhero: whether an answer is needed to submit.")
    options: list[str] | None = Field(None, description="openhero: the choices of choice/multi_choice questions.")
    help_text: str | None = Field(None, description="openhero: guidance shown under the question.")


class FormOut(ApiModel):
    id: Id
    form_type: FormType
    title: str
    description: str
    patient_title: str | None
    patient_description: str | None
    snomed_code: str | None
    fields: list[FormFieldOut]


class FormListResponse(ApiModel):
    data: list[FormSummaryOut]
    count: int


class FormAnswerOut(ApiModel):
    form_question_id: Id
    name: str
    value: Any


class FormResponseOut(ApiModel):
    """Numeric ids, as Hero's example shows for this resource (unlike most Hero resources)."""

    id: int
    form_id: int
    client_id: int | None = Field(description="The patient who submitted the form.")
    appointment_id: int | None
    invoice_id: int | None
    practice_group_id: int
    created_at: Timestamp
    updated_at: Timestamp
    hidden: bool
    emis_file_record_at: Timestamp | None
    short_link_id: int | None
    admin_id: int | None
    write_to_record_error: str | None
    answers: list[FormAnswerOut] = Field(description="openhero: the patient's answers in question order.")
