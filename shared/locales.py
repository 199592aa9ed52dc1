"""The languages twostep speaks: what the API accepts and the emails are written in."""

from __future__ import annotations

SUPPORTED_LOCALES = ("en", "fr", "es")
DEFAULT_LOCALE = "en"
