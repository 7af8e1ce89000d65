"""Forms a practice sets up (questionnaires, care navigation, pre-appointment forms) and the patients'
submitted responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from openhero.core.db import Base, IdType
from openhero.core.models import IdMixin, TenantMixin, TimestampMixin

FORM_TYPES = ("questionnaire", "response", "appointment", "care_navigation")
# How a question is answered on the patient's page (openhero: Hero's field properties were not visible).
QUESTION_KINDS = ("text", "textarea", "choice", "multi_choice", "yes_no", "date", "number")


class Form(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "forms"
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    patient_title: Mapped[str | None] = mapped_column(String(200))
    patient_description: Mapped[str | None] = mapped_column(Text)
    reply_form: Mapped[bool] = mapped_column(Boolean, default=False)
    form_type: Mapped[str] = mapped_column(String(32), default="questionnaire")
    snomed_code: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    questions: Mapped[list[FormQuestion]] = relationship(
        order_by="FormQuestion.position", lazy="selectin", cascade="all, delete-orphan")


class FormQuestion(IdMixin, Base):
    __tablename__ = "form_questions"
    form_id: Mapped[int] = mapped_column(IdType, ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(String(500))  # the question as the patient reads it
    kind: Mapped[str] = mapped_column(String(16), default="text")
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    help_text: Mapped[str | None] = mapped_column(Text)
    options: Mapped[list[Any] | None] = mapped_column()  # choices for choice / multi_choice
    # Answers that need a clinician's eyes soon (e.g. PHQ-9 item 9 above "Not at all"): the task they
    # create is raised to high priority.
    escalate_values: Mapped[list[Any] | None] = mapped_column()


class FormResponse(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "form_responses"
    __table_args__ = (Index("ix_form_responses_group_created", "practice_group_id", "created_at"),)
    form_id: Mapped[int] = mapped_column(IdType, ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    # Named patient_id (exposed as client_id): a patient merge moves rows by this column name.
    patient_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("patients.id", ondelete="SET NULL"),
                                                   index=True)
    appointment_id: Mapped[int | None] = mapped_column(IdType)
    invoice_id: Mapped[int | None] = mapped_column(IdType)
    short_link_id: Mapped[int | None] = mapped_column(IdType)  # the booking or form link it came through
    admin_id: Mapped[int | None] = mapped_column(IdType)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    emis_file_record_at: Mapped[datetime | None] = mapped_column()
    write_to_record_error: Mapped[str | None] = mapped_column(Text)
    # [{"form_question_id": "12", "name": "...", "value": "..." | [...]}], in question order.
    answers: Mapped[list[Any]] = mapped_column(default=list)
