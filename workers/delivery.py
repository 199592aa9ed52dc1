"""The workers' side of the state store: claiming and recording sends, and pacing mail."""

from __future__ import annotations

from typing import Any, NamedTuple

from shared import results as r
from shared.keys import (
    MAIL_BUCKET,
    AccountKeys,
    challenge_key,
    notice_marker,
    short_id,
    tag_of_challenge,
)
from shared.redisconn import SyncStateRedis
from shared.reports import REPORT_LIFETIME_SECONDS
from shared.runner import SyncRunner
from shared.scripts import SCRIPTS

NOTICE_MARKER_TTL_SECONDS = 2 * 86400


def _text(item: Any) -> str:
    """A reply item as text (the workers' clients answer bytes; a missing field is "")."""
    return item.decode() if isinstance(item, bytes) else str(item or "")


class Address(NamedTuple):
    """Where, in which language and with which clock a notice reaches the account's owner."""

    email: str
    locale: str
    time_zone: str = ""  # none: times in UTC


Claim = r.Claimed | r.NotToSend

CLAIM_CODE_SEND = SCRIPTS["claim_code_send"]
TAKE_MAIL_TOKEN = SCRIPTS["take_mail_token"]


def _claim_keys(challenge_id: str) -> dict[str, str] | None:
    """The challenge, its account's profile and reports (one hash tag: one Cluster slot)."""
    tag = tag_of_challenge(challenge_id)
    if tag is None:
        return None
    keys = AccountKeys(tag)
    return CLAIM_CODE_SEND.account_keys(keys, {"challenge": keys.challenge(challenge_id)})


class DeliveryStore:
    """Sync Redis access for the Celery workers; one script per state change."""

    def __init__(self, redis: SyncStateRedis) -> None:
        self.redis = redis
        self.scripts = SyncRunner(redis)

    def claim_code_send_paced(
        self,
        challenge_id: str,
        send_no: int,
        claimant: str,
        now: float,
        hold_seconds: int,
        rate_per_second: float,
        burst: float,
        report_digest: str = "",
    ) -> tuple[Claim, float]:
        """May this worker send the email of a send (``claim_code_send.lua``)? The claim and
        a token of the global mail rate (``take_mail_token``) in one round trip: the claim,
        and the seconds to wait before sending (0: a token was taken). They touch keys in
        different Cluster slots, so they are two scripts, pipelined (each may run twice after
        a NOSCRIPT: a claim is the claimant's again, a token one more taken). A token taken
        for a send that is not this worker's to make is given back (``return_mail_token``).
        ``report_digest``: the email's "This wasn't me" token's, filed with the claim."""
        keys = _claim_keys(challenge_id)
        if keys is None:
            return r.NotToSend("stale"), 0.0
        claim, wait_ms = self.scripts.run_together(
            [
                (CLAIM_CODE_SEND, keys, {"send_no": send_no, "now": f"{now:.3f}",
                                         "claimant": claimant, "hold_seconds": hold_seconds,
                                         "short_id": short_id(challenge_id),
                                         "report_digest": report_digest,
                                         "report_keep": REPORT_LIFETIME_SECONDS}),
                (TAKE_MAIL_TOKEN, {"bucket": MAIL_BUCKET},
                 {"rate": rate_per_second, "burst": burst}),
            ]
        )  # fmt: skip
        return claim, int(wait_ms) / 1000

    def finish_code_send(
        self, challenge_id: str, send_no: int, outcome: str, claimant: str
    ) -> None:
        key = challenge_key(challenge_id)
        if key is not None:
            self.scripts.run(
                SCRIPTS["finish_code_send"],
                {"challenge": key},
                {"send_no": send_no, "outcome": outcome, "claimant": claimant},
            )

    def add_report(
        self, account_id: str, challenge_id: str, digest: str, now: float, ip: str, label: str
    ) -> None:
        """File a notice's "This wasn't me" token under the challenge it is about."""
        self.scripts.run(
            SCRIPTS["report_add"],
            {"reports": AccountKeys.of(account_id).reports},
            {"short_id": short_id(challenge_id), "report_digest": digest, "now": f"{now:.3f}",
             "client_ip": ip, "client_label": label, "report_keep": REPORT_LIFETIME_SECONDS},
        )  # fmt: skip

    def address_of(self, account_id: str) -> Address | None:
        """The account's address, language and time zone now, or None when it is gone."""
        fields = self.redis.hmget(AccountKeys.of(account_id).profile, ["email", "locale", "tz"])
        if not fields[0]:
            return None
        return Address(*map(_text, fields))

    def claim_notice(self, notice_id: str, claimant: str, hold_seconds: int) -> str:
        answer = self.scripts.run(
            SCRIPTS["claim_notice"],
            {"marker": notice_marker(notice_id)},
            {"claimant": claimant, "hold_seconds": hold_seconds},
        )
        return _text(answer)

    def finish_notice(self, notice_id: str, claimant: str, sent: bool) -> None:
        self.scripts.run(
            SCRIPTS["finish_notice"],
            {"marker": notice_marker(notice_id)},
            {"claimant": claimant, "sent": "1" if sent else "0",
             "marker_ttl": NOTICE_MARKER_TTL_SECONDS},
        )  # fmt: skip

    def return_mail_token(self, burst: float) -> None:
        """Give back a token taken for a send this worker did not make."""
        self.scripts.run(SCRIPTS["return_mail_token"], {"bucket": MAIL_BUCKET}, {"burst": burst})

    def take_mail_token(self, rate_per_second: float, burst: float) -> float:
        """Seconds to wait before sending; 0 when this worker may send now."""
        wait_ms = self.scripts.run(
            TAKE_MAIL_TOKEN, {"bucket": MAIL_BUCKET}, {"rate": rate_per_second, "burst": burst}
        )
        return int(wait_ms) / 1000
