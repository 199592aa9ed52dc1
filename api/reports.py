"""'This wasn't me': the link in code emails and new-browser notices, and what it does.

Opening a link (the page, a mail scanner, a link preview) reads and changes nothing; only a
POST that carries its token acts (``report``): the challenge ends, the event goes to the
audit trail and the webhook, and the owner is emailed what was done. The tokens are the
workers' (``shared/reports.py``); here they are only checked, by their digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.audit import AuditTrail
from api.metrics import Metrics
from api.outbox import Outbox, Seen
from api.schemas import Client, Reported
from api.store import Store
from shared import reports
from shared import results as r
from shared.clock import Clock
from shared.errors import ReportNotFound, ReportUsed
from shared.jobs import NOTICE_LOGIN_REPORTED
from shared.keys import AccountKeys, short_id, tag_of_challenge
from shared.settings import Settings
from shared.times import rfc3339


@dataclass(frozen=True, slots=True)
class ReportPage:
    """What the link's page shows: in the account's language, the sign-in it is about, and
    when it was reported (None: not yet, the button is offered)."""

    locale: str
    ip: str
    label: str
    reported_at: float | None


class Reports:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        outbox: Outbox,
        trail: AuditTrail,
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.store = store
        self.outbox = outbox
        self.trail = trail
        self.metrics = metrics
        self.clock = clock

    @staticmethod
    def _link(challenge_id: str, token: str, now: float) -> tuple[AccountKeys, dict[str, Any]]:
        """The account's keys and the arguments that find a link (``_report.lua``)."""
        tag = tag_of_challenge(challenge_id)
        if tag is None:
            raise ReportNotFound()
        args = {"short_id": short_id(challenge_id), "report_digest": reports.digest(token),
                "now": f"{now:.3f}", "report_keep": reports.REPORT_LIFETIME_SECONDS}  # fmt: skip
        return AccountKeys(tag), args

    async def page(self, token: str) -> ReportPage:
        """The link's page: changes nothing."""
        challenge_id = reports.challenge_of(token)
        if challenge_id is None:
            raise ReportNotFound()
        keys, link = self._link(challenge_id, token, self.clock())
        seen = await self.store.run_script("report_read", keys, link)
        if not isinstance(seen, r.ReportLink):
            raise ReportNotFound()
        reported_at = float(seen.reported_at) if seen.reported_at else None
        return ReportPage(seen.locale, seen.ip, seen.label, reported_at)

    async def report(self, challenge_id: str, token: str, client: Client | None) -> Reported:
        """The button: end the challenge the token was mailed for, once."""
        if reports.challenge_of(token) != challenge_id:
            self.metrics.reports.labels("not_found").inc()
            raise ReportNotFound()
        now = self.clock()
        keys, link = self._link(challenge_id, token, now)
        revoke = "1" if self.settings.report_revokes_browsers else "0"
        outcome = await self.store.run_script(
            "report",
            keys,
            {**link, "revoke_browsers": revoke},
            {"challenge": keys.challenge(challenge_id)},
            audit=self.trail.entry(now, Seen.of(client)),
            now=now,
        )
        match outcome:
            case r.NotFound():
                self.metrics.reports.labels("not_found").inc()
                raise ReportNotFound()
            case r.AlreadyReported():
                self.metrics.reports.labels("already_reported").inc()
                raise ReportUsed()
        assert isinstance(outcome, r.Reported)
        self.metrics.reports.labels("reported").inc()
        # The notice tells of the sign-in reported (its IP and browser), not of the click.
        details = {
            "challenge_ended": "1" if outcome.challenge_ended else "0",
            "browsers_revoked": str(outcome.browsers_revoked),
        }
        reported = Seen(outcome.ip, outcome.label)
        await self.outbox.notice(NOTICE_LOGIN_REPORTED, outcome.account_id, now, reported, details)
        await self.trail.recorded(keys.tag, now)
        return Reported(
            challenge_id=challenge_id,
            account_id=outcome.account_id,
            reported_at=rfc3339(now),
            challenge_ended=outcome.challenge_ended,
            trusted_browsers_revoked=outcome.browsers_revoked,
        )
