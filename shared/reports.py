"""The "This wasn't me" links of code emails and new-browser notices: token, lifetime, address.

A link's token is its challenge's id, a dot, and 256 random bits. Only its digest is kept
(``AccountKeys.reports``), filed by the worker that mails it; the challenge id in front
finds the account's keys (one Cluster slot) and binds the token to its challenge.
"""

from __future__ import annotations

import re
import secrets

from shared.codes import token_digest
from shared.keys import CHALLENGE_ID_PATTERN

# How long a link works after its email was sent: a person may read it the next day, long
# after the challenge itself (15 minutes) is gone.
REPORT_LIFETIME_SECONDS = 86400

# The token as it appears in a link: what a route accepts before looking anything up.
TOKEN_PATTERN = CHALLENGE_ID_PATTERN[:-1] + r"\.[A-Za-z0-9_-]{43}$"
_TOKEN = re.compile(TOKEN_PATTERN)


# A token's secret part, wherever it shows in a path: the page's address holds it.
_SECRET_IN_PATH = re.compile(r"(/report/[^/?#.]*)\.[^/?#]*")


def new_token(challenge_id: str) -> str:
    return f"{challenge_id}.{secrets.token_urlsafe(32)}"


def challenge_of(token: str) -> str | None:
    """The challenge a token was made for, or None when it is not a token at all."""
    if not _TOKEN.fullmatch(token):
        return None
    return token.partition(".")[0]


def digest(token: str) -> str:
    return token_digest(token)


def redact_path(path: str) -> str:
    """A request path as logged: a report link's secret replaced by ``***`` (its challenge
    id, which finds the account's events, stays)."""
    return _SECRET_IN_PATH.sub(r"\1.***", path)


def link(url_template: str, token: str) -> str:
    """The link in an email: ``TWOSTEP_REPORT_URL`` with its ``{token}`` filled in."""
    return url_template.replace("{token}", token)
