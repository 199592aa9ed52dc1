"""The second step of a login: starting it, its challenge, resends, verifying, reporting a
login that was not the user's, and the trusted browsers it leaves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twostep_client.models import (
    Challenge,
    ClientInfo,
    NotRequired,
    Pending,
    Reported,
    TrustedBrowsers,
    Verified,
)
from twostep_client.operation import NOTHING, Request, body, either, model, operation


class LoginOperations:
    @operation("POST", "/v1/logins", either((201, Pending), (200, NotRequired)))
    def start_login(
        account_id: str,
        *,
        trusted_browser_token: str | None = None,
        method: str | None = None,
        client: ClientInfo | None = None,
        request_id: str | None = None,
    ) -> Request:
        """After the password: ``NotRequired`` (two-step off, or a trusted browser), or
        ``Pending`` with a challenge (an email code sent when its method is "email").

        ``method`` ("email", "totp", "webauthn") left out is the account's preferred one.
        Never sent twice by the client: a second login would open a second challenge.
        """
        return Request(
            json=body(
                client,
                account_id=account_id,
                trusted_browser_token=trusted_browser_token,
                method=method,
            ),
            request_id=request_id,
        )

    @operation("GET", "/v1/challenges/{challenge_id}", model(Challenge))
    def get_challenge(challenge_id: str, *, request_id: str | None = None) -> Request:
        """The challenge's state: attempts left, sends, delivery of its email."""
        return Request(path={"challenge_id": challenge_id}, request_id=request_id)

    @operation("POST", "/v1/challenges/{challenge_id}/resend", model(Pending))
    def resend(
        challenge_id: str, *, client: ClientInfo | None = None, request_id: str | None = None
    ) -> Request:
        """Email a new code (the previous one stops working at once); on a challenge opened
        for the app, email its first code. ``ResendTooSoon``, ``SendLimit``,
        ``TooManyAttempts``, ``AccountLocked``, ``MailDelayed``."""
        return Request(
            path={"challenge_id": challenge_id}, json=body(client), request_id=request_id
        )

    @operation("POST", "/v1/challenges/{challenge_id}/verify", model(Verified))
    def verify(
        challenge_id: str,
        code: str,
        *,
        method: str = "email",
        remember_browser: bool = False,
        client: ClientInfo | None = None,
        request_id: str | None = None,
    ) -> Request:
        """Check a code typed by the user; the right one consumes the challenge.

        ``method``: "email", "totp" or "recovery_code". With ``remember_browser`` the answer
        holds a trusted-browser token to keep in a cookie. ``InvalidCode`` (with
        ``attempts_left``), ``CodeAlreadyUsed``, ``TooManyAttempts``, ``AccountLocked``,
        ``ChallengeNotFound``, ``MethodNotAvailable``, ``ValidationError`` (a code of the
        wrong shape: not counted).
        """
        return Request(
            path={"challenge_id": challenge_id},
            json=body(client, code=code, method=method, remember_browser=remember_browser),
            request_id=request_id,
        )

    @operation("POST", "/v1/challenges/{challenge_id}/verify", model(Verified))
    def verify_security_key(
        challenge_id: str,
        credential: Mapping[str, Any],
        *,
        remember_browser: bool = False,
        client: ClientInfo | None = None,
        request_id: str | None = None,
    ) -> Request:
        """Check a security key's or passkey's answer: ``credential`` is the browser's
        ``navigator.credentials.get()`` result, ``toJSON()``-ed, for the options in
        ``Pending.webauthn``. ``InvalidAssertion`` (with ``attempts_left``) when refused."""
        return Request(
            path={"challenge_id": challenge_id},
            json=body(
                client,
                method="webauthn",
                credential=dict(credential),
                remember_browser=remember_browser,
            ),
            request_id=request_id,
        )

    @operation("POST", "/v1/challenges/{challenge_id}/report", model(Reported))
    def report(
        challenge_id: str,
        token: str,
        *,
        client: ClientInfo | None = None,
        request_id: str | None = None,
    ) -> Request:
        """Report a login as not the user's ("this wasn't me"), with the token of the link
        in a code email or notice. Ends the challenge (and, when the service is set to, the
        account's trusted browsers). ``ReportNotFound``, ``ReportUsed``."""
        return Request(
            path={"challenge_id": challenge_id},
            json=body(client, token=token),
            request_id=request_id,
        )

    @operation(
        "GET",
        "/v1/accounts/{account_id}/trusted-browsers",
        model(TrustedBrowsers).then(lambda page: page.items),
    )
    def list_trusted_browsers(account_id: str, *, request_id: str | None = None) -> Request:
        """The account's trusted browsers ("don't ask again on this browser")."""
        return Request(path={"account_id": account_id}, request_id=request_id)

    @operation("DELETE", "/v1/accounts/{account_id}/trusted-browsers/{browser_id}", NOTHING)
    def revoke_trusted_browser(
        account_id: str, browser_id: str, *, request_id: str | None = None
    ) -> Request:
        """Forget one trusted browser; ``BrowserNotFound`` when the account has no such one."""
        return Request(
            path={"account_id": account_id, "browser_id": browser_id}, request_id=request_id
        )

    @operation("DELETE", "/v1/accounts/{account_id}/trusted-browsers", NOTHING)
    def revoke_all_trusted_browsers(account_id: str, *, request_id: str | None = None) -> Request:
        """Forget every trusted browser of the account."""
        return Request(path={"account_id": account_id}, request_id=request_id)
