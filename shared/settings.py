"""The one typed configuration object, read from `EW_*` environment variables and a `.env` file.

Nothing else in the code base reads `os.environ`: services receive a `Settings` instance.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./earlywarning.db"


class Settings(BaseSettings):
    """Configuration of every Early Warning process (contract section 1)."""

    model_config = SettingsConfigDict(env_prefix="EW_", env_file=".env", extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://user:pw@host/db.",
    )
    kafka_bootstrap: str | None = Field(
        None, description="Kafka bootstrap servers (host:port,...). Unset: the embedded bus in the database."
    )
    admin_key: SecretStr | None = Field(None, description="Bootstraps one API key with every scope.")
    bureau_secret: SecretStr | None = Field(None, description="whsec_... verifying inbound bureau webhooks.")
    smtp_url: str | None = Field(None, description="smtp://host:port for email notifications.")
    mail_from: str = Field("earlywarning@localhost", description="Sender address of notification emails.")
    secret_key: SecretStr | None = Field(None, description="Encrypts stored webhook secrets.")
    webhook_allow_private: bool = Field(
        False, description="Allow webhook targets on loopback/private ranges."
    )
    console_url: str | None = Field(
        None,
        pattern=r"^https?://\S+$",
        description="Public base URL of the console (https://ew.example.com): emails link to its pages.",
    )
    inhibit_after_bankruptcy: bool = Field(
        True, description="While a company's bankruptcy signal is open, do not notify its lesser signals."
    )
    webhook_timeout: float = Field(10.0, gt=0, description="Seconds a webhook target has to answer.")
    webhook_retry_base: float = Field(
        5.0, gt=0, description="Seconds before the first retry of a failed delivery; each next one doubles."
    )
    webhook_retry_window: float = Field(
        86400.0, gt=0, description="Seconds a delivery is retried before it is marked failed (24 h)."
    )
    sweep_interval: float = Field(
        3600.0,
        ge=0,
        description="Seconds between sweeps for absence-based signals (also one at start-up); 0 turns "
        "the sweep off.",
    )

    register_horizon_years: int = Field(
        5,
        ge=0,
        description="A first KBO/BCE import announces a juridical situation only if it is surely at most "
        "this many years old; 0: every one.",
    )

    rules_file: Path | None = Field(
        None,
        description="YAML file overriding thresholds of the signal rules (`earlywarning rules` prints them).",
    )

    bus_partitions: int = Field(6, ge=1, le=1000, description="Partitions per topic when topics are created.")
    bus_replication: int = Field(1, ge=1, description="Kafka replication factor when topics are created.")
    bus_max_attempts: int = Field(
        3, ge=1, description="Attempts to process a message before it is dead-lettered to ew.dlq.<topic>."
    )
    bus_publish_timeout: float = Field(
        10.0,
        gt=0,
        description="Kafka: seconds to wait for the broker's acknowledgement before answering 503.",
    )
    bus_poll_interval: float = Field(
        0.2, gt=0, description="Embedded bus: seconds between polls for messages written by other processes."
    )
    request_head_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds a client has to send a request's line and headers, from connecting or from the "
        "previous response; then 408 and the connection is closed (slow-loris protection).",
    )
    request_body_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds a request body may take to arrive, plus one per EW_REQUEST_BODY_MIN_RATE bytes "
        "received; then 408 and the connection is closed.",
    )
    request_body_min_rate: float = Field(
        1024.0,
        gt=0,
        description="Bytes per second that extend a request body's deadline by one second each.",
    )
    log_level: str = Field("INFO", description="Root log level.")
    log_format: str = Field("json", description="json (one object a line) or text.")

    # A blank value (`EW_BUREAU_SECRET=` in a compose file) is unset: an empty HMAC key would accept
    # forged bureau webhooks, and an empty admin key would not be a key.
    @field_validator(
        "kafka_bootstrap",
        "smtp_url",
        "admin_key",
        "bureau_secret",
        "secret_key",
        "console_url",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in {"json", "text"}:
            raise ValueError("must be 'json' or 'text'")
        return value

    @property
    def uses_kafka(self) -> bool:
        return self.kafka_bootstrap is not None
