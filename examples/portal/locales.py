"""Which language a page is in, and the catalogue lookups the templates call."""

from __future__ import annotations

from markupsafe import Markup, escape

from examples.portal.catalogue import CATALOGUE

SUPPORTED = ("en", "fr", "es")
DEFAULT = "en"
NAMES = {"en": "English", "fr": "Français", "es": "Español"}


def supported(value: str | None) -> str | None:
    """``fr``, ``fr-CA`` and ``FR`` mean French; anything else is ``None``."""
    if not value:
        return None
    primary = value.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in SUPPORTED else None


def negotiate(accept_language: str | None) -> str | None:
    """The best supported language of an ``Accept-Language`` header, or ``None``."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")[:32]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        language = supported(tag)
        if language and quality > 0:
            # Sort on quality, then on the order the browser listed them in.
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else None


class Translator:
    """The catalogue of one language; HTML-safe, so a placeholder may be markup."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in SUPPORTED else DEFAULT
        self._strings = CATALOGUE[self.lang]

    def __call__(self, key: str, /, **params: object) -> Markup:
        # escape() gives Markup, whose format() escapes every parameter that is not Markup.
        return escape(self._strings.get(key) or CATALOGUE[DEFAULT][key]).format(**params)

    def plural(self, key: str, n: int, /, **params: object) -> Markup:
        # French counts 0 as singular; English and Spanish do not.
        one = n <= 1 if self.lang == "fr" else n == 1
        return self(f"{key}_one" if one else key, n=n, **params)
