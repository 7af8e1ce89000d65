"""After a patient books through a link: the booking reference, the confirmation message (queued through the
messaging domain, so its send job and providers deliver it after the transaction commits), and cancelling
from the link that the message and the confirmation page carry."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from openhero.booking import appointments
from openhero.booking.models import Appointment
from openhero.core.errors import ApiError
from openhero.links.journey import link_principal
from openhero.links.models import BookingLink
from openhero.messaging import service as messaging
from openhero.messaging.schemas import SendMessageRequest
from openhero.patients.models import Patient
from openhero.settings import Settings
from openhero.tasks.service import create_task

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U to misread over the phone
_CHECK = _ALPHABET + "*~$=U"


def reference(appointment_id: int) -> str:
    """The booking reference a patient quotes to the practice: the appointment id in Crockford base32
    (at least six symbols) and its check symbol, e.g. ``OH-00003F7``. ``appointment_of`` reads it back."""
    n, body = appointment_id, ""
    while n:
        n, r = divmod(n, 32)
        body = _ALPHABET[r] + body
    return f"OH-{body.rjust(6, '0')}{_CHECK[appointment_id % 37]}"


def appointment_of(ref: str) -> int | None:
    """The appointment id of a booking reference, or None if it is not one (wrong check symbol)."""
    text = ref.strip().upper().removeprefix("OH-")
    if len(text) < 2 or any(c not in _ALPHABET for c in text[:-1]):
        return None
    n = 0
    for c in text[:-1]:
        n = n * 32 + _ALPHABET.index(c)
    return n if n and _CHECK[n % 37] == text[-1] else None


def cancel_token(secret: str, appointment_id: int) -> str:
    mac = hmac.new(f"link-cancel:{secret}".encode(), str(appointment_id).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:12]).decode()


def cancel_path(link: BookingLink, secret: str, appointment_id: int) -> str:
    """The page that cancels this booking: the token (an HMAC of the appointment id) is the authority, as
    whoever holds the confirmation message may cancel the appointment it describes."""
    return f"/l/{link.code}/cancel/{appointment_id}/{cancel_token(secret, appointment_id)}"


def token_ok(secret: str, appointment_id: int, token: str) -> bool:
    return hmac.compare_digest(cancel_token(secret, appointment_id), token)


def _channel(patient: Patient) -> str | None:
    if patient.mobile:
        return "sms"
    if patient.email:
        return "email"
    return None


async def send_confirmation(session: AsyncSession, link: BookingLink, appt: Appointment, view: dict[str, Any],
                            practice: dict[str, Any], *, settings: Settings, now: datetime) -> int | None:
    """Queue the confirmation (SMS to the mobile, else email) unless the link or appointment says
    ``suppress_mail`` or the patient has no contact; returns the message id."""
    if link.suppress_mail or appt.suppress_mail or appt.patient_id is None:
        return None
    patient = await session.get(Patient, appt.patient_id)
    channel = _channel(patient) if patient is not None else None
    if patient is None or channel is None:
        return None
    cancel = settings.public_base_url.rstrip("/") + cancel_path(link, settings.secret_key, appt.id)
    price = f" {view['price']} (private service)." if view.get("price") else ""
    where = f" at {view['where']}" if view.get("where") else ""
    phone = f" or call {practice['phone']}" if practice.get("phone") else ""
    text = (f"{practice['name']}: your {view['type']} appointment is booked for {view['day']} at {view['time']} "
            f"with {view['with']}{where}.{price} Reference {reference(appt.id)}. "
            f"To cancel: {cancel}{phone}.")
    body = SendMessageRequest(patient_id=str(patient.id), message_type=channel, message_string=text)  # type: ignore[arg-type]
    message, _ = await messaging.send_message(session, link_principal(link), body, settings=settings, now=now)
    return message.id


async def cancel_booking(session: AsyncSession, link: BookingLink, appt: Appointment, now: datetime) -> bool:
    """Cancel as the patient, under the practice's cancellation policy (booking's own rule); a task tells
    the practice. False when the policy (or the appointment having started) does not allow it."""
    try:
        await appointments.cancel(session, link_principal(link), str(appt.id), suppress_cancellation_policy=False,
                                  suppress_mail=None, now=now)
    except ApiError:
        return False
    await create_task(session, practice_group_id=appt.practice_group_id, type_label="Appointment cancelled",
                      category="appointment", patient_id=appt.patient_id, appointment_id=appt.id,
                      details=f"Cancelled by the patient from the booking link (reference {reference(appt.id)})",
                      triggered_by={"type": "booking_link", "id": str(link.id)}, now=now)
    return True
