"""Each language's emails speak with the portal's voice: French "vérification en deux étapes",
Spanish "usted"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "email"

# Wording the French emails used before they took the portal's (examples/portal/catalogue.py).
FRENCH_OFF_VOICE = (
    re.compile(r"(?i)\bvalidation en deux étapes\b"),
    re.compile(r"(?i)\bcodes? de secours\b"),  # the emails call them "codes de récupération"
)
# Forms of "tú" the Spanish emails held before they addressed the reader as "usted".
SPANISH_OFF_VOICE = (
    re.compile(r"(?i)\btú\b"),
    re.compile(r"(?i)\btus?\b"),
    re.compile(r"(?i)\bte\b"),
    re.compile(r"(?i)\bquedarte\b"),
    re.compile(r"\b(?:Introduce|Introdúcelo|Cámbiala|Cambia|Genera|Guarda|Ponte|compartas)\b"),
    re.compile(r"\b(?:puedes|tienes|has sido|fuiste|espera|vuelve|pide|abre|ve a|quítalo)\b"),
    re.compile(r"\b(?:habías|pediste|tuya)\b"),
)


def templates_of(locale: str) -> list[Path]:
    paths = sorted((TEMPLATES_DIR / locale).iterdir())
    assert paths, f"no templates for {locale}"
    return paths


def off_voice(path: Path, patterns: tuple[re.Pattern[str], ...]) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [match.group(0) for pattern in patterns for match in pattern.finditer(text)]


@pytest.mark.parametrize("path", templates_of("fr"), ids=lambda path: path.name)
def test_french_emails_say_verification_en_deux_etapes(path: Path) -> None:
    assert off_voice(path, FRENCH_OFF_VOICE) == []


@pytest.mark.parametrize("path", templates_of("es"), ids=lambda path: path.name)
def test_spanish_emails_address_the_reader_as_usted(path: Path) -> None:
    assert off_voice(path, SPANISH_OFF_VOICE) == []


def test_the_markers_catch_the_informal_voice() -> None:
    # A marker that can no longer match anything would make the test above pass for nothing.
    informal = "Si has sido tú, no tienes que hacer nada. Cambia tu contraseña."
    formal = "Si ha sido usted, no tiene que hacer nada. Cambie su contraseña."
    assert [p.pattern for p in SPANISH_OFF_VOICE if p.search(informal)]
    assert not [p.pattern for p in SPANISH_OFF_VOICE if p.search(formal)]
