"""The languages twostep speaks: what the API accepts and the emails are written in."""

from __future__ import annotations

SUPPORTED_LOCALES = ("en", "fr", "es")
DEFAULT_LOCALE = "en"


def supported_locale(tag: str) -> str | None:
    """The language a tag names, when twostep speaks it: ``fr``, ``fr-CA``, ``fr_CA`` and
    ``FR`` are French; None for a language it does not speak."""
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in SUPPORTED_LOCALES else None
