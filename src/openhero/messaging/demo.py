"""Demo data for messaging: realistic GP message templates and the automated messages using them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from openhero.messaging.models import AutomatedMessage, MessageTemplate

# (name, message_type, subject, content, snomed_code)
TEMPLATES = [
    (
        "Flu clinic invitation",
        "sms",
        None,
        "Dear ((first_name)), you are eligible for a free NHS flu vaccination. Our Saturday flu clinic runs "
        "9am-1pm; book your slot here: ((booking_link)). ((practice_name))",
        "1037281000000106",
    ),
    (
        "Flu clinic reminder",
        "sms",
        None,
        "Reminder: you have not yet booked your free flu vaccination. Book here: ((booking_link)). ((practice_name))",
        "1037281000000106",
    ),
    (
        "Appointment reminder",
        "sms",
        None,
        "Reminder: you have an appointment with ((practitioner)) at ((location)) on ((date)) at ((time)). "
        "To cancel, reply CANCEL or call us. ((practice_name))",
        None,
    ),
    (
        "Test results ready",
        "nhs_app",
        None,
        "Your recent test results have been reviewed by a clinician. No further action is needed. ((practice_name))",
        "401271004",
    ),
    (
        "Test results - please book",
        "email",
        "Your test results",
        "Dear ((first_name)),\n\nA clinician has reviewed your recent test results and would like to discuss "
        "them with you. Please book a routine telephone appointment: ((booking_link))\n\n((practice_name))",
        "401271004",
    ),
    (
        "Annual asthma review",
        "sms",
        None,
        "Dear ((first_name)), your annual asthma review is due. Please complete this short questionnaire "
        "and book a review with our practice nurse: ((booking_link)). ((practice_name))",
        "270442000",
    ),
    (
        "Annual asthma review - second reminder",
        "sms",
        None,
        "Your asthma review is now overdue. Reviews help keep your asthma under control; please book: "
        "((booking_link)). ((practice_name))",
        "270442000",
    ),
]
# template name -> (follow-up template name, days)
FOLLOW_UPS = {
    "Flu clinic invitation": ("Flu clinic reminder", 14),
    "Annual asthma review": ("Annual asthma review - second reminder", 21),
}
# (name, trigger, message_type, template name, offset minutes, write_to_record)
AUTOMATED = [
    ("Appointment reminder (24 hours before)", "appointment.reminder", "sms", "Appointment reminder", -1440, False),
    ("Test results: normal", "test_result.filed_normal", "nhs_app", "Test results ready", 0, True),
    ("Annual asthma review recall", "recall.asthma_review_due", "sms", "Annual asthma review", 0, True),
    ("Flu season invitation", "campaign.flu_season", "sms", "Flu clinic invitation", 0, False),
]


async def seed_demo_messaging(session: AsyncSession, practice_group_id: int, now: datetime) -> None:
    """Add the demo templates and automated messages to one practice group (flushes, no commit)."""
    by_name: dict[str, MessageTemplate] = {}
    for name, message_type, subject, content, snomed in TEMPLATES:
        template = MessageTemplate(
            practice_group_id=practice_group_id,
            name=name,
            message_type=message_type,
            subject=subject,
            content=content,
            snomed_code=snomed,
            created_at=now,
            updated_at=now,
        )
        session.add(template)
        by_name[name] = template
    await session.flush()
    for name, (follow_up, days) in FOLLOW_UPS.items():
        by_name[name].follow_up_template_id = by_name[follow_up].id
        by_name[name].follow_up_after_days = days
    for name, trigger, message_type, template_name, offset, wtr in AUTOMATED:
        session.add(
            AutomatedMessage(
                practice_group_id=practice_group_id,
                name=name,
                trigger=trigger,
                message_type=message_type,
                template_id=by_name[template_name].id,
                offset_minutes=offset,
                active=True,
                write_to_record=wtr,
                created_at=now,
                updated_at=now,
            )
        )
    await session.flush()
