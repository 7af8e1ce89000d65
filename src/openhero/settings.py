"""Runtime settings, read from the environment (``OPENHERO_*``) with pydantic-settings."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "openhero-insecure-development-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENHERO_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///openhero.db"
    # Connections each API process keeps open (and as many again as short-lived overflow). Requests hold one
    # while they run, so this is sized for the concurrency a process serves: opening connections under load
    # (a thread and four PRAGMAs on SQLite, a login on PostgreSQL) costs more than idle ones.
    db_pool_size: int = 32
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
    pds_timeout_seconds: float = 10.0
    sms_provider: str = Field(default="sandbox", pattern="^(sandbox|notify)$")
    email_provider: str = Field(default="sandbox", pattern="^(sandbox|smtp|notify)$")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "noreply@openhero.local"
    notify_api_key: str | None = None
    notify_base_url: str = "https://api.notifications.service.gov.uk"
    notify_sms_template_id: str | None = None
    notify_email_template_id: str | None = None
    # Worker
    worker_poll_interval_seconds: float = 0.2
    worker_batch_size: int = 100
    worker_lease_seconds: int = 60
    log_level: str = "info"
    # Run a worker inside each API process (the single-command demo); off when workers run separately.
    serve_worker: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def check_secrets(self) -> None:
        """Refuse to run with the published default secret outside sandbox mode."""
        if self.secret_key == DEFAULT_SECRET and not self.sandbox:
            raise RuntimeError(
                "OPENHERO_SECRET_KEY is the insecure default; set a long random secret "
                "or run in sandbox/demo mode (OPENHERO_SANDBOX=1 or `openhero serve --demo`)."
            )


@lru_cache
def get_settings() -> Settings:
    return Settings()
