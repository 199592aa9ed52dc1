"""The workers' side of the state store: claiming and recording sends, and pacing mail."""

from __future__ import annotations

from typing import Any, NamedTuple

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

from shared import scripts
from shared.keys import (
    MAIL_BUCKET,
    AccountKeys,
    challenge_key,
    notice_marker,
    tag_of_challenge,
)
from shared.redisconn import SyncStateRedis

NOTICE_MARKER_TTL_SECONDS = 2 * 86400


def _text(item: Any) -> str:
    """A reply item as text (the workers' clients answer bytes; a missing field is "")."""
    return item.decode() if isinstance(item, bytes) else str(item or "")


class Claim(NamedTuple):
    """What a worker's claim on a send answered: ``send`` (then the account's address,
    language and time zone, read in the same step), or why not: done, busy, stale, expired."""

    status: str
    email: str = ""
    locale: str = ""
    time_zone: str = ""  # none: times in UTC

    @classmethod
    def of(cls, answer: list[Any]) -> Claim:
        return cls(*map(_text, answer))


class Address(NamedTuple):
    """Where, in which language and with which clock a notice reaches the account's owner."""

    email: str
    locale: str
    time_zone: str = ""  # none: times in UTC


def _claim_keys(challenge_id: str) -> list[str] | None:
    """The challenge and its account's profile (one hash tag: one Cluster slot)."""
    tag = tag_of_challenge(challenge_id)
    if tag is None:
        return None
    keys = AccountKeys(tag)
    return [keys.challenge(challenge_id), keys.profile]


class DeliveryStore:
    """Sync Redis access for the Celery workers; one script per state change."""

    def __init__(self, redis: SyncStateRedis) -> None:
        self.redis = redis
        self._scripts: dict[str, Script] = {
            name: redis.register_script(scripts.source(name))
            for name in (
                "claim_code_send",
                "finish_code_send",
                "claim_notice",
                "finish_notice",
                "take_mail_token",
                "return_mail_token",
            )
        }

    def claim_code_send_paced(
        self,
        challenge_id: str,
        send_no: int,
        claimant: str,
        now: float,
        hold_seconds: int,
        rate_per_second: float,
        burst: float,
    ) -> tuple[Claim, float]:
        """May this worker send the email of a send (``claim_code_send.lua``)? The claim and
        a token of the global mail rate (``take_mail_token``) in one round trip: the claim,
        and the seconds to wait before sending (0: a token was taken). They touch keys in
        different Cluster slots, so they are two scripts, pipelined. A token taken for a send
        that is not this worker's to make is given back (``return_mail_token``)."""
        keys = _claim_keys(challenge_id)
        if keys is None:
            return Claim("stale"), 0.0
        answer, wait_ms = self._pipelined(
            [
                ("claim_code_send", keys, [send_no, f"{now:.3f}", claimant, hold_seconds]),
                ("take_mail_token", [MAIL_BUCKET], [rate_per_second, burst]),
            ]
        )
        return Claim.of(answer), int(wait_ms) / 1000

    def _pipelined(self, calls: list[tuple[str, list[str], list[Any]]]) -> list[Any]:
        """Scripts in one round trip (on a Cluster, one each): EVALSHA each, straight
        (redis-py's script objects make a pipeline ask SCRIPT EXISTS first, a round trip of
        its own). A Redis that lost its
        scripts answers NOSCRIPT once: they are loaded, and the calls made again (both
        scripts may run twice: a claim is the claimant's again, a token one more taken)."""
        if isinstance(self.redis, redis.RedisCluster):
            # redis-py refuses EVALSHA in a cluster pipeline: one call after the other.
            return [self._scripts[name](keys=keys, args=args) for name, keys, args in calls]
        for _ in range(2):
            with self.redis.pipeline(transaction=False) as pipe:
                for name, keys, args in calls:
                    pipe.evalsha(scripts.sha(name), len(keys), *keys, *args)
                results: list[Any] = pipe.execute(raise_on_error=False)
            if not any(isinstance(result, NoScriptError) for result in results):
                for result in results:
                    if isinstance(result, Exception):
                        raise result
                return results
            for name, _keys, _args in calls:
                self.redis.script_load(scripts.source(name))
        raise NoScriptError("scripts could not be loaded")

    def finish_code_send(
        self, challenge_id: str, send_no: int, outcome: str, claimant: str
    ) -> None:
        key = challenge_key(challenge_id)
        if key is not None:
            self._scripts["finish_code_send"](keys=[key], args=[send_no, outcome, claimant])

    def address_of(self, account_id: str) -> Address | None:
        """The account's address, language and time zone now, or None when it is gone."""
        fields = self.redis.hmget(AccountKeys.of(account_id).profile, ["email", "locale", "tz"])
        if not fields[0]:
            return None
        return Address(*map(_text, fields))

    def claim_notice(self, notice_id: str, claimant: str, hold_seconds: int) -> str:
        answer = self._scripts["claim_notice"](
            keys=[notice_marker(notice_id)], args=[claimant, hold_seconds]
        )
        return answer.decode() if isinstance(answer, bytes) else str(answer)

    def finish_notice(self, notice_id: str, claimant: str, sent: bool) -> None:
        self._scripts["finish_notice"](
            keys=[notice_marker(notice_id)],
            args=[claimant, "1" if sent else "0", NOTICE_MARKER_TTL_SECONDS],
        )

    def return_mail_token(self, burst: float) -> None:
        """Give back a token taken for a send this worker did not make."""
        self._scripts["return_mail_token"](keys=[MAIL_BUCKET], args=[burst])

    def take_mail_token(self, rate_per_second: float, burst: float) -> float:
        """Seconds to wait before sending; 0 when this worker may send now."""
        wait_ms = self._scripts["take_mail_token"](
            keys=[MAIL_BUCKET], args=[rate_per_second, burst]
        )
        return int(wait_ms) / 1000
