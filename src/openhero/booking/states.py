"""Appointment states and which action each allows: a table, not scattered ifs.

Appointments have no status column (the contract keeps state in timestamps); the state is derived from
``cancelled_at``, ``booking_confirmed_at`` and ``reserved_until`` at the clock's ``now``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from openhero.booking.models import Appointment
from openhero.core.errors import Conflict


class AppointmentState(StrEnum):
    RESERVED = "reserved"  # holding its slot until reserved_until
    EXPIRED = "expired"  # an unconfirmed reservation whose hold lapsed
    BOOKED = "booked"
    CANCELLED = "cancelled"


class Action(StrEnum):
    EDIT = "edit"
    BOOK = "book"
    CANCEL = "cancel"
    RESCHEDULE = "reschedule"


ALLOWED: dict[Action, frozenset[AppointmentState]] = {
    Action.EDIT: frozenset({AppointmentState.RESERVED}),
    Action.BOOK: frozenset({AppointmentState.RESERVED}),
    Action.CANCEL: frozenset({AppointmentState.RESERVED, AppointmentState.BOOKED}),
    Action.RESCHEDULE: frozenset({AppointmentState.BOOKED}),
}

# Why an action is refused in a state: (error code, message).
REFUSALS: dict[AppointmentState, tuple[str, str]] = {
    AppointmentState.EXPIRED: ("reservation_expired", "The reservation has expired; reserve the slot again"),
    AppointmentState.CANCELLED: ("appointment_cancelled", "The appointment has been cancelled"),
    AppointmentState.BOOKED: ("already_booked", "The appointment is already booked (confirmed)"),
    AppointmentState.RESERVED: ("not_booked", "The appointment is only reserved; book it first"),
}

EXPECTED: dict[Action, str] = {
    Action.EDIT: "an unconfirmed, unexpired reservation",
    Action.BOOK: "an unconfirmed, unexpired reservation",
    Action.CANCEL: "a booked appointment or an unexpired reservation",
    Action.RESCHEDULE: "a booked (confirmed), uncancelled appointment",
}


def state_of(appt: Appointment, now: datetime) -> AppointmentState:
    if appt.cancelled_at is not None:
        return AppointmentState.CANCELLED
    if appt.booking_confirmed_at is not None:
        return AppointmentState.BOOKED
    if appt.reserved_until is not None and appt.reserved_until > now:
        return AppointmentState.RESERVED
    return AppointmentState.EXPIRED


def require(action: Action, appt: Appointment, now: datetime) -> AppointmentState:
    """The appointment's state, or a 409 naming why ``action`` is not allowed in it."""
    state = state_of(appt, now)
    if state not in ALLOWED[action]:
        code, message = REFUSALS[state]
        raise Conflict(message, code=code, expected=EXPECTED[action], path=["id"])
    return state
