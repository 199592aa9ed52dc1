"""Render a kind of email in a locale from the Jinja templates under ``templates/email``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jinja2

SUPPORTED_LOCALES = ("en", "fr", "es")
DEFAULT_LOCALE = "en"
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

    def __init__(self, templates_dir: Path) -> None:
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

    def render(self, kind: str, locale: str, context: Mapping[str, object]) -> RenderedEmail:
        if kind not in KINDS:
            raise ValueError(f"unknown email kind {kind!r}")
        if locale not in SUPPORTED_LOCALES:
            locale = DEFAULT_LOCALE
        base = f"{locale}/{kind}"
        subject = self._env.get_template(f"{base}.subject.txt").render(context).strip()
        if "\n" in subject or "\r" in subject:
            raise ValueError(f"the subject template {base}.subject.txt renders several lines")
        text = self._env.get_template(f"{base}.txt").render(context)
        html = self._env.get_template(f"{base}.html").render(context)
        return RenderedEmail(subject=subject, text=text + "\n", html=html + "\n")
