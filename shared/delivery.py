"""The workers' side of the state store: claiming and recording sends, and pacing mail."""

from __future__ import annotations

from redis.commands.core import Script

from shared import scripts
from shared.keys import MAIL_BUCKET, challenge_key, notice_marker
from shared.redisconn import SyncStateRedis

NOTICE_MARKER_TTL_SECONDS = 2 * 86400


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
            )
        }

    def claim_code_send(
        self, challenge_id: str, send_no: int, claimant: str, now: float, hold_seconds: int
    ) -> str:
        key = challenge_key(challenge_id)
        if key is None:
            return "stale"
        answer = self._scripts["claim_code_send"](
            keys=[key], args=[send_no, f"{now:.3f}", claimant, hold_seconds]
        )
        return answer.decode() if isinstance(answer, bytes) else str(answer)

    def finish_code_send(
        self, challenge_id: str, send_no: int, outcome: str, claimant: str
    ) -> None:
        key = challenge_key(challenge_id)
        if key is not None:
            self._scripts["finish_code_send"](keys=[key], args=[send_no, outcome, claimant])

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

    def take_mail_token(self, rate_per_second: float, burst: float) -> float:
        """Seconds to wait before sending; 0 when this worker may send now."""
        wait_ms = self._scripts["take_mail_token"](
            keys=[MAIL_BUCKET], args=[rate_per_second, burst]
        )
        return int(wait_ms) / 1000
