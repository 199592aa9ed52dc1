"""Render a kind of email in a locale from the Jinja templates under ``templates/email``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2

from shared.locales import DEFAULT_LOCALE, SUPPORTED_LOCALES
from shared.settings import DEFAULT_PRODUCT_NAME
from shared.useragent import local_browser

KINDS = (
    "code",
    "two_step_enabled",
    "two_step_disabled",
    "trusted_browser_added",
    "totp_enabled",
    "totp_disabled",
    "recovery_codes_generated",
    "recovery_code_used",
    "two_step_reset",
    "account_locked",
    "webauthn_added",
    "webauthn_removed",
    "login_reported",
)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _as_utc(value: datetime | str) -> datetime:
    """Accept an aware datetime or an RFC 3339 string (job details carry strings)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        raise ValueError("refusing to format a naive datetime: its zone is unknown")
    return moment.astimezone(UTC)


# Month names and the order of a date, per language: a table of ours, so the output never
# depends on the process locale or on a locale package.
_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre"),
}  # fmt: skip
_DATE_TIME = {
    "en": "{day} {month} {year}, {time}",
    "fr": "{day} {month} {year} à {time}",
    "es": "{day} de {month} de {year}, {time}",
}


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_datetime(value: datetime | str, locale: str, time_zone: str | None) -> str:
    """``4 December 2026, 17:45 (Europe/Paris)`` in the account's zone and language, or
    ``4 December 2026, 16:45 UTC`` when it has no zone (or one the tz database lost: a
    security email must still go)."""
    moment = _as_utc(value)
    zone = _zone(time_zone) if time_zone else None
    if zone is not None:
        moment = moment.astimezone(zone)
        where = f"({time_zone})"
    else:
        where = "UTC"
    if locale not in _MONTHS:
        locale = DEFAULT_LOCALE
    day = "1er" if locale == "fr" and moment.day == 1 else str(moment.day)
    when = _DATE_TIME[locale].format(
        day=day, month=_MONTHS[locale][moment.month - 1], year=moment.year, time=f"{moment:%H:%M}"
    )
    return f"{when} {where}"


@jinja2.pass_context
def _local_datetime(context: jinja2.runtime.Context, value: datetime | str) -> str:
    return local_datetime(value, context.get("locale", DEFAULT_LOCALE), context.get("time_zone"))


@jinja2.pass_context
def _local_browser(context: jinja2.runtime.Context, label: str | None) -> str | None:
    return local_browser(label, context.get("locale", DEFAULT_LOCALE))


def utc_time(value: datetime | str) -> str:
    """``22:15 UTC``: built by hand so the output never depends on the process locale."""
    return f"{_as_utc(value):%H:%M} UTC"


def utc_datetime(value: datetime | str) -> str:
    """``2025-11-27 22:15 UTC``: ISO order reads the same in every language."""
    return f"{_as_utc(value):%Y-%m-%d %H:%M} UTC"


class Renderer:
    """Compiles each template once (Jinja's cache) and renders the three parts of a mail."""

    SUPPORTED_LOCALES = SUPPORTED_LOCALES
    KINDS = KINDS

    def __init__(self, templates_dir: Path, product_name: str = DEFAULT_PRODUCT_NAME) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            undefined=jinja2.StrictUndefined,
            # Only the HTML part is markup; escaping the text parts would show "&lt;" to readers.
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html",),
                disabled_extensions=("txt",),
                default_for_string=False,
                default=False,
            ),
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self._env.filters["utc_time"] = utc_time
        self._env.filters["utc_datetime"] = utc_datetime
        # The account's zone and language come with each email's context.
        self._env.filters["local_datetime"] = _local_datetime
        self._env.filters["local_browser"] = _local_browser
        self._env.globals["product_name"] = product_name

    def render(self, kind: str, locale: str, context: Mapping[str, object]) -> RenderedEmail:
        if kind not in KINDS:
            raise ValueError(f"unknown email kind {kind!r}")
        if locale not in SUPPORTED_LOCALES:
            locale = DEFAULT_LOCALE
        base = f"{locale}/{kind}"
        context = {"time_zone": None, "report_url": None, **context, "locale": locale}
        subject = self._env.get_template(f"{base}.subject.txt").render(context).strip()
        if "\n" in subject or "\r" in subject:
            raise ValueError(f"the subject template {base}.subject.txt renders several lines")
        text = self._env.get_template(f"{base}.txt").render(context)
        html = self._env.get_template(f"{base}.html").render(context)
        return RenderedEmail(subject=subject, text=text + "\n", html=html + "\n")
