"""Email through a real submission relay (aiosmtpd) that requires STARTTLS and AUTH, with a certificate
generated here and trusted only through OPENHERO_SMTP_CA_FILE - what NHSmail and Office 365 require on
port 587. Also implicit TLS, the practice group's own From and Reply-To, and which failures are retried."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from openhero.core.jobs import Job
from tests.builders import make_patient
from tests.conftest import free_port

pytestmark = pytest.mark.asyncio

USER, PASSWORD = "oakwood.surgery@nhs.example", "correct horse battery staple"
UTF8_BODY = "Café résumé — your naïve “asthma” review ✓. Dw i'n dysgu Cymraeg: ŵ ŷ. 你好.\nSecond line."


@dataclass
class Pki:
    ca_file: Path
    server_context: ssl.SSLContext


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throwaway CA and a relay certificate for 127.0.0.1/localhost signed by it."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("openhero test CA")).issuer_name(_name("openhero test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name("relay.test")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("pki")
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "relay.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "relay.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "relay.pem", folder / "relay.key")
    return Pki(folder / "ca.pem", context)


@dataclass
class Relay:
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    sessions: list[tuple[bool, Any]] = field(default_factory=list)  # (TLS on, authenticated login)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if address.endswith("@rejected.test"):
            return "550 5.1.1 No such user here"
        if address.endswith("@greylisted.test"):
            return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.sessions.append((server.transport.get_extra_info("ssl_object") is not None, session.auth_data))
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content,
                                                policy=policy.default))  # type: ignore[arg-type]
        return "250 2.0.0 Queued"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login.decode() if ok else None)


def _start(relay: Relay, **smtp: Any) -> Controller:
    controller = Controller(relay, hostname="127.0.0.1", port=relay.port, server_hostname="relay.test", **smtp)
    controller.start()
    return controller


@pytest.fixture
def submission_relay(pki: Pki) -> Iterator[Relay]:
    """Port-587 style: STARTTLS required before anything, then AUTH required (only over TLS)."""
    relay = Relay(port=free_port())
    controller = _start(relay, tls_context=pki.server_context, require_starttls=True, auth_required=True,
                        auth_require_tls=True, authenticator=_authenticate)
    try:
        yield relay
    finally:
        controller.stop()


@pytest.fixture
def implicit_tls_relay(pki: Pki) -> Iterator[Relay]:
    """Port-465 style: TLS from the first byte, then AUTH."""
    relay = Relay(port=free_port())
    # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; this connection is TLS from the start.
    controller = _start(relay, ssl_context=pki.server_context, auth_required=True, auth_require_tls=False,
                        authenticator=_authenticate)
    try:
        yield relay
    finally:
        controller.stop()


def relay_settings(relay: Relay, pki: Pki, **overrides: Any) -> dict[str, Any]:
    return {"email_provider": "smtp", "smtp_host": "127.0.0.1", "smtp_port": relay.port,
            "smtp_username": USER, "smtp_password": PASSWORD, "smtp_ca_file": str(pki.ca_file),
            "smtp_from": "noreply@openhero.test", "smtp_timeout_seconds": 5.0, **overrides}


async def send_email(api, patient_id, text: str = UTF8_BODY, **fields: Any) -> str:  # type: ignore[no-untyped-def]
    r = await api.post("/v1/messages/send", json={"patient_id": str(patient_id), "message_type": "email",
                                                  "message_string": text, **fields})
    assert r.status_code == 200, r.text
    return str(r.json()["message_id"])


async def status(api, message_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return (await api.get(f"/v1/messages/{message_id}")).json()


async def send_job(db, message_id: str) -> Job:  # type: ignore[no-untyped-def]
    async with db.session(write=False) as session:
        jobs = (await session.execute(select(Job).where(Job.kind == "messaging.send"))).scalars().all()
    return next(j for j in jobs if str(j.payload["message_id"]) == message_id)


async def test_starttls_and_auth_relay_receives_every_rfc5322_header_and_the_utf8_body(
    api, tenant, clean, run_worker, submission_relay, pki
):
    r = await api.patch("/v1/me", json={"email_from": "Oakwood Surgery <oakwood.surgery@nhs.example>",
                                        "email_reply_to": "Oakwood Reception <reception.oakwood@nhs.example>"})
    assert r.status_code == 200, r.text
    assert r.json()["email_from"] == "Oakwood Surgery <oakwood.surgery@nhs.example>"
    assert (await api.get("/v1/me")).json()["email_reply_to"] == "Oakwood Reception <reception.oakwood@nhs.example>"
    patient = await make_patient(clean, tenant.id, email="asthma.patient@example.com")
    message_id = await send_email(api, patient.id)

    await run_worker(**relay_settings(submission_relay, pki))

    assert (await status(api, message_id))["status"] == "delivered"
    [mail] = submission_relay.messages
    assert submission_relay.sessions == [(True, USER)]  # over TLS, logged in
    assert submission_relay.envelopes == [("oakwood.surgery@nhs.example", ["asthma.patient@example.com"])]
    assert mail["From"] == "Oakwood Surgery <oakwood.surgery@nhs.example>"
    assert mail["Reply-To"] == "Oakwood Reception <reception.oakwood@nhs.example>"
    assert mail["To"] == "asthma.patient@example.com"
    assert mail["Subject"] == "A message from your GP practice"
    sent_at = parsedate_to_datetime(mail["Date"])
    assert sent_at.tzinfo is not None and abs((datetime.now(UTC) - sent_at).total_seconds()) < 120
    assert mail["Message-ID"].startswith("<") and mail["Message-ID"].endswith("@nhs.example>")
    assert mail["MIME-Version"] == "1.0" and mail.get_content_charset() == "utf-8"
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content().rstrip("\n") == UTF8_BODY
    assert mail["X-Openhero-Message-Id"] == message_id

    # Another group's email (no From of its own) goes from the server's address; a configured
    # Message-ID domain wins over the From's.
    cleared = await api.patch("/v1/me", json={"email_from": None, "email_reply_to": None})
    assert cleared.json()["email_from"] is None
    second = await send_email(api, patient.id, "Plain ASCII reminder.")
    await run_worker(**relay_settings(submission_relay, pki, smtp_message_id_domain="mail.openhero.test"))
    assert (await status(api, second))["status"] == "delivered"
    mail = submission_relay.messages[1]
    assert mail["From"] == "noreply@openhero.test" and mail["Reply-To"] is None
    assert mail["Message-ID"].endswith("@mail.openhero.test>")
    assert submission_relay.envelopes[1][0] == "noreply@openhero.test"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_implicit_tls_relay(api, tenant, clean, run_worker, implicit_tls_relay, pki):
    patient = await make_patient(clean, tenant.id, email="tls.patient@example.com")
    message_id = await send_email(api, patient.id)
    await run_worker(**relay_settings(implicit_tls_relay, pki, smtp_security="tls"))
    assert (await status(api, message_id))["status"] == "delivered"
    assert implicit_tls_relay.sessions == [(True, USER)]
    assert implicit_tls_relay.messages[0].get_content().rstrip("\n") == UTF8_BODY


async def test_530_starttls_required_is_retried_then_delivered(api, tenant, clean, clock, run_worker,
                                                              submission_relay, pki):
    patient = await make_patient(clean, tenant.id, email="retry.patient@example.com")
    message_id = await send_email(api, patient.id)

    # Misconfigured: no TLS, no login. The relay answers 530 (STARTTLS first): retried, not failed.
    await run_worker(**relay_settings(submission_relay, pki, smtp_username=None, smtp_password=None))
    assert (await status(api, message_id))["status"] == "queued"
    job = await send_job(clean, message_id)
    assert job.status == "queued" and "530" in job.last_error and job.run_at > clock.now()

    # Certificates are verified: without the CA bundle the relay's certificate is not trusted.
    clock.advance(minutes=2)
    await run_worker(**relay_settings(submission_relay, pki, smtp_ca_file=None))
    assert (await status(api, message_id))["status"] == "queued"
    assert "certificate" in (await send_job(clean, message_id)).last_error

    # A wrong password is ours to fix, not the patient's: retried.
    clock.advance(minutes=5)
    await run_worker(**relay_settings(submission_relay, pki, smtp_password="wrong"))
    assert (await status(api, message_id))["status"] == "queued"
    assert "535" in (await send_job(clean, message_id)).last_error

    # Fixed: the next retry delivers it.
    clock.advance(minutes=10)
    await run_worker(**relay_settings(submission_relay, pki))
    assert (await status(api, message_id))["status"] == "delivered"
    assert len(submission_relay.messages) == 1


async def test_recipient_5xx_fails_4xx_retries_until_the_window_closes(api, tenant, clean, clock, run_worker,
                                                                       submission_relay, pki):
    patient = await make_patient(clean, tenant.id, email="p@example.com")
    rejected = await send_email(api, patient.id, recipient_contact_detail="nobody@rejected.test")
    greylisted = await send_email(api, patient.id, recipient_contact_detail="someone@greylisted.test")
    await run_worker(**relay_settings(submission_relay, pki))
    refused = await status(api, rejected)
    assert refused["status"] == "failed" and "550" in refused["failure_reason"]
    assert (await status(api, greylisted))["status"] == "queued"

    # Waits grow with the message's age: the retry after an hour of 451s is far later than the first.
    first_wait = (await send_job(clean, greylisted)).run_at - clock.now()
    for _ in range(6):
        clock.advance(hours=1)
        await run_worker(**relay_settings(submission_relay, pki))
    later_wait = (await send_job(clean, greylisted)).run_at - clock.now()
    assert first_wait <= timedelta(minutes=1) < timedelta(minutes=30) <= later_wait
    assert (await status(api, greylisted))["status"] == "queued"

    clock.advance(hours=19)  # past the 24-hour retry window
    await run_worker(**relay_settings(submission_relay, pki))
    failed = await status(api, greylisted)
    assert failed["status"] == "failed"
    assert "not sent within 24 hours" in failed["failure_reason"] and "451" in failed["failure_reason"]


async def test_practice_group_sender_is_validated(api):
    for field_name, bad in (("email_from", "not an address"), ("email_reply_to", "a@example.com, b@example.com"),
                            ("email_from", "Surgery <ø@example.com>")):
        r = await api.patch("/v1/me", json={field_name: bad})
        assert r.status_code == 400, r.text
        assert r.json()["message"][0]["path"] == [field_name]
    r = await api.patch("/v1/me", json={"email_from": "surgery@example.com"})
    assert r.status_code == 200 and r.json()["email_from"] == "surgery@example.com"


async def test_batch_email_uses_the_group_sender_and_retries_530_within_the_window(
    api, tenant, clean, clock, run_worker, submission_relay, pki
):
    from datetime import date

    await api.patch("/v1/me", json={"email_from": "Oakwood Surgery <oakwood.surgery@nhs.example>"})
    await make_patient(clean, tenant.id, nhs_number="9990000018", dob=date(1951, 4, 12), email="one@example.com")
    await make_patient(clean, tenant.id, nhs_number="9990000026", dob=date(1960, 1, 1), email="two@example.com")
    r = await api.post("/v1/batch_message", json={
        "name": "Flu clinic", "channel": "EMAIL", "subject": "Flu clinic – Saturday", "content": UTF8_BODY,
        "recipients": [{"nhs_number": "9990000018", "dob": "1951-04-12"},
                       {"nhs_number": "9990000026", "dob": "1960-01-01"}]})
    assert r.status_code == 200, r.text
    batch_id = r.json()["id"]
    await run_worker()  # enrichment
    assert (await api.patch(f"/v1/batch_message/{batch_id}/send")).status_code == 200

    broken = relay_settings(submission_relay, pki, smtp_username=None, smtp_password=None)  # 530 STARTTLS
    await run_worker(**broken)
    recipients = (await api.get(f"/v1/batch_message/{batch_id}/recipients")).json()["data"]
    assert submission_relay.messages == [] and {x["status"] for x in recipients} != {"FAILED"}
    clock.advance(minutes=3)
    await run_worker(**relay_settings(submission_relay, pki))
    assert sorted(m["To"] for m in submission_relay.messages) == ["one@example.com", "two@example.com"]
    for mail in submission_relay.messages:
        assert mail["From"] == "Oakwood Surgery <oakwood.surgery@nhs.example>"
        assert mail["Subject"] == "Flu clinic – Saturday" and mail.get_content().rstrip("\n") == UTF8_BODY
    assert (await api.get(f"/v1/batch_message/{batch_id}")).json()["status"] == "COMPLETED"

    # A batch whose relay stays broken for the whole 24-hour window ends with failed messages.
    r = await api.post("/v1/batch_message", json={
        "name": "Second", "channel": "EMAIL", "subject": "Second", "content": "Plain text",
        "recipients": [{"nhs_number": "9990000018", "dob": "1951-04-12"}]})
    second = r.json()["id"]
    await run_worker()
    await api.patch(f"/v1/batch_message/{second}/send")
    await run_worker(**broken)
    for _ in range(30):
        clock.advance(hours=1)
        await run_worker(**broken)
    async with clean.session(write=False) as session:
        from openhero.messaging.models import Message

        reasons = (await session.execute(select(Message.status, Message.failure_reason)
                                         .where(Message.batch_id == int(second)))).all()
    assert [(s, "not sent within 24 hours" in (f or "") and "530" in f) for s, f in reasons] == [("failed", True)]
    assert (await api.get(f"/v1/batch_message/{second}")).json()["status"] == "COMPLETED"


async def test_silent_relay_times_out_and_missing_starttls_never_falls_back_to_plain(settings, smtp_server):
    import asyncio

    from openhero.messaging.providers import Outgoing, ProviderUnavailable
    from openhero.messaging.providers.smtp import SmtpProvider

    mail = Outgoing(message_id=7, practice_group_id=1, channel="email", recipient="p@example.com", subject=None,
                    body="Hello")

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)  # accepts, never greets
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        provider = SmtpProvider(settings.model_copy(update={"smtp_port": port, "smtp_timeout_seconds": 0.5}))
        with pytest.raises(ProviderUnavailable, match="timed out"):
            await provider.send(mail)
    finally:
        server.close()

    # A relay that does not offer STARTTLS: retried with the reason, nothing sent in clear.
    plain = SmtpProvider(settings.model_copy(update={"smtp_port": smtp_server.port, "smtp_security": "starttls"}))
    with pytest.raises(ProviderUnavailable, match="STARTTLS"):
        await plain.send(mail)
    assert smtp_server.messages == []
