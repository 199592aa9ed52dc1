"""A browser's label, such as "Firefox on Linux": made from a User-Agent by the API, stored
with trusted browsers and carried in mail jobs, and split back into its browser and system
where it is shown in another language."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

# Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Edge", re.compile(r"\bEdg(e|A|iOS)?/")),
    ("Opera", re.compile(r"\b(OPR|Opera)/")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/")),
    ("Vivaldi", re.compile(r"\bVivaldi/")),
    ("Firefox", re.compile(r"\b(Firefox|FxiOS)/")),
    ("Chrome", re.compile(r"\b(Chrome|CriOS|Chromium|HeadlessChrome)/")),
    ("Safari", re.compile(r"\bVersion/[\d.]+.*\bSafari/")),
    ("curl", re.compile(r"^curl/")),
)
_SYSTEMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("iOS", re.compile(r"\b(iPhone|iPad|iPod)\b")),
    ("Android", re.compile(r"\bAndroid\b")),
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("Linux", re.compile(r"\bLinux\b|\bX11\b")),
)
BROWSER_NAMES = tuple(name for name, _ in _BROWSERS)
SYSTEM_NAMES = tuple(name for name, _ in _SYSTEMS)
UNKNOWN_BROWSER = "Unknown browser"


class LabelParts(NamedTuple):
    """Product names read from a User-Agent, never translated; None when not recognised."""

    browser: str | None
    system: str | None


def _label(browser: str | None, system: str | None) -> str:
    # The one place that spells a label; split_label reads back exactly what this writes.
    if browser and system:
        return f"{browser} on {system}"
    if browser:
        return browser
    if system:
        return f"Browser on {system}"
    return UNKNOWN_BROWSER


@lru_cache(maxsize=4096)
def browser_label(user_agent: str | None) -> str:
    # Cached: a portal's users send a few hundred distinct User-Agents, again and again.
    if not user_agent:
        return UNKNOWN_BROWSER
    browser = next((name for name, rx in _BROWSERS if rx.search(user_agent)), None)
    system = next((name for name, rx in _SYSTEMS if rx.search(user_agent)), None)
    return _label(browser, system)


# Every label browser_label can make, built by the same function, so the two cannot drift.
_PARTS_OF_LABEL: dict[str, LabelParts] = {
    _label(browser, system): LabelParts(browser, system)
    for browser in (*BROWSER_NAMES, None)
    for system in (*SYSTEM_NAMES, None)
}


def split_label(label: str) -> LabelParts | None:
    """The browser and system of a label browser_label made (``Safari on macOS`` gives
    ``("Safari", "macOS")``, ``Unknown browser`` gives ``(None, None)``), or None for any
    other text, which is then best shown as it is."""
    return _PARTS_OF_LABEL.get(label)


class _BrowserWords(NamedTuple):
    on_system: str  # a browser on a system, both product names
    a_browser: str  # stands for the browser when only the system is known
    unknown: str  # neither is known


# A browser's label in each language; product names ("Safari", "macOS") are not translated.
# English is not here: shared/useragent.py makes the label in English, so it shows as made.
_BROWSER_WORDS = {
    "fr": _BrowserWords("{browser} sur {system}", "Navigateur", "Navigateur inconnu"),
    "es": _BrowserWords("{browser} en {system}", "Navegador", "Navegador desconocido"),
}


def local_browser(label: str | None, locale: str) -> str | None:
    """``Safari sur macOS`` for the label ``Safari on macOS`` in French. A label
    shared/useragent.py did not make is shown as it is; None (no label) stays None."""
    words = _BROWSER_WORDS.get(locale)
    parts = split_label(label) if label is not None and words is not None else None
    if words is None or parts is None:
        return label
    browser, system = parts
    if system is None:
        return browser or words.unknown
    return words.on_system.format(browser=browser or words.a_browser, system=system)
