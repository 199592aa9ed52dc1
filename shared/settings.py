"""The one ``Settings`` class, read from ``TWOSTEP_*`` environment variables at the entry points."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import formataddr
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.errors import ConfigError

DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates" / "email"
DEFAULT_PRODUCT_NAME = "twostep"
MAIL_FROM_ADDRESS = "no-reply@localhost"


class SmtpSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


class RedisMode(StrEnum):
    STANDALONE = "standalone"
    CLUSTER = "cluster"
    SENTINEL = "sentinel"


@dataclass(frozen=True, slots=True)
class SentinelUrl:
    """``sentinel://[[user]:password@]host:port[/db][;sentinel://host:port...]``, as kombu's
    Redis transport reads a broker URL: the database and the master's credentials come
    from the first URL."""

    sentinels: tuple[tuple[str, int], ...]
    db: int
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SentinelUrl:
        parts = [urlsplit(part.strip()) for part in url.split(";") if part.strip()]
        if not parts or any(part.scheme != "sentinel" for part in parts):
            raise ValueError("a Sentinel URL is sentinel://host:port[/db][;sentinel://...]")
        sentinels = []
        for part in parts:
            if not part.hostname or part.port is None:
                raise ValueError(f"each Sentinel needs a host and a port: {part.netloc!r}")
            sentinels.append((part.hostname, part.port))
        path = parts[0].path.strip("/") or "0"
        if not path.isdigit():
            raise ValueError(f"the database is a number: {path!r}")
        first = parts[0]
        return cls(tuple(sentinels), int(path), first.username or None, first.password)


def is_sentinel_url(url: str) -> bool:
    return url.strip().startswith("sentinel://")


class UserVerification(StrEnum):
    """Whether a security key must check its user (PIN, fingerprint) as well as their touch."""

    PREFERRED = "preferred"
    REQUIRED = "required"
    DISCOURAGED = "discouraged"


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


# The keys docker-compose.yml falls back to. They are public (anyone can read that file), so a
# service holding one is open to anyone: refused unless TWOSTEP_ALLOW_SAMPLE_KEYS says this is
# a developer's machine, as the compose file does.
SAMPLE_KEYS = frozenset({"dev-only-secret-key-do-not-use-in-production", "dev-api-key-0123456789"})


class Settings(BaseSettings):
    """Every knob of twostep. Field ``x`` is read from ``TWOSTEP_X``."""

    model_config = SettingsConfigDict(env_prefix="TWOSTEP_", extra="ignore", frozen=True)

    secret_key: SecretStr = Field(min_length=32)
    api_keys: Annotated[tuple[str, ...], NoDecode] = Field(min_length=1)
    previous_secret_keys: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    allow_sample_keys: bool = False
    # The portal's name, as its users know it: in every email, the sender's display name and
    # the authenticator app's entry (unless TWOSTEP_MAIL_FROM or TWOSTEP_ISSUER say otherwise).
    # No colon (it ends the issuer in an otpauth label), nor what a From header would quote.
    product_name: str = Field(
        default=DEFAULT_PRODUCT_NAME,
        min_length=1,
        max_length=64,
        pattern=r'^[^:<>"\\\x00-\x1f\x7f\x85\u2028\u2029]+$',
    )
    issuer: str = Field(
        default=DEFAULT_PRODUCT_NAME, min_length=1, max_length=64, pattern=r"^[^:\x00-\x1f]+$"
    )

    redis_url: str = "redis://127.0.0.1:6379/0"
    broker_url: str = "redis://127.0.0.1:6379/1"
    redis_timeout_seconds: float = Field(default=0.5, gt=0, le=30)
    # Topology of the state store, and acknowledgement of writes by replicas.
    redis_mode: RedisMode = RedisMode.STANDALONE
    redis_sentinel_master: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    broker_sentinel_master: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    redis_min_replicas_ack: int = Field(default=0, ge=0, le=16)

    # At most the hour the send log keeps: it is how turning two-step off, the support reset
    # and deleting the account find an emailed challenge to end it.
    code_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    max_attempts: int = Field(default=5, ge=1, le=100)
    account_lock_threshold: int = Field(default=10, ge=1, le=1000)
    account_lock_seconds: int = Field(default=900, ge=1)
    account_lock_max_seconds: int = Field(default=86400, ge=1)
    resend_cooldown_seconds: int = Field(default=30, ge=0, le=3600)
    max_sends_per_challenge: int = Field(default=5, ge=1, le=100)
    max_emails_per_hour: int = Field(default=10, ge=1, le=10000)
    trusted_browser_ttl_days: int = Field(default=30, ge=1, le=3650)
    max_trusted_browsers: int = Field(default=10, ge=1, le=1000)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: SmtpSecurity = SmtpSecurity.NONE
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # A worker process sends on this many SMTP sessions at once, one per job thread (Celery's
    # threads pool, this many threads): a provider that takes 100 ms to accept a message
    # then gets up to ten times this many a second from one process.
    smtp_max_sessions: int = Field(default=32, ge=1, le=256)
    mail_from: str = "twostep <no-reply@localhost>"
    mail_rate_per_second: float = Field(default=50.0, gt=0)
    # A code email that would wait longer than this in the mail queue is not sent: the login
    # goes on with the app, a key or a recovery code, or is refused with 503 mail_delayed
    # (api/admission.py). 0 turns the check off.
    max_mail_delay_seconds: int = Field(default=120, ge=0, le=3600)

    broker_visibility_timeout_seconds: int = Field(default=300, ge=10)
    max_body_bytes: int = Field(default=65536, ge=1024)
    templates_dir: Path = DEFAULT_TEMPLATES_DIR
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.JSON
    worker_metrics_port: int = Field(default=9808, ge=0, le=65535)

    audit_max_events: int = Field(default=250, ge=10, le=100000)
    audit_retention_days: int = Field(default=90, ge=1, le=3650)
    webhook_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    webhook_secret: SecretStr | None = Field(default=None, min_length=32)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    # Security keys and passkeys (WebAuthn). The relying party is the portal's site: its
    # domain (keys are bound to it) and the origins its pages are served from. Unset, the
    # method is off: registrations answer 409 webauthn_not_configured.
    webauthn_rp_id: str | None = Field(
        default=None, pattern=r"^(localhost|([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})$"
    )
    webauthn_origins: Annotated[tuple[str, ...], NoDecode] = ()
    webauthn_rp_name: str = Field(default=DEFAULT_PRODUCT_NAME, min_length=1, max_length=64)
    webauthn_user_verification: UserVerification = UserVerification.PREFERRED

    # "This wasn't me": the address of the page each code email and new-browser notice links
    # to, "{token}" standing for the link's token. twostep serves one at /report/{token}
    # (https://twostep.example.com/report/{token}); a portal with its own page points it
    # there and calls POST /v1/challenges/{id}/report. Unset, emails carry no link.
    report_url: str | None = Field(
        default=None, pattern=r"^https?://[^\s{}]+(\{token\}[^\s{}]*)$", max_length=512
    )
    # A report also forgets the account's trusted browsers (off: the portal decides, on its
    # webhook, what to end).
    report_revokes_browsers: bool = False

    @model_validator(mode="before")
    @classmethod
    def _named_after_the_product(cls, data: object) -> object:
        """The issuer and the sender's name default to the product name; set, they win."""
        if not isinstance(data, dict):
            return data
        name = data.get("product_name", DEFAULT_PRODUCT_NAME)
        if not isinstance(name, str):
            return data
        name = name.strip()
        # A name the field refuses is reported there, once, not as a sender's problem.
        data = {**data, "product_name": name}
        data.setdefault("issuer", name)
        data.setdefault("webauthn_rp_name", name)
        if not any(ch in name for ch in "\r\n\0"):
            data.setdefault("mail_from", formataddr((name, MAIL_FROM_ADDRESS)))
        return data

    @field_validator("api_keys", "previous_secret_keys", "webauthn_origins", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(key.strip() for key in value.split(",") if key.strip())
        return value

    @field_validator("api_keys")
    @classmethod
    def _long_keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for key in value:
            if len(key) < 16:
                raise ValueError("each API key must be at least 16 characters long")
        return value

    @model_validator(mode="after")
    def _origins_of_the_relying_party(self) -> Settings:
        """Each origin is the RP id's own site or one under it (WebAuthn refuses any other),
        over https, or http on localhost only."""
        if self.webauthn_rp_id is None:
            if self.webauthn_origins:
                raise ValueError("TWOSTEP_WEBAUTHN_ORIGINS needs TWOSTEP_WEBAUTHN_RP_ID")
            return self
        if not self.webauthn_origins:
            raise ValueError(
                "TWOSTEP_WEBAUTHN_RP_ID needs TWOSTEP_WEBAUTHN_ORIGINS: the portal's origins,"
                " comma separated (e.g. https://portal.example.com)"
            )
        rp_id = self.webauthn_rp_id
        for origin in self.webauthn_origins:
            parts = urlsplit(origin)
            host = parts.hostname or ""
            secure = parts.scheme == "https" or (parts.scheme == "http" and host == "localhost")
            tidy = parts.path in ("", "/") and not (parts.query or parts.fragment)
            if not (secure and tidy and (host == rp_id or host.endswith("." + rp_id))):
                raise ValueError(
                    f"TWOSTEP_WEBAUTHN_ORIGINS: {origin!r} is not an origin of {rp_id!r}"
                    " (https://<the RP id or a name under it>[:port]; http on localhost only)"
                )
        return self

    @field_validator("mail_from")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(ch in value for ch in "\r\n\0"):
            raise ValueError("must be a single line")
        return value

    @model_validator(mode="after")
    def _no_sample_keys(self) -> Settings:
        secrets = {self.secret_key.get_secret_value(), *self.previous_secrets}
        candidates = (("TWOSTEP_SECRET_KEY", secrets), ("TWOSTEP_API_KEYS", set(self.api_keys)))
        holding = [name for name, keys in candidates if keys & SAMPLE_KEYS]
        if holding and not self.allow_sample_keys:
            raise ValueError(
                f"{' and '.join(holding)} {'hold' if len(holding) > 1 else 'holds'}"
                " docker-compose.yml's public sample key: set your"
                " own (or TWOSTEP_ALLOW_SAMPLE_KEYS=true, on a developer's machine only)"
            )
        return self

    @model_validator(mode="after")
    def _webhook_signed(self) -> Settings:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("TWOSTEP_WEBHOOK_SECRET (32+ characters) signs webhook deliveries")
        return self

    @model_validator(mode="after")
    def _redis_topology(self) -> Settings:
        state_sentinel = is_sentinel_url(self.redis_url)
        if self.redis_mode is RedisMode.SENTINEL:
            if not state_sentinel:
                raise ValueError(
                    "with TWOSTEP_REDIS_MODE=sentinel, TWOSTEP_REDIS_URL names the Sentinels:"
                    " sentinel://host:port[/db][;sentinel://host:port...]"
                )
            if self.redis_sentinel_master is None:
                raise ValueError(
                    "with TWOSTEP_REDIS_MODE=sentinel, TWOSTEP_REDIS_SENTINEL_MASTER names the"
                    " master the Sentinels monitor"
                )
        elif state_sentinel:
            raise ValueError("a sentinel:// TWOSTEP_REDIS_URL needs TWOSTEP_REDIS_MODE=sentinel")
        for url in (self.redis_url, self.broker_url):
            if is_sentinel_url(url):
                SentinelUrl.parse(url)
        if is_sentinel_url(self.broker_url) and self.broker_master is None:
            raise ValueError(
                "a sentinel:// TWOSTEP_BROKER_URL needs TWOSTEP_BROKER_SENTINEL_MASTER (or"
                " TWOSTEP_REDIS_SENTINEL_MASTER, when the broker is the same master)"
            )
        if self.redis_mode is RedisMode.CLUSTER:
            state = urlsplit(self.redis_url)
            if state.path.strip("/") not in ("", "0"):
                raise ValueError("Redis Cluster has only database 0: TWOSTEP_REDIS_URL ends /0")
            broker = urlsplit(self.broker_url)
            if (broker.hostname, broker.port) == (state.hostname, state.port):
                raise ValueError(
                    "the broker cannot run on Redis Cluster: TWOSTEP_BROKER_URL must name a"
                    " standalone or Sentinel-managed Redis, not a node of the cluster"
                )
            if self.redis_min_replicas_ack:
                raise ValueError(
                    "TWOSTEP_REDIS_MIN_REPLICAS_ACK works with standalone and Sentinel,"
                    " not with TWOSTEP_REDIS_MODE=cluster"
                )
        return self

    @property
    def broker_master(self) -> str | None:
        """The Sentinel master of a sentinel:// broker: its own, or the state's."""
        return self.broker_sentinel_master or self.redis_sentinel_master

    @property
    def replica_ack_timeout_ms(self) -> int:
        """How long a write waits for replicas: half the Redis timeout, so that the answer
        (enough replicas or not) comes before the client gives up on the socket."""
        return max(1, int(self.redis_timeout_seconds * 500))

    @property
    def previous_secrets(self) -> tuple[str, ...]:
        return tuple(secret.get_secret_value() for secret in self.previous_secret_keys)

    @property
    def trusted_browser_ttl_seconds(self) -> int:
        return self.trusted_browser_ttl_days * 86400


def load_settings() -> Settings:
    """Read the environment once; turn every problem into one readable ``ConfigError``."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            problems.append(f"  TWOSTEP_{field.upper()}: {error['msg']}")
        raise ConfigError(
            "twostep cannot start, its settings are incomplete:\n"
            + "\n".join(problems)
            + "\nTWOSTEP_SECRET_KEY (32+ characters, e.g. `python -c 'import secrets;"
            " print(secrets.token_urlsafe(48))'`) and TWOSTEP_API_KEYS (comma separated,"
            " 16+ characters each) are required. See README.md, Settings."
        ) from None
