"""Runtime settings, read from the environment (``OPENHERO_*``) with pydantic-settings."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Published in this repository: it must never sign or encrypt anything. Outside sandbox mode every entry
# point refuses it; in sandbox mode each database gets a random secret of its own (core/instance.py).
DEFAULT_SECRET = "openhero-insecure-development-secret-change-me"


class ConfigError(RuntimeError):
    """A configuration problem an operator must fix; entry points print it as one line and exit."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENHERO_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///openhero.db"
    # Connections each API process keeps open (and as many again as short-lived overflow). Requests hold one
    # while they run, so this is sized for the concurrency a process serves: opening connections under load
    # (a thread and four PRAGMAs on SQLite, a login on PostgreSQL) costs more than idle ones.
    db_pool_size: int = 32
    # Hot reads (core/reads.py): the hottest reads run on pinned driver connections (up to half the pool on
    # PostgreSQL, one on SQLite) instead of through an ORM session. Off: every read goes through the session.
    hot_reads: bool = True
    # Signs Elements access tokens and merge tokens, and encrypts webhook signing keys at rest.
    secret_key: str = DEFAULT_SECRET
    # Demo/sandbox mode: seeded data, sandbox adapters, and the default secret is tolerated.
    sandbox: bool = False
    redis_url: str | None = None
    # Requests per key per minute (moving window) before 429.
    rate_limit: str = "600/minute"
    # Per client address on the unauthenticated patient pages (booking/form links, approvals).
    page_rate_limit: str = "300/minute"
    # Prefix of the rate-limit counters in Redis (processes sharing a namespace share budgets).
    rate_limit_namespace: str = "openhero"
    public_base_url: str = "http://127.0.0.1:8000"
    access_token_ttl_seconds: int = 1800
    # Adapters
    pds_adapter: str = Field(default="sandbox", pattern="^(sandbox|pds_fhir)$")
    pds_base_url: str | None = None
    # Budget for one trace, retries included.
    pds_timeout_seconds: float = 10.0
    # Application-restricted access (NHS signed JWT); unset for the unauthenticated NHS sandbox.
    pds_token_url: str | None = None
    pds_api_key: str | None = None
    pds_private_key_file: str | None = None
    pds_key_id: str | None = None
    sms_provider: str = Field(default="sandbox", pattern="^(sandbox|notify)$")
    email_provider: str = Field(default="sandbox", pattern="^(sandbox|smtp|notify)$")
    # SMTP submission relay (NHSmail, Office 365: port 587, starttls, username + password).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "noreply@openhero.local"
    # starttls | tls (implicit TLS, usually port 465) | none; unset: starttls when a username is set.
    smtp_security: str | None = Field(default=None, pattern="^(starttls|tls|none)$")
    smtp_username: str | None = None
    smtp_password: str | None = None
    # Extra CA bundle (PEM) trusted for the relay's certificate, on top of the system's.
    smtp_ca_file: str | None = None
    # Domain of Message-ID headers; unset: the domain of the From address.
    smtp_message_id_domain: str | None = None
    smtp_timeout_seconds: float = 30.0
    notify_api_key: str | None = None
    notify_base_url: str = "https://api.notifications.service.gov.uk"
    notify_sms_template_id: str | None = None
    notify_email_template_id: str | None = None
    # Worker
    worker_poll_interval_seconds: float = 0.2
    worker_batch_size: int = 100
    worker_lease_seconds: int = 60
    log_level: str = "info"
    # Operating (README "Operating"): log lines as json or text (auto: text in a terminal, else json).
    log_format: str = Field(default="auto", pattern="^(auto|json|text)$")
    metrics_enabled: bool = True
    # On SIGTERM: how long in-flight requests and running jobs get before they are cut off (jobs released).
    shutdown_timeout_seconds: float = 20.0
    # PostgreSQL: workers LISTEN for the NOTIFY written with each outbox row / job (polling stays as fallback).
    worker_listen: bool = True
    # Retention (days; 0 keeps forever), applied by the hourly prune job and `openhero db prune`.
    retention_prune_interval_minutes: int = 60
    retention_webhook_deliveries_days: int = 30  # delivered or cancelled deliveries, with their attempts
    retention_failed_webhook_deliveries_days: int = 90
    retention_outbox_days: int = 7  # dispatched outbox events, finished jobs, sandbox sent-message records
    retention_idempotency_days: int = 2
    retention_audit_days: int = 365
    retention_expired_reservations_days: int = 7
    # Run a worker inside each API process (the single-command demo); off when workers run separately.
    serve_worker: bool = False
    # Security (README "Security"). Webhook targets on loopback/private/link-local/metadata addresses:
    # refused unless true; unset means allowed in sandbox mode only.
    webhook_allow_private: bool | None = None
    # Request bodies larger than this are refused with 413 before they are read whole.
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    # Peers (IPs or CIDRs, comma-separated, or "*") whose X-Forwarded-For names the client address.
    forwarded_allow_ips: str = ""

    @property
    def webhook_private_allowed(self) -> bool:
        return self.sandbox if self.webhook_allow_private is None else self.webhook_allow_private

    @model_validator(mode="after")
    def _smtp_login_needs_tls(self) -> Settings:
        if self.smtp_username and self.smtp_security == "none":
            raise ValueError("OPENHERO_SMTP_SECURITY=none with OPENHERO_SMTP_USERNAME would send the SMTP "
                             "password in clear; use starttls (port 587) or tls (port 465)")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def smtp_security_mode(self) -> str:
        return self.smtp_security or ("starttls" if self.smtp_username else "none")

    @property
    def uses_development_secret(self) -> bool:
        return self.secret_key == DEFAULT_SECRET

    def check_secrets(self) -> None:
        """Refuse to run with the published default secret outside sandbox mode."""
        if self.uses_development_secret and not self.sandbox:
            raise ConfigError(
                "OPENHERO_SECRET_KEY is the published development secret; set a long random secret "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`) or run in sandbox "
                "mode (OPENHERO_SANDBOX=1 or `openhero serve --demo`)"
            )

    def check_config(self) -> None:
        """What can be checked before touching the database: the database URL parses and names an
        installed driver, and every ``*_file`` setting names a readable file."""
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            url = make_url(self.database_url)
            url.get_dialect()
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            raise ConfigError(f"OPENHERO_DATABASE_URL is not a usable database URL ({exc})") from None
        on_disk = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
        folder = os.path.dirname(os.path.abspath(url.database)) if on_disk else None  # type: ignore[arg-type]
        if folder and not os.path.isdir(folder):
            raise ConfigError(f"OPENHERO_DATABASE_URL: the directory {folder} of the SQLite file does not exist")
        for name in type(self).model_fields:
            path = getattr(self, name)
            if name.endswith("_file") and path:
                if not os.path.isfile(path) or not os.access(path, os.R_OK):
                    raise ConfigError(f"OPENHERO_{name.upper()}: cannot read {path}")


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming the environment variable(s) at fault."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"])
        text = error["msg"].removeprefix("Value error, ")
        parts.append(f"OPENHERO_{field.upper()}: {text}" if field else text)
    return "; ".join(parts)


@lru_cache
def get_settings() -> Settings:
    return Settings()
