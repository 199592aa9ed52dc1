"""The portal's settings, read from ``PORTAL_*`` variables, and its users."""

from __future__ import annotations

import sys
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from examples.portal.passwords import check_hash_format

# "correct horse battery staple" (the documented demo password), hashed with
# ``python -m examples.portal.passwords``: a hash, not a secret.
DEMO_PASSWORD_HASH = (
    "scrypt$16384$8$1$8Bs0Af3/LJV8yuc79zYcdA==$huhM4ClgEGxHgvba4fzD3kvesKhEp3blJZvWW/VkYm8="  # noqa: S105
)


class User(BaseModel):
    """A portal user; ``account_id`` is the id the portal gives twostep for them."""

    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)]
    password_hash: str
    locale: Literal["en", "fr", "es"] = "en"
    account_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:@-]{1,128}$")]
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

    @field_validator("password_hash")
    @classmethod
    def _known_format(cls, value: str) -> str:
        return check_hash_format(value)


DEMO_USERS = [
    User(
        email="ada@example.com",
        password_hash=DEMO_PASSWORD_HASH,
        locale="en",
        account_id="demo-ada",
        name="Ada Lovelace",
    )
]


class PortalSettings(BaseSettings):
    """Everything the portal reads from its environment, once, in ``create_app``."""

    model_config = SettingsConfigDict(env_prefix="PORTAL_", frozen=True)

    twostep_url: Annotated[str, StringConstraints(pattern=r"^https?://")] = "http://127.0.0.1:8080"
    twostep_api_key: SecretStr
    session_secret: SecretStr
    # The portal's own database (sessions, throttle, languages): not one of twostep's.
    redis_url: Annotated[str, StringConstraints(pattern=r"^rediss?://")] = (
        "redis://127.0.0.1:6379/2"
    )
    users: list[User] = Field(default_factory=lambda: list(DEMO_USERS))
    # None means "auto": cookies are Secure when the request came over HTTPS.
    secure_cookies: bool | None = None
    twostep_timeout_seconds: float = Field(default=5.0, gt=0)
    session_max_age_seconds: int = Field(default=12 * 3600, gt=0)
    # The password step's throttle (throttle.py): attempts free of any wait per email typed
    # and per client IP, and the longest wait the doubling reaches.
    throttle_free_per_account: int = Field(default=5, ge=1, le=1000)
    throttle_free_per_ip: int = Field(default=20, ge=1, le=100_000)
    throttle_longest_wait_seconds: int = Field(default=15 * 60, ge=1, le=24 * 3600)
    # The two-step page says the code email is slow when twostep expects it to take at least
    # this long (a login's expected_delivery_seconds).
    slow_email_seconds: int = Field(default=30, ge=0, le=24 * 3600)

    @field_validator("session_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return value

    @field_validator("secure_cookies", mode="before")
    @classmethod
    def _auto(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("", "auto"):
            return None
        return value

    @field_validator("users")
    @classmethod
    def _unique(cls, value: list[User]) -> list[User]:
        emails = [user.email for user in value]
        ids = [user.account_id for user in value]
        if len(set(emails)) != len(emails) or len(set(ids)) != len(ids):
            raise ValueError("emails and account ids must be unique")
        return value

    def user_by_email(self, email: str) -> User | None:
        wanted = email.strip().lower()
        return next((user for user in self.users if user.email == wanted), None)

    def user_by_account(self, account_id: str) -> User | None:
        return next((user for user in self.users if user.account_id == account_id), None)


def load_settings() -> PortalSettings:
    """Settings from the environment; exits with a readable message when they are wrong."""
    try:
        return PortalSettings()
    except ValidationError as exc:
        problems = "; ".join(
            f"PORTAL_{'_'.join(str(part) for part in error['loc'][:1]).upper()}: {error['msg']}"
            for error in exc.errors(include_input=False)
        )
        print(f"portal: bad settings: {problems}", file=sys.stderr)
        raise SystemExit(2) from None
