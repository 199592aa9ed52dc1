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

    def run(
        self, script: str, args: list[str], expected: frozenset[int], path: str = ""
    ) -> wrk.Load:
        """``bench/lua/<script>.lua`` under wrk, at this load, against the API (or ``path``)."""
        return wrk.run(
            self.url + path,
            script,
            args,
            threads=self.threads,
            connections=self.connections,
            seconds=self.seconds,
            expected=expected,
        )


def baseline(options: LoadOptions, path: str) -> wrk.Load:
    return options.run("get", [], frozenset({200}), path)


def logins(options: LoadOptions, accounts: int, prefix: str) -> wrk.Load:
    """``POST /v1/logins`` cycling over ``accounts`` accounts."""
    return options.run("login", [API_KEY, str(accounts), prefix], LOGIN_OK)


def app_verifies(options: LoadOptions, ids_file: Path) -> wrk.Load:
    """``POST /v1/challenges/{id}/verify`` with a wrong app code (bench/apps.py): the code is
    checked against the window's three steps, then counted (400)."""
    wrong_app_code = '{"code": "000000", "method": "totp"}'
    return options.run("verify", [API_KEY, str(ids_file), wrong_app_code], VERIFY_OK)


def key_verifies(options: LoadOptions, answers_file: Path) -> wrk.Load:
    """``POST /v1/challenges/{id}/verify`` with a security key's answer (bench/keys.py): a
    whole check, then refused by the key's counter (400), so the challenge survives."""
    return options.run("verify_key", [API_KEY, str(answers_file)], VERIFY_OK)


def verifies(options: LoadOptions, ids_file: Path) -> wrk.Load:
    """``POST /v1/challenges/{id}/verify`` with a wrong code, over the challenges in the file."""
    return options.run("verify", [API_KEY, str(ids_file)], VERIFY_OK)
