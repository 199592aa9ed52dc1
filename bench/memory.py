"""Memory: Redis bytes per pending challenge and per trusted browser, and the API's RSS."""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio import Redis

from api.metrics import Metrics
from api.schemas import Client, Pending
from api.service import TwoStep
from api.store import Store
from bench.seed import account_id, account_keys, create_accounts
from shared import reports
from shared.crypto import Sealer
from shared.jobs import CodeJob, NoticeJob, code_seal_context
from shared.keys import AccountKeys, short_id
from shared.runner import AsyncRunner
from shared.scripts import SCRIPTS
from shared.settings import Settings

ACCOUNTS = 100
BROWSERS_PER_ACCOUNT = 5
CLIENT = Client.model_validate(
    {"ip": "203.0.113.9", "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"}
)


class _KeptJobs:
    """A mail queue that keeps the jobs, so the bench can open the codes as a worker would."""

    def __init__(self) -> None:
        self.codes: list[CodeJob] = []

    async def publish_code(self, job: CodeJob) -> None:
        self.codes.append(job)

    async def publish_notice(self, job: NoticeJob) -> None:
        pass


async def _usage(redis: Redis, keys: list[str]) -> int:
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.memory_usage(key, samples=0)
        sizes = await pipe.execute()
    return sum(int(size or 0) for size in sizes)


async def redis_bytes(redis: Redis, settings: Settings) -> dict[str, Any]:
    """Logins and right-code verifies through twostep's own service, in process, on the bench's
    Redis; ``MEMORY USAGE`` of the keys before and after, divided by what was added."""
    jobs = _KeptJobs()
    service = TwoStep(settings, Store(redis), jobs, Metrics(), time.time)
    sealer = Sealer(settings.secret_key.get_secret_value())
    accounts = [account_id("mem-", n) for n in range(1, ACCOUNTS + 1)]
    await create_accounts(redis, "mem-", ACCOUNTS)
    fixed = [key for account in accounts for key in account_keys(account)]
    idle = await _usage(redis, fixed)
    pending: list[Pending] = []
    for account in accounts:
        result = await service.start_login(account, None, "email", CLIENT)
        assert isinstance(result, Pending)
        pending.append(result)
    challenge_keys = [
        AccountKeys.of(account).challenge(p.challenge_id)
        for account, p in zip(accounts, pending, strict=True)
    ]
    challenges_only = await _usage(redis, challenge_keys)
    with_challenges = await _usage(redis, fixed) + challenges_only
    # What the worker files when it mails each of these codes: its "This wasn't me" link,
    # kept a day (shared/lua/_report.lua, as claim_code_send.lua runs it).
    report_keys = [AccountKeys.of(account).reports for account in accounts]
    runner = AsyncRunner(redis)
    for account, p in zip(accounts, pending, strict=True):
        token = reports.new_token(p.challenge_id)
        await runner.run(
            SCRIPTS["report_add"],
            {"reports": AccountKeys.of(account).reports},
            {"short_id": short_id(p.challenge_id), "report_digest": reports.digest(token),
             "now": f"{time.time():.3f}", "client_ip": "203.0.113.9",
             "client_label": "Firefox on Linux", "report_keep": reports.REPORT_LIFETIME_SECONDS},
        )  # fmt: skip
    report_bytes = await _usage(redis, report_keys)
    browser_keys = [
        k
        for a in accounts[:20]
        for k in (AccountKeys.of(a).browsers, AccountKeys.of(a).browser_expiry)
    ]
    browsers_before = await _usage(redis, browser_keys)
    for account in accounts[:20]:
        for _ in range(BROWSERS_PER_ACCOUNT):
            result = await service.start_login(account, None, "email", CLIENT)
            assert isinstance(result, Pending)
            job = jobs.codes[-1]
            code = sealer.open(job.sealed_code, code_seal_context(job.challenge_id, job.send_no))
            await service.verify(result.challenge_id, code, "email", True, CLIENT)
    browsers_added = 20 * BROWSERS_PER_ACCOUNT
    browser_bytes = (await _usage(redis, browser_keys) - browsers_before) / browsers_added
    return {
        "idle_account_bytes": round(idle / ACCOUNTS),
        "pending_challenge_bytes": round((with_challenges - idle) / ACCOUNTS),
        "challenge_hash_bytes": round(challenges_only / ACCOUNTS),
        "trusted_browser_bytes": round(browser_bytes),
        "report_link_bytes": round(report_bytes / ACCOUNTS),
    }
