"""Demo forms a GP surgery typically runs: care navigation, a travel-clinic pre-appointment questionnaire,
PHQ-9 and a home blood-pressure reply form. ``seed_demo_forms`` is safe to call again (skips titles the
group already has)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from openhero.forms.models import Form, FormQuestion

PHQ_OPTIONS = ["Not at all", "Several days", "More than half the days", "Nearly every day"]
PHQ_ITEMS = [
    "Little interest or pleasure in doing things",
    "Feeling down, depressed, or hopeless",
    "Trouble falling or staying asleep, or sleeping too much",
    "Feeling tired or having little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself, or that you are a failure or have let yourself or your family down",
    "Trouble concentrating on things, such as reading the newspaper or watching television",
    "Moving or speaking so slowly that other people could have noticed, or the opposite: being so fidgety "
    "or restless that you have been moving around a lot more than usual",
    "Thoughts that you would be better off dead, or of hurting yourself in some way",
]
RED_FLAGS = ["Chest pain", "Difficulty breathing", "Heavy bleeding", "Sudden weakness or numbness"]


def _q(name: str, kind: str = "text", *, required: bool = False, options: list[str] | None = None,
       help_text: str | None = None, escalate: list[str] | None = None) -> dict[str, Any]:
    return {"name": name, "kind": kind, "required": required, "options": options, "help_text": help_text,
            "escalate_values": escalate}


DEMO_FORMS: list[dict[str, Any]] = [
    {
        "title": "Care navigation", "form_type": "care_navigation", "reply_form": False, "snomed_code": None,
        "description": "Online request for help: routed by the care navigation team to the right clinician "
                       "or service.",
        "patient_title": "Ask your GP practice for help",
        "patient_description": "Tell us what you need and we will get back to you by the end of the next "
                               "working day. If you need help now, call 999 or NHS 111.",
        "questions": [
            _q("What do you need help with?", "choice", required=True, options=[
                "A new health problem", "An ongoing health problem", "Medication or prescription",
                "Test results", "Fit note (sick note)", "A letter, form or referral"]),
            _q("Describe the problem or request", "textarea", required=True,
               help_text="Include your symptoms, what you have tried and what you would like us to do."),
            _q("How long has this been going on?", "choice", options=[
                "Less than a week", "1 to 4 weeks", "1 to 3 months", "More than 3 months"]),
            _q("Is it getting worse?", "yes_no"),
            _q("Do you have any of these right now?", "multi_choice", options=[*RED_FLAGS, "None of these"],
               help_text="If you do, call 999 now.", escalate=RED_FLAGS),
            _q("How would you like us to contact you?", "choice", required=True, options=[
                "Phone call", "Text message", "Video call", "Face-to-face appointment"]),
            _q("When are you free to take a call?", "text", help_text="For example: weekdays after 3pm"),
        ],
    },
    {
        "title": "Travel vaccination questionnaire", "form_type": "appointment", "reply_form": False,
        "snomed_code": None,
        "description": "Pre-appointment risk assessment for the travel clinic (completed before the nurse "
                       "appointment; allow 6 to 8 weeks before travel).",
        "patient_title": "Before your travel vaccination appointment",
        "patient_description": "The practice nurse uses your answers to plan which vaccines and advice you need.",
        "questions": [
            _q("Which countries are you visiting, and which areas?", "textarea", required=True),
            _q("Date you leave", "date", required=True),
            _q("Date you return", "date"),
            _q("Type of trip", "choice", required=True, options=[
                "Holiday", "Business", "Visiting friends or family", "Backpacking", "Other"]),
            _q("Where will you be staying?", "multi_choice", options=[
                "Hotel", "With family or friends", "Hostels or camping", "Rural areas"]),
            _q("Have you had any of these vaccines in the last 10 years?", "multi_choice", options=[
                "Hepatitis A", "Hepatitis B", "Typhoid", "Tetanus, diphtheria and polio", "Yellow fever",
                "Rabies", "Cholera", "None or not sure"]),
            _q("Are you pregnant, or could you be?", "yes_no", required=True),
            _q("Do you have a weakened immune system, or take medicine that affects it?", "yes_no",
               required=True),
            _q("Allergies (including to eggs, antibiotics or previous vaccines)", "textarea"),
        ],
    },
    {
        "title": "PHQ-9 depression questionnaire", "form_type": "questionnaire", "reply_form": False,
        "snomed_code": "720433000",
        "description": "Patient Health Questionnaire (PHQ-9) for depression screening and monitoring.",
        "patient_title": "How you have been feeling",
        "patient_description": "Over the last 2 weeks, how often have you been bothered by any of the "
                               "following problems? If you are thinking of ending your life, call 999 or go "
                               "to A&E now, or call Samaritans on 116 123.",
        "questions": [
            *[_q(item, "choice", required=True, options=PHQ_OPTIONS,
                 escalate=PHQ_OPTIONS[1:] if i == len(PHQ_ITEMS) - 1 else None)
              for i, item in enumerate(PHQ_ITEMS)],
            _q("If you ticked any problems, how difficult have they made it for you to do your work, take care "
               "of things at home, or get along with other people?", "choice", options=[
                   "Not difficult at all", "Somewhat difficult", "Very difficult", "Extremely difficult"]),
        ],
    },
    {
        "title": "Home blood pressure reading", "form_type": "response", "reply_form": True,
        "snomed_code": None,
        "description": "Reply form sent with blood pressure review messages.",
        "patient_title": "Send us your blood pressure reading",
        "patient_description": "Sit quietly for 5 minutes, then take two readings a minute apart and send the "
                               "second one.",
        "questions": [
            _q("Top number (systolic)", "number", required=True),
            _q("Bottom number (diastolic)", "number", required=True),
            _q("Date of the reading", "date", required=True),
            _q("Where was it taken?", "choice", options=["At home", "At a pharmacy", "Somewhere else"]),
        ],
    },
]


async def seed_demo_forms(session: AsyncSession, practice_group_id: int, now: datetime) -> list[Form]:
    """Create the demo forms the group does not have yet; returns all demo forms of the group, in
    DEMO_FORMS order (so a seeder can point appointment types at them: ``[1]`` is the travel form)."""
    existing = {f.title: f for f in (await session.execute(
        select(Form).where(Form.practice_group_id == practice_group_id))).scalars().all()}
    out = []
    for spec in DEMO_FORMS:
        form = existing.get(spec["title"])
        if form is None:
            values = {k: v for k, v in spec.items() if k != "questions"}
            form = Form(practice_group_id=practice_group_id, active=True, created_at=now, updated_at=now, **values)
            form.questions = [FormQuestion(position=i, **q) for i, q in enumerate(spec["questions"])]
            session.add(form)
        out.append(form)
    await session.flush()
    return out
