"""The mail jobs: decide whether a job is still wanted, render it, send it, record the outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared import reports
from shared.codes import mask_email
from shared.crypto import SealError
from shared.errors import MailError, PermanentSmtpError, TransientSmtpError
from shared.jobs import (
    CODE_QUEUE,
    NOTICE_LIFETIME_SECONDS,
    NOTICE_QUEUE,
    NOTICE_TRUSTED_BROWSER_ADDED,
    CodeJob,
    NoticeJob,
    code_seal_context,
    job_of,
)
from shared.results import NotToSend
from workers.retry import RetryLater, backoff_seconds
from workers.runtime import Runtime

log = logging.getLogger("twostep.worker")


def claim_seconds(runtime: Runtime) -> int:
    """How long a worker's claim on a send holds: one SMTP exchange (which the SMTP timeout
    bounds, connecting included) plus pacing, with room. A worker that dies holding a claim
    delays that email by this much at most."""
    return int(runtime.settings.smtp_timeout_seconds * 2) + 10


BUSY_RETRY_SECONDS = 5.0


MARK_RETRY_FIRST_SECONDS = 0.25
MARK_RETRY_MAX_SECONDS = 2.0


def mark_sent(runtime: Runtime, write: Callable[[], object], what: str) -> None:
    """Record that the mail server accepted an email, however long the state store is away.

    Failing here would have the job run again and the email sent twice. The job is still
    held, unacknowledged, and this worker's claim keeps other workers off the send, so keep
    trying (back-off from 0.25 s to 2 s) for as long as the claim holds; only then give up
    and let the job be retried (it may then be sent again)."""
    delay = MARK_RETRY_FIRST_SECONDS
    waited = 0.0
    while True:
        try:
            write()
        except (RedisConnectionError, RedisTimeoutError):
            if waited + delay > claim_seconds(runtime):
                log.error("sent mark not written, the job will run again %s", what)
                raise
            if waited == 0:
                log.warning("redis unavailable, sent mark retried until written %s", what)
            runtime.sleep(delay)
            waited += delay
            delay = min(MARK_RETRY_MAX_SECONDS, delay * 2)
        else:
            if waited:
                log.info("sent mark written after %.1fs %s", waited, what)
            return


def _utc(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


def _report_token(runtime: Runtime, challenge_id: str) -> str | None:
    """A new "This wasn't me" token for one email, or None when links are off. Each email has
    its own (a job run again makes another), and only its digest is kept."""
    if runtime.settings.report_url is None or not challenge_id:
        return None
    return reports.new_token(challenge_id)


def _report_link(runtime: Runtime, token: str | None) -> str | None:
    url = runtime.settings.report_url
    return reports.link(url, token) if url is not None and token is not None else None


def send_code(runtime: Runtime, payload: dict[str, object], retries: int) -> str:
    """Send one code email at most once. Returns what happened: sent, failed, stale, ..."""
    job = job_of(CodeJob, payload)
    now = runtime.clock()
    if now >= job.expires_at:
        log.info("code email dropped, code expired %s", job.describe())
        return "expired"
    report_token = _report_token(runtime, job.challenge_id)
    # The claim, the link's digest and a token of the global mail rate, in one round trip.
    claim, token_wait = runtime.delivery.claim_code_send_paced(
        job.challenge_id, job.send_no, runtime.claimant, now, claim_seconds(runtime),
        *runtime.mail_rate(), report_digest=reports.digest(report_token) if report_token else "",
    )  # fmt: skip
    if isinstance(claim, NotToSend):
        if token_wait == 0:
            # A duplicate (a backup's copy, a retry of a busy send) must not use up the mail
            # rate that real sends need.
            runtime.delivery.return_mail_token(runtime.mail_rate()[1])
        if claim.status == "busy":
            raise RetryLater(BUSY_RETRY_SECONDS, "another worker is sending it")
        log.info("code email dropped, %s %s", claim.status, job.describe())
        return claim.status
    try:
        code = runtime.sealer.open(
            job.sealed_code, code_seal_context(job.challenge_id, job.send_no)
        )
        runtime.deliver(
            "code",
            claim.locale,
            claim.email,
            f"{job.challenge_id}.{job.send_no}",
            {
                "code": code,
                "time_zone": claim.time_zone or None,
                "expires_at": _utc(job.expires_at),
                "ttl_minutes": runtime.settings.code_ttl_seconds // 60,
                "client_ip": job.client_ip,
                "client_label": job.client_label,
                "report_url": _report_link(runtime, report_token),
            },
            token_wait,
        )
    except TransientSmtpError as exc:
        delay = backoff_seconds(retries)
        if runtime.clock() + delay >= job.expires_at:
            runtime.delivery.finish_code_send(
                job.challenge_id, job.send_no, "failed", runtime.claimant
            )
            log.warning("code email failed, code expires before retry %s", job.describe())
            return "expired"
        runtime.delivery.finish_code_send(
            job.challenge_id, job.send_no, "retrying", runtime.claimant
        )
        log.warning("code email retry in %.1fs (%s) %s", delay, exc, job.describe())
        raise RetryLater(delay, str(exc)) from None
    except (PermanentSmtpError, SealError, MailError) as exc:
        runtime.delivery.finish_code_send(job.challenge_id, job.send_no, "failed", runtime.claimant)
        log.error("code email failed for good (%s) %s", exc, job.describe())
        return "failed"
    mark_sent(
        runtime,
        lambda: runtime.delivery.finish_code_send(
            job.challenge_id, job.send_no, "sent", runtime.claimant
        ),
        job.describe(),
    )
    runtime.delivered(CODE_QUEUE, job.published_at)
    log.info("code email sent to %s %s", mask_email(claim.email), job.describe())
    return "sent"


def send_notice(runtime: Runtime, payload: dict[str, object], retries: int) -> str:
    """Send one security notice at most once."""
    job = job_of(NoticeJob, payload)
    claim = runtime.delivery.claim_notice(job.notice_id, runtime.claimant, claim_seconds(runtime))
    if claim == "busy":
        raise RetryLater(BUSY_RETRY_SECONDS, "another worker is sending it")
    if claim != "send":
        return claim
    # A job queued by an API from before carries the address it had (and no zone: UTC).
    to, locale, time_zone = job.to, job.locale, ""
    if job.account_id:
        address = runtime.delivery.address_of(job.account_id)
        if address is None:
            runtime.delivery.finish_notice(job.notice_id, runtime.claimant, sent=False)
            log.info("notice dropped, the account is gone %s", job.describe())
            return "gone"
        to, locale, time_zone = address
    # A new browser's notice links to a report of the challenge that trusted it.
    report_token = None
    if job.kind == NOTICE_TRUSTED_BROWSER_ADDED and job.account_id:
        report_token = _report_token(runtime, job.details.get("challenge_id", ""))
    if report_token is not None:
        runtime.delivery.add_report(
            job.account_id, job.details["challenge_id"], reports.digest(report_token),
            runtime.clock(), job.client_ip or "", job.client_label or "",
        )  # fmt: skip
    try:
        runtime.deliver(
            job.kind,
            locale,
            to,
            f"notice.{job.notice_id}",
            {
                "time_zone": time_zone or None,
                "occurred_at": _utc(job.occurred_at),
                "client_ip": job.client_ip,
                "client_label": job.client_label,
                "details": job.details,
                "report_url": _report_link(runtime, report_token),
            },
        )
    except TransientSmtpError as exc:
        runtime.delivery.finish_notice(job.notice_id, runtime.claimant, sent=False)
        delay = backoff_seconds(retries)
        if runtime.clock() + delay >= job.occurred_at + NOTICE_LIFETIME_SECONDS:
            log.warning("notice failed, too old to retry %s", job.describe())
            return "expired"
        log.warning("notice retry in %.1fs (%s) %s", delay, exc, job.describe())
        raise RetryLater(delay, str(exc)) from None
    except (MailError, ValueError) as exc:
        runtime.delivery.finish_notice(job.notice_id, runtime.claimant, sent=False)
        log.error("notice failed for good (%s) %s", type(exc).__name__, job.describe())
        return "failed"
    mark_sent(
        runtime,
        lambda: runtime.delivery.finish_notice(job.notice_id, runtime.claimant, sent=True),
        job.describe(),
    )
    runtime.delivered(NOTICE_QUEUE, job.published_at)
    log.info("notice sent to %s %s", mask_email(to), job.describe())
    return "sent"
