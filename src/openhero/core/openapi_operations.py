"""What route metadata cannot tell ``core.openapi``: per operationId, the business-rule (409), body-id
(404) and PDS (502/503) statuses, typed parameters, and the example payloads of Hero's guides
(hero-public-api.yaml and NOTES.md). Keyed by the contract's operationIds, so core imports no domain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ID = {"type": "string", "pattern": r"^\d+$"}
IDS = {"type": "string", "pattern": r"^\d+(,\d+)*$",
       "description": "An id; repeat the key or separate ids with commas for several."}
DATE = {"type": "string", "format": "date"}
NHS_NUMBER = {"type": "string", "pattern": r"^\d{3} ?\d{3} ?\d{4}$", "examples": ["943 476 5919"],
              "description": "10 digits, spaced or not, with a valid modulus-11 check digit."}
DATE_OR_DATETIME = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}


def enum(*values: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def example(summary: str, value: Any) -> dict[str, Any]:
    return {"summary": summary, "value": value}


@dataclass(frozen=True)
class OperationDoc:
    errors: dict[int, str | None] = field(default_factory=dict)  # extra status -> description (None: default)
    not_errors: tuple[int, ...] = ()
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    request_examples: dict[str, Any] = field(default_factory=dict)
    response_examples: dict[int, dict[str, Any]] = field(default_factory=dict)


BODY_ID_404 = "An id in the body (or query) names nothing in this practice group."
PDS_ERRORS: dict[int, str | None] = {502: None, 503: None}

SLOT_FILTERS = {"appointment_type_id": IDS, "location_id": IDS, "practitioner_id": IDS,
                "start_date": DATE_OR_DATETIME, "end_date": DATE_OR_DATETIME}
TASK_STATUS = enum("open", "in_progress", "closed")
TASK_PRIORITY = enum("lowest", "low", "medium", "high", "highest")
ASSIGNEE_TYPE = {**enum("Admin", "AdminTeam", "Unassigned"),
                 "description": "Hero's spelling; admin, admin_team and unassigned are accepted too."}
TASK_FILTERS = {"status[]": array(TASK_STATUS), "priority[]": array(TASK_PRIORITY),
                "assignee_type[]": array(ASSIGNEE_TYPE),
                "order_by[]": array(enum("created_at", "priority", "updated_at", "status"))}
EPISODE_FILTERS = {"assignee_type[]": array(ASSIGNEE_TYPE), "order_by[]": array(enum("created_at", "priority"))}
PATIENT_FIELD = enum("emis_id", "ehr_partner_id", "nhs_number", "first_name", "last_name", "dob", "email", "mobile",
                     "uid", "postcode")
BATCH_STATUSES = ("CREATED", "PENDING", "SENDING", "COMPLETED")
RECIPIENT_STATUSES = ("CREATED", "ENRICHMENT_ERROR", "ENRICHED", "INVALID_PAYLOAD", "QUEUED")
WEBHOOK_EVENTS = {"$ref": "#/components/schemas/WebhookEventType"}

APPOINTMENT_409 = ("The appointment's state or the practice's rules refuse this (openhero): slot taken, "
                   "reservation expired, already booked or cancelled, inside the cancellation window.")

SLOT = {"id": "8812", "practitioner_id": "7", "appointment_type_id": "12", "location_id": "3",
        "start_time": "2030-03-04T09:30:00.000Z", "finish_time": "2030-03-04T09:45:00.000Z"}
BOOKED = {"id": "4321", "patient_id": "98765", "practitioner_id": "7", "location_id": "3", "appointment_type_id": "12",
          "duration": 15, "start_time": "2030-03-04T09:30:00.000Z", "video": False, "in_person": True,
          "telephone": False, "video_url": None, "link_id": None, "reserved_until": None,
          "booking_confirmed_at": "2030-03-01T10:02:00.000Z", "can_be_cancelled": True, "can_be_rescheduled": True,
          "cancellation_policy_hours": 24, "suppress_mail": False, "cancelled_at": None, "rescheduled_at": None,
          "reason": "Asthma review", "billpayer_id": None}

OPERATIONS: dict[str, OperationDoc] = {
    "createAccessToken": OperationDoc(response_examples={200: {"token": example(
        "A JWT for Hero Elements, valid 30 minutes",
        {"access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.c2ln"})}}),
    # ---- patients ------------------------------------------------------------------------------------
    "registerPatientPds": OperationDoc(
        errors={404: "PDS traced no patient with these details.", 409: "The EHR record is already linked "
                "to another patient (openhero).", **PDS_ERRORS},
        request_examples={
            "byNhsNumber": example("Trace by NHS number (spaced or not) and date of birth; Jane Smith is a "
                                   "patient of openhero's sandbox PDS",
                                   {"nhs_number": "900 000 0009", "dob": "2010-10-22"}),
            "byDemographics": example("Trace by name, date of birth and postcode",
                                      {"dob": "2010-10-22", "forename": "Jane", "surname": "Smith",
                                       "postcode": "LS1 6AE"}),
        },
        response_examples={200: {
            "registered": example("Traced (or already registered): the Hero patient id", {"patient_id": "98765"}),
            "verificationRequired": example("The patient must verify their identity first", {
                "message": "Patient must verify their identity before proceeding",
                "login_url": "https://patient.herohealth.net/verify/abc123"}),
        }},
    ),
    "registerPatient": OperationDoc(
        errors={409: "The EHR record is already linked to another patient (openhero)."},
        request_examples={"patient": example("Register from the partner's demographics", {
            "nhs_number": "9434765919", "dob": "1992-01-01", "first_name": "Jane", "last_name": "Smith",
            "mobile": "07700900123", "email": "jane.smith@example.com", "postcode": "LS1 4AP"})},
        response_examples={200: {"registered": example("The Hero patient id", {"patient_id": "98765"})}},
    ),
    "listPatients": OperationDoc(parameters={"field": PATIENT_FIELD}),
    "listPatientsV2": OperationDoc(parameters={"field": PATIENT_FIELD}),
    "listPatientsV3": OperationDoc(parameters={"dob": DATE, "nhs_number": NHS_NUMBER}),
    "connectPatientEhr": OperationDoc(
        errors={409: "The patient or the EHR record is already linked elsewhere (openhero)."},
        request_examples={"connect": example("Link to an EHR record", {"ehr_partner_id": "EMIS-1234"})}),
    "previewPatientMerge": OperationDoc(
        errors={404: None, 409: "These two patients cannot be merged (openhero)."},
        request_examples={"preview": example("Preview merging patient 156 into this one", {"patient_id": "156"})}),
    "mergePatient": OperationDoc(errors={409: "The merge token is stale or the patients cannot be merged."}),
    # ---- booking -------------------------------------------------------------------------------------
    "listSlots": OperationDoc(parameters=SLOT_FILTERS, response_examples={200: {"slots": example(
        "Free slots, earliest first; count is every match", {"data": [SLOT], "count": 1})}}),
    "countSlots": OperationDoc(parameters=SLOT_FILTERS),
    "createAppointment": OperationDoc(
        errors={404: BODY_ID_404, 409: APPOINTMENT_409},
        request_examples={"reserve": example("Reserve a slot for a patient", {
            "appointment_type_id": "12", "location_id": "3", "practitioner_id": "7", "duration": 15,
            "start_time": "2030-03-04T09:30:00.000Z", "patient_id": "98765", "reason": "Asthma review"})},
        response_examples={200: {"reserved": example("Held until reserved_until; book it to confirm", {
            "id": "4321", "reserved_until": "2030-03-01T10:15:00.000Z"})}},
    ),
    "editAppointment": OperationDoc(
        errors={409: APPOINTMENT_409},
        request_examples={"move": example("Move an unconfirmed reservation", {
            "start_time": "2030-03-04T10:00:00.000Z", "duration": 15, "practitioner_id": "7"})}),
    "bookAppointment": OperationDoc(errors={409: APPOINTMENT_409}, response_examples={200: {
        "booked": example("Confirmed", BOOKED)}}),
    "cancelAppointment": OperationDoc(
        errors={409: APPOINTMENT_409},
        request_examples={"cancel": example("Cancel, notifying the patient", {"suppress_mail": False})}),
    "rescheduleAppointment": OperationDoc(
        errors={409: APPOINTMENT_409},
        request_examples={"toSlot": example("Move a booking to another slot", {"slot_id": "8812"})}),
    # ---- messaging -----------------------------------------------------------------------------------
    "sendMessage": OperationDoc(
        errors={404: BODY_ID_404},
        request_examples={
            "sms": example("An SMS to the patient's mobile on file", {
                "patient_id": "98765", "message_type": "sms",
                "message_string": "Your flu jab is ready to book at the surgery."}),
            "nhsApp": example("An NHS App message with an SMS fallback", {
                "patient_id": "98765", "message_type": "nhs_app", "message_string": "Your results are in.",
                "fallback_message_type": "sms", "write_to_record": True}),
        },
        response_examples={200: {"queued": example("Stored and queued; a worker sends it", {
            "message_id": "5531", "content": "Your flu jab is ready to book at the surgery.",
            "created_at": "2030-03-01T10:00:00.000Z", "snomed_code": "279991000000102", "write_to_record": False,
            "status": "queued", "message_type": "sms"})}}),
    "createBatchMessage": OperationDoc(request_examples={"sms": example("An SMS to two patients", {
        "name": "Flu clinic invites", "channel": "SMS", "content": "Book your flu jab at the surgery.",
        "recipients": [{"nhs_number": "943 476 5919", "dob": "1992-01-01"},
                       {"nhs_number": "9434765870", "dob": "1975-06-30"}]})}),
    "listBatchMessages": OperationDoc(parameters={"status": enum(*BATCH_STATUSES, *RECIPIENT_STATUSES[1:])}),
    "listBatchMessageRecipients": OperationDoc(parameters={"status": enum(*RECIPIENT_STATUSES)}),
    "listBatchMessageSends": OperationDoc(parameters={"status": {
        **enum("CREATED", "QUEUED", "SENT", "DELIVERED", "FAILED"),
        "description": "A message status (lower case accepted too); CREATED, the docs' example, means queued."}}),
    "sendBatchMessage": OperationDoc(errors={409: "The batch was already sent (openhero)."}),
    "createAttachmentLink": OperationDoc(errors={404: BODY_ID_404}, request_examples={"upload": example(
        "Wrap an uploaded PDF for a message (then pass attachment_uuid to sendMessage)", {
            "file_name": "results.pdf", "file_data": "JVBERi0xLjQKJcfsj6IKJSVFT0YK", "patient_id": "98765",
            "expiry_date": "2030-03-31", "maximum_use_count": 3})}),
    "openSandboxNhsAppMessage": OperationDoc(errors={409: "Not an NHS App message, or not delivered yet."}),
    "listSandboxOutbox": OperationDoc(parameters={"message_id": ID}),
    # ---- webhooks ------------------------------------------------------------------------------------
    "createWebhook": OperationDoc(request_examples={"confirmed": example(
        "Hear about confirmed appointments, signed", {
            "event_type": "appointment.confirmed", "url": "https://partner.example.com/hero/webhooks",
            "description": "Booking confirmations", "signing_key": "whsec_5f2b9c1e7a"})}),
    "updateWebhook": OperationDoc(request_examples={"move": example("Point the subscription elsewhere", {
        "url": "https://partner.example.com/hero/webhooks/v2", "description": "Booking confirmations (v2)"})}),
    "listWebhooks": OperationDoc(parameters={"event_type": WEBHOOK_EVENTS}),
    "listWebhookDeliveries": OperationDoc(parameters={"status": array(enum(
        "pending", "sending", "delivered", "failed", "cancelled"))}),
    # ---- links, forms, tasks, episodes ---------------------------------------------------------------
    "createBookingLink": OperationDoc(
        errors={404: BODY_ID_404},
        request_examples={"patientSpecific": example("A link for one patient, usable once", {
            "appointment_type_id": "12", "location_id": "3", "patient_id": "98765",
            "from_date": "2030-03-01", "to_date": "2030-03-31", "maximum_use_count": 1})}),
    "updateBookingLink": OperationDoc(request_examples={"deactivate": example("Stop a link working", {
        "active": False})}),
    "createFormLink": OperationDoc(
        errors={404: BODY_ID_404},
        request_examples={"form": example("Send a questionnaire to a patient", {"form_id": "44",
                                                                              "patient_id": "98765"})}),
    "listForms": OperationDoc(parameters={"form_type": enum("questionnaire", "response", "appointment",
                                                            "care_navigation")}),
    "listTasks": OperationDoc(parameters=TASK_FILTERS),
    "updateTask": OperationDoc(request_examples={"close": example("Close a task and take it", {
        "status": "closed", "priority": "high", "assignee_type": "admin", "assignee_id": "21"})}),
    "listEpisodes": OperationDoc(parameters=EPISODE_FILTERS),
    "listEpisodesV2": OperationDoc(parameters=EPISODE_FILTERS),
    "createEpisodeNote": OperationDoc(errors={404: BODY_ID_404}, request_examples={"note": example(
        "A note on an episode", {"episode_id": "310", "description": "Called the patient; results explained."})}),
    "updateEpisode": OperationDoc(request_examples={"close": example("Close an episode", {"status": "closed"})}),
    # ---- practice, prescriptions, invoicing ----------------------------------------------------------
    "listAdmins": OperationDoc(parameters={"order_by": enum("first_name")}),
    "updatePracticeGroup": OperationDoc(request_examples={"rename": example("Rename and move the practice", {
        "name": "Riverside Surgery", "address": {"line_1": "1 River Street", "city": "Leeds",
                                                 "postcode": "LS1 4AP"}})}),
    "createPharmacy": OperationDoc(errors={404: BODY_ID_404}),
    "searchHcaConsultants": OperationDoc(parameters={"fields": array(enum(
        "first_name", "last_name", "full_name", "gmc_number", "specialty", "sub_specialties", "hospitals",
        "languages"))}),
    "getHcaConsultant": OperationDoc(errors={400: "gmc_number is not 7 digits."},
                                     parameters={"gmc_number": {"type": "string", "pattern": r"^\d{7}$"}}),
    "createCustomer": OperationDoc(errors={404: BODY_ID_404}),
    "getDefaultCustomer": OperationDoc(errors={404: BODY_ID_404}, parameters={"patient_id": ID}),
    "createInvoice": OperationDoc(errors={404: BODY_ID_404, 409: "The invoice cannot take that status."}),
    "updateInvoice": OperationDoc(errors={409: "The invoice's status does not allow this change."}),
}
