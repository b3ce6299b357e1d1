"""Runtime configuration: one pydantic-settings object read from ``WAFA_*`` variables and ``.env``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.numbers import list_currencies
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from wafa.core.choices import CalendarKind as CalendarKind
from wafa.core.choices import Environment as Environment
from wafa.core.choices import Locale as Locale

PLACEHOLDER_SECRETS = frozenset(
    {"", "change-me", "changeme", "secret", "dev", "development", "please-change", "xxx"}
)


class Settings(BaseSettings):
    """Everything Wafa reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="WAFA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Environment = Field(
        default=Environment.development,
        description="development, test or production; production refuses placeholder secrets.",
    )
    database_url: str = Field(
        default="sqlite:///./wafa.db",
        description="SQLAlchemy URL: sqlite:///PATH or postgresql+psycopg://user@host/db.",
    )
    secret_key: str | None = Field(
        default=None,
        description=(
            "Signs sessions, CSRF tokens and customer links. When unset, the key in "
            "secret_key_file is used (made on first use, mode 0600; never in the database)."
        ),
    )
    secret_key_file: str | None = Field(
        default=None,
        description=(
            "File holding the secret key when WAFA_SECRET_KEY is unset. Default: beside the "
            "SQLite database (wafa.db -> wafa.db.secret), or ./wafa.secret with PostgreSQL."
        ),
    )
    data_keys: str | None = Field(
        default=None,
        description=(
            "Keys that seal stored signing secrets (Fernet keys, comma-separated, the newest "
            "first: it seals, every one opens). When unset, data_keys_file is used."
        ),
    )
    data_keys_file: str | None = Field(
        default=None,
        description=(
            "File of the sealing keys, one a line, newest first (made on first use, mode "
            "0600; never in the database). Default: the secret key file's name with .keys "
            "(wafa.db.keys beside SQLite, ./wafa.keys with PostgreSQL)."
        ),
    )
    business_name: str = Field(
        default="My Shop", description="Shown on the dashboard and messages."
    )
    currency: Annotated[str, Field(min_length=3, max_length=3)] = Field(
        default="USD", description="ISO 4217 code of the business's currency."
    )
    timezone: str = Field(
        default="UTC", description="IANA zone of the business; every calendar rule uses it."
    )
    locale: Locale = Field(default=Locale.en, description="Default language: en, ar or fa.")
    calendar: CalendarKind = Field(
        default=CalendarKind.gregorian,
        description="Business calendar for dates and calendar rules: gregorian or jalali.",
    )
    phone_region: Annotated[str, Field(min_length=2, max_length=2)] = Field(
        default="US",
        description="ISO 3166 region used to read phone numbers written without a country code.",
    )
    brand_colour: Annotated[str | None, Field(pattern=r"^#[0-9a-fA-F]{6}$")] = Field(
        default=None,
        description="The shop's colour on the dashboard, as #RRGGBB (unset: Wafa's own).",
    )
    session_max_age: int = Field(
        default=12 * 3600,
        gt=0,
        description="Seconds a staff login stays valid without use (each request extends it).",
    )
    session_lifetime: int = Field(
        default=7 * 24 * 3600,
        gt=0,
        description="Seconds after logging in that a staff login ends, however much it is used.",
    )
    cookie_secure: bool | None = Field(
        default=None,
        description=(
            "Send the login cookie over HTTPS only (the Secure flag). Unset: on in production, "
            "off otherwise (a shop's local network without TLS)."
        ),
    )
    sqlite_busy_timeout_ms: int = Field(
        default=10_000, description="How long a SQLite writer waits for the lock before failing."
    )

    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description=(
            "Base URL customers reach Wafa at (links in messages: unsubscribe, portal); "
            "https in production."
        ),
    )
    smtp_url: str | None = Field(
        default=None,
        description=(
            "Outgoing mail: smtp://[user:pass@]host:port (STARTTLS when offered) or "
            "smtps://[user:pass@]host:port (implicit TLS). Unset: email is off and emails are "
            "skipped with a reason."
        ),
    )
    mail_from: str = Field(
        default="shop@example.com",
        description="From address of transactional email (order news, replies).",
    )
    mail_from_marketing: str | None = Field(
        default=None,
        description="From address of marketing email (newsletters, offers); defaults to mail_from.",
    )
    mail_reply_to: str | None = Field(default=None, description="Reply-To of every email, if set.")
    dkim_key_file: str | None = Field(
        default=None,
        description="PEM file of the RSA or Ed25519 private key that signs outgoing email (DKIM).",
    )
    dkim_selector: str = Field(default="wafa", description="DKIM selector (the s= tag).")
    dkim_domain: str | None = Field(
        default=None, description="DKIM signing domain (d=); defaults to the From domain."
    )
    email_rate: float = Field(
        default=50.0, description="Most emails a second one worker hands to the SMTP server."
    )
    sms_url: str | None = Field(
        default=None,
        description=(
            "SMS provider: twilio://SID:TOKEN@?from=+1..., kavenegar://APIKEY@?sender=..., or "
            "json+https://host/path?to_field=to&text_field=text (generic; form+https for forms)."
        ),
    )
    sms_rate: float = Field(default=10.0, description="Most SMS a second one worker sends.")
    whatsapp_url: str | None = Field(
        default=None,
        description="WhatsApp provider, in the form of sms_url (twilio:// or the generic adapter).",
    )
    whatsapp_rate: float = Field(default=10.0, description="Most WhatsApp messages a second.")
    send_connections: int = Field(
        default=4,
        ge=1,
        le=32,
        description=(
            "Connections one worker keeps per channel (SMTP sessions, provider clients); the "
            "rate limits are shared between them."
        ),
    )
    send_lapse_seconds: float = Field(
        default=120.0,
        gt=0,
        description=(
            "After how long without a heartbeat a sending worker counts as stopped: its "
            "messages marked as handed over are then settled as unknown (never re-sent), "
            "the others it had taken go back to the queue."
        ),
    )

    webhook_timeout: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description=(
            "Seconds an outbound webhook's receiver may take to answer; a delivery cut off "
            "by a stopped worker is sent again after twice this (at least once)."
        ),
    )

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        code = value.upper()
        if code not in list_currencies():
            raise ValueError(f"unknown ISO 4217 currency {value!r}")
        return code

    @field_validator("phone_region")
    @classmethod
    def _upper_region(cls, value: str) -> str:
        return value.upper()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _no_placeholder_secret_in_production(self) -> Settings:
        if (
            self.environment is Environment.production
            and self.secret_key is not None
            and (
                self.secret_key.strip().lower() in PLACEHOLDER_SECRETS or len(self.secret_key) < 32
            )
        ):
            raise ValueError(
                "WAFA_SECRET_KEY is a placeholder or shorter than 32 characters; "
                "set a random value (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The business's timezone."""
        return ZoneInfo(self.timezone)

    @property
    def secret_key_path(self) -> Path:
        """Where the secret key file is (``secret_key_file``, else beside the database)."""
        if self.secret_key_file:
            return Path(self.secret_key_file)
        if self.is_sqlite:
            from sqlalchemy.engine import make_url

            database = make_url(self.database_url).database
            if database and database != ":memory:":
                path = Path(database)
                return path.with_name(path.name + ".secret")
        return Path("wafa.secret")

    @property
    def data_keys_path(self) -> Path:
        """Where the sealing keys are kept (``data_keys_file``, else beside the secret key)."""
        if self.data_keys_file:
            return Path(self.data_keys_file)
        secret = self.secret_key_path
        return secret.with_name(secret.name.removesuffix(".secret") + ".keys")

    @property
    def secure_cookies(self) -> bool:
        """Whether cookies carry the Secure flag (``cookie_secure``, else production)."""
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.environment is Environment.production

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite."""
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (read once)."""
    return Settings()
