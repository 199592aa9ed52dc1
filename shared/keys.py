"""Every Redis key name twostep uses, built in one place.

All keys of one account share the hash tag ``{<account tag>}`` so that every Lua
script touches a single Redis Cluster slot. The tag is a 128-bit BLAKE2b digest
of the account id: whatever characters a portal puts in an id, they never reach
a key name, and no id can reach another account's keys. Challenge ids embed the
tag, so a challenge's keys are found from its id alone.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

PREFIX = "twostep"
ACCOUNT_ID_PATTERN = r"^[A-Za-z0-9._:@-]{1,128}$"
CHALLENGE_ID_PATTERN = r"^ch_[0-9a-f]{32}_[A-Za-z0-9_-]{22}$"
BROWSER_ID_PATTERN = r"^tb_[A-Za-z0-9_-]{16}$"
_CHALLENGE_ID = re.compile(CHALLENGE_ID_PATTERN)

# Shared by all workers: the global token bucket for outgoing mail.
MAIL_BUCKET = f"{PREFIX}:mail-bucket"
# When webhook delivery first ran: an account's history from before is not replayed.
WEBHOOKS_SINCE = f"{PREFIX}:webhooks-since"
# Never written: the key whose master every process asks for the time (shared/clock.py).
CLOCK = f"{PREFIX}:clock"


def account_tag(account_id: str) -> str:
    return hashlib.blake2b(account_id.encode("utf-8"), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class AccountKeys:
    """The keys of one account."""

    tag: str

    @classmethod
    def of(cls, account_id: str) -> AccountKeys:
        return cls(account_tag(account_id))

    @property
    def base(self) -> str:
        return f"{PREFIX}:{{{self.tag}}}"

    @property
    def profile(self) -> str:
        """HASH: account_id, email, locale, two_step, totp, created_at, updated_at."""
        return f"{self.base}:profile"

    @property
    def guard(self) -> str:
        """HASH: fails (in a row), locks (so far), locked_until."""
        return f"{self.base}:guard"

    @property
    def sends(self) -> str:
        """ZSET "<short challenge id>:<send number>" -> send time: the code emails of the
        rolling hour (the hourly cap), and the index of the challenges that sent them."""
        return f"{self.base}:sends"

    @property
    def challenges(self) -> str:
        """HASH short challenge id -> 1: challenges that mailed nothing yet (TOTP), so that
        deleting the account finds them; the others are found through ``sends``.

        Short ids keep this hash and ``sends`` in Redis's compact listpack encoding."""
        return f"{self.base}:challenges"

    @property
    def challenge_prefix(self) -> str:
        return f"{self.base}:ch:"

    @property
    def browsers(self) -> str:
        """HASH browser_id -> trusted-browser record (token digest, times, ip, label)."""
        return f"{self.base}:browsers"

    @property
    def browser_expiry(self) -> str:
        """ZSET browser_id -> expiry time; the lowest score is the oldest browser."""
        return f"{self.base}:browser-expiry"

    @property
    def totp(self) -> str:
        """HASH: sealed (active secret), last_step, pending (sealed), pending_attempts,
        pending_expires_at."""
        return f"{self.base}:totp"

    @property
    def recovery(self) -> str:
        """HASH recovery-code digest -> "1": the unused codes of the current set."""
        return f"{self.base}:recovery"

    @property
    def recovery_used(self) -> str:
        """HASH recovery-code digest -> "1": the codes of the current set already used (10 at
        most), so that one typed again is told apart from a wrong one; gone with its set."""
        return f"{self.base}:recovery-used"

    @property
    def webauthn(self) -> str:
        """HASH credential id (base64url) -> the security key or passkey, as JSON: its name,
        COSE public key, transports, when added, whether synced (api/passkeys.py)."""
        return f"{self.base}:webauthn"

    @property
    def webauthn_use(self) -> str:
        """HASH credential id -> "<sign count>|<last used, epoch s>": what each sign-in with
        it changes, apart from the record above so that a script rewrites no JSON."""
        return f"{self.base}:webauthn-use"

    def registration(self, registration_id: str) -> str:
        """HASH: challenge, user_handle: one key being added, for a few minutes."""
        return f"{self.base}:wa-reg:{registration_id}"

    @property
    def reports(self) -> str:
        """HASH, the "This wasn't me" links of the last day (``shared/lua/_report.lua``):
        "<short challenge id>" -> "<last issued>|<reported at or ''>|<ip>|<label>" (the
        challenge's end user), and "<short id>.<token digest>" -> when that link was issued."""
        return f"{self.base}:reports"

    @property
    def events(self) -> str:
        """STREAM: the account's audit trail, capped (``shared/lua/_audit.lua``)."""
        return f"{self.base}:events"

    @property
    def webhook_cursor(self) -> str:
        """STRING: the id of the last audit event delivered to the webhook."""
        return f"{self.base}:webhook-cursor"

    @property
    def webhook_again(self) -> str:
        """STRING: set by a delivery job that found the claim taken: "read the stream again"."""
        return f"{self.base}:webhook-again"

    @property
    def webhook_claim(self) -> str:
        """STRING: the worker delivering this account's webhook events, for a short while."""
        return f"{self.base}:webhook-claim"

    def challenge(self, challenge_id: str) -> str:
        """HASH of one challenge; ``shared/lua/login.lua`` writes its fields."""
        return self.challenge_prefix + short_id(challenge_id)

    def all_fixed(self) -> list[str]:
        return [
            self.profile,
            self.guard,
            self.sends,
            self.challenges,
            self.browsers,
            self.browser_expiry,
            self.totp,
            self.recovery,
            self.recovery_used,
            self.webauthn,
            self.webauthn_use,
            self.reports,
            self.events,
            self.webhook_cursor,
            self.webhook_claim,
            self.webhook_again,
        ]


def short_id(challenge_id: str) -> str:
    """The random part of a challenge id: the id already carries the account's tag."""
    return challenge_id[36:]


def tag_of_challenge(challenge_id: str) -> str | None:
    if not _CHALLENGE_ID.fullmatch(challenge_id):
        return None
    return challenge_id[3:35]


def challenge_key(challenge_id: str) -> str | None:
    tag = tag_of_challenge(challenge_id)
    return None if tag is None else AccountKeys(tag).challenge(challenge_id)


def notice_marker(notice_id: str) -> str:
    """STRING: the claimant sending a notice, then "sent" once the mail server took it."""
    return f"{PREFIX}:notice:{{{notice_id}}}"
