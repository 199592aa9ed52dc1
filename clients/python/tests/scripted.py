"""A scripted service for ``httpx.MockTransport``: it records each request and answers with
the next response (or raises the next transport error) of its script."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

import httpx

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int, code: str, headers: dict[str, str] | None = None, **extra: Any
) -> httpx.Response:
    """A problem document as twostep writes it (api/problems.py)."""
    document = {
        "type": f"urn:twostep:problem:{code}",
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "code": code,
        "detail": f"Scripted {code}.",
        **extra,
    }
    return httpx.Response(
        status, json=document, headers={"content-type": PROBLEM_JSON, **(headers or {})}
    )


ACCOUNT = {
    "account_id": "u-42",
    "email": "ada@example.com",
    "locale": "en",
    "time_zone": None,
    "preferred_method": None,
    "two_step_enabled": True,
    "totp_enabled": False,
    "recovery_codes_remaining": 0,
    "trusted_browsers": 0,
}

PENDING = {
    "status": "pending",
    "challenge_id": "ch_abc",
    "method": "email",
    "methods": ["email"],
    "webauthn": None,
    "sent_to": "a**@example.com",
    "email_refused": None,
    "expires_at": "2026-11-27T20:15:00Z",
    "resend_available_at": "2026-11-27T20:00:30Z",
}


class Script:
    """Answers in order; the last answer repeats once the script runs out."""

    def __init__(self, answers: Iterable[httpx.Response | Exception]) -> None:
        self.answers = deque(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.popleft() if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    @property
    def methods_and_paths(self) -> list[tuple[str, str]]:
        return [(request.method, request.url.path) for request in self.requests]


CREDENTIAL = {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}

# One call of every operation, with arguments of the right shape: (args, kwargs).
CALLS: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "put_account": (("u-42", "ada@example.com"), {"locale": "fr"}),
    "get_account": (("u-42",), {}),
    "delete_account": (("u-42",), {}),
    "set_two_step": (("u-42", True), {}),
    "enrol_totp": (("u-42",), {}),
    "confirm_totp": (("u-42", "123456"), {}),
    "disable_totp": (("u-42",), {}),
    "new_recovery_codes": (("u-42",), {}),
    "start_login": (("u-42",), {}),
    "get_challenge": (("ch_abc",), {}),
    "resend": (("ch_abc",), {}),
    "verify": (("ch_abc", "123456"), {}),
    "verify_security_key": (("ch_abc", CREDENTIAL), {}),
    "report": (("ch_abc", "token"), {}),
    "list_trusted_browsers": (("u-42",), {}),
    "revoke_trusted_browser": (("u-42", "tb_abc"), {}),
    "revoke_all_trusted_browsers": (("u-42",), {}),
    "begin_key_registration": (("u-42",), {}),
    "finish_key_registration": (("u-42", "wr_abc", "YubiKey", CREDENTIAL), {}),
    "list_security_keys": (("u-42",), {}),
    "rename_security_key": (("u-42", "sk_abc", "Blue key"), {}),
    "remove_security_key": (("u-42", "sk_abc"), {}),
    "events": (("u-42",), {"limit": 2}),
    "unlock": (("u-42",), {}),
    "reset_two_step": (("u-42",), {}),
    "health": ((), {}),
    "readiness": ((), {}),
    "metrics": ((), {}),
}
