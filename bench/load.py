"""The HTTP stages under wrk: the two baselines, logins and verifies, at full speed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench import wrk
from bench.stack import API_KEY

LOGIN_OK = frozenset({201})
# The verifies send a wrong code: one EVALSHA, as a right one, and the challenge survives.
VERIFY_OK = frozenset({400})


@dataclass(frozen=True, slots=True)
class LoadOptions:
    url: str
    threads: int
    connections: int
    seconds: float


def baseline(options: LoadOptions, path: str) -> wrk.Load:
    return wrk.run(
        options.url + path,
        "get",
        [],
        threads=options.threads,
        connections=options.connections,
        seconds=options.seconds,
    )


def logins(options: LoadOptions, accounts: int, prefix: str) -> wrk.Load:
    """``POST /v1/logins`` cycling over ``accounts`` accounts."""
    return wrk.run(
        options.url,
        "login",
        [API_KEY, str(accounts), prefix],
        threads=options.threads,
        connections=options.connections,
        seconds=options.seconds,
        expected=LOGIN_OK,
    )


def app_verifies(options: LoadOptions, ids_file: Path) -> wrk.Load:
    """``POST /v1/challenges/{id}/verify`` with a wrong app code (bench/apps.py): the code is
    checked against the window's three steps, then counted (400)."""
    return wrk.run(
        options.url,
        "verify",
        [API_KEY, str(ids_file), '{"code": "000000", "method": "totp"}'],
        threads=options.threads,
        connections=options.connections,
        seconds=options.seconds,
        expected=VERIFY_OK,
    )


def key_verifies(options: LoadOptions, answers_file: Path) -> wrk.Load:
    """``POST /v1/challenges/{id}/verify`` with a security key's answer (bench/keys.py): a
    whole check, then refused by the key's counter (400), so the challenge survives."""
    return wrk.run(
        options.url,
        "verify_key",
        [API_KEY, str(answers_file)],
        threads=options.threads,
        connections=options.connections,
        seconds=options.seconds,
        expected=VERIFY_OK,
    )


def verifies(options: LoadOptions, ids_file: Path) -> wrk.Load:
    """``POST /v1/challenges/{id}/verify`` with a wrong code, over the challenges in the file."""
    return wrk.run(
        options.url,
        "verify",
        [API_KEY, str(ids_file)],
        threads=options.threads,
        connections=options.connections,
        seconds=options.seconds,
        expected=VERIFY_OK,
    )
