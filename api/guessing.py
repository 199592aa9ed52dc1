"""What guessing can win: the weight of a wrong code, and the chance bound it gives per day.

An attacker who knows the password guesses in rounds. A round ends when the account's
failures in a row reach ``account_lock_threshold``; each wrong code adds its method's
weight to that count before the account locks, for ``account_lock_seconds``, doubling on
each further lock up to ``account_lock_max_seconds``. Opening challenges does not limit a
guesser (an app-code challenge sends no email), so a day holds as many rounds as the locks
leave room for, and a round at most ``threshold - 1`` units of weight plus the guess that
locks. A wrong app code is checked against every step of the window (now and one either
side), so it counts one failure per step: per unit of weight, every way in then wins at
most one six-digit code's chance, and mixing them does not pay.

The bounds are union bounds (the sum of each guess's chance), with guessing that takes no
time, from a fresh account (the back-off is forgotten only after a day without failures,
so no 24 hours hold more than one fresh start) and no sign-in by the owner in between.
"""

from __future__ import annotations

from dataclasses import dataclass

from api import totp
from shared import codes
from shared.settings import Settings

DAY_SECONDS = 86400
# The promise: at most 1 in 10,000 per account per day, for each way in and all together.
LIMIT_PER_DAY = 1e-4
# Codes of the current step and totp.WINDOW_STEPS either side are accepted.
TOTP_STEPS_CHECKED = 2 * totp.WINDOW_STEPS + 1


@dataclass(frozen=True, slots=True)
class Method:
    """One way through the second step, as a guesser sees it."""

    name: str
    chance_per_guess: float  # codes a guess is checked against, over the codes possible
    failure_weight: int  # failures a wrong guess adds toward the account lock


METHODS = {
    "email": Method("email", 1 / 10**codes.CODE_DIGITS, 1),
    "totp": Method("totp", TOTP_STEPS_CHECKED / 10**totp.DIGITS, TOTP_STEPS_CHECKED),
    "recovery_code": Method(
        "recovery_code",
        codes.RECOVERY_CODES_PER_SET / len(codes.RECOVERY_ALPHABET) ** codes.RECOVERY_LENGTH,
        1,
    ),
    # A key's answer is a signature over a fresh challenge: a guess is a forgery, about one
    # chance in 2^128 against the weakest key accepted (ES256: a P-256 curve).
    "webauthn": Method("webauthn", 2.0**-128, 1),
}


def failure_weight(method: str) -> int:
    """Failures a wrong code of ``method`` counts toward the account lock."""
    return METHODS[method].failure_weight


def rounds_per_day(settings: Settings) -> int:
    """Rounds of guessing (each ended by an account lock) that start within 24 hours."""
    rounds, start = 0, 0
    while start <= DAY_SECONDS:
        rounds += 1
        lock = settings.account_lock_seconds * 2 ** (rounds - 1)
        start += min(lock, settings.account_lock_max_seconds)
    return rounds


def chance_per_round(settings: Settings, methods: list[Method]) -> float:
    """Every guess of a round but the last starts below the threshold, so together they
    weigh at most ``threshold - 1``; the last is any single guess."""
    per_unit = max(method.chance_per_guess / method.failure_weight for method in methods)
    last = max(method.chance_per_guess for method in methods)
    return (settings.account_lock_threshold - 1) * per_unit + last


def chance_per_day(settings: Settings, names: tuple[str, ...] = tuple(METHODS)) -> float:
    """The bound on an attacker's chance per account per day, using the methods ``names``
    (all of them, mixed as the attacker likes, by default)."""
    methods = [METHODS[name] for name in names]
    return rounds_per_day(settings) * chance_per_round(settings, methods)


def chance_per_challenge(settings: Settings, name: str) -> float:
    """The chance of one challenge, guessed with ``name`` until it locks."""
    return settings.max_attempts * METHODS[name].chance_per_guess
