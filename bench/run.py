"""One bench run: start the stack, run each stage in turn, and collect what it measured."""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bench import apps, commands, keys, load, mail, memory, overload, wrk
from bench.app import BASELINE_KEY
from bench.client import Client, run_logins
from bench.machine import CpuMark
from bench.seed import challenge_ids, create_accounts
from bench.stack import API_KEY, BROKER_DB, OVERRIDES, STATE_DB, Process, Stack, rss_bytes
from shared.jobs import CODE_BACKUPS, CODE_QUEUE
from shared.settings import Settings

ACCOUNT_PREFIX = "acct-"
# Jobs the bench drops on purpose (``delete(CODE_QUEUE, CODE_BACKUPS)``) take their backups
# with them: else a worker's sweeper would rightly send them all again when they come due, in
# the middle of a later stage.


@dataclass(frozen=True, slots=True)
class Options:
    api_workers: int
    workers: int
    pool: str
    seconds: float
    rounds: int
    connections: int
    threads: int
    accounts: int
    burst: int
    latency_burst: int
    ops: int
    rss_logins: int
    run_dir: Path

    def summary(self) -> str:
        return (
            f"api workers {self.api_workers}, celery workers {self.workers} ({self.pool}),"
            f" {self.seconds:g} s per stage, wrk {self.threads} threads x {self.connections}"
            f" connections, {self.accounts} accounts"
        )


class Run:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.stack = Stack(options.run_dir)
        self.results: dict[str, Any] = {
            "config": {
                "summary": options.summary(),
                "options": {k: str(v) for k, v in vars_of(options).items()},
                "overrides": [f"TWOSTEP_{k}={v} ({why})" for k, (v, why) in OVERRIDES.items()],
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
            "failures": {},
            "errors": {},
            "other_cpu_percent": {},
        }
        self.api: Process | None = None
        self.url = ""
        self.workers: list[Process] = []

    async def stage(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        print(f"bench: {name} ...", flush=True)
        started, cpu = time.monotonic(), CpuMark.now()
        try:
            await body()
        except Exception as exc:  # a broken stage is reported, and the others still run
            self.results["failures"][name] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        self.results["other_cpu_percent"][name] = cpu.others_percent()
        print(f"bench: {name} done in {time.monotonic() - started:.1f} s", flush=True)

    async def execute(self) -> dict[str, Any]:
        o = self.options
        try:
            self.stack.start_redis()
            self.stack.start_sink()
            self.api, self.url = self.stack.start_api(o.api_workers)
        except BaseException:
            self.stack.close()
            raise
        redis = Redis.from_url(self.stack.url(STATE_DB), max_connections=1024)
        broker = Redis.from_url(self.stack.url(BROKER_DB), max_connections=1024)
        client = Client(self.url, API_KEY)
        http = load.LoadOptions(self.url, o.threads, o.connections, o.seconds)
        try:
            await self.stage("seed", lambda: self._seed(redis))
            await self.stage("http", lambda: self._http(http, redis, broker))
            await self.stage("redis commands", lambda: self._commands(redis))
            await self.stage("redis memory", lambda: self._redis_memory(redis))
            await self.stage("workers", lambda: self._workers(client, redis, broker))
            await self.stage("end to end", lambda: self._end_to_end(client, redis))
            await self.stage(
                "end to end at 100 ms", lambda: self._end_to_end_slow(client, redis, broker)
            )
            for process in self.workers:
                self.stack.stop(process)
            self.workers.clear()
            await self.stage("overload", lambda: self._overload(redis, broker))
            await self.stage("baseline at 100 ms", lambda: self._baseline(redis))
            await broker.delete(CODE_QUEUE, CODE_BACKUPS)
            await client.close()
            await self.stage("api rss", lambda: self._rss(broker))
        finally:
            await client.close()
            await redis.aclose()
            await broker.aclose()
            self.stack.close()
        return self.results

    async def _seed(self, redis: Redis) -> None:
        await redis.set(BASELINE_KEY, "x")
        await create_accounts(redis, ACCOUNT_PREFIX, self.options.accounts)
        # Warm every uvicorn worker (imports, Redis pools, scripts) before anything is timed.
        warm = load.LoadOptions(self.url, self.options.threads, self.options.connections, 1)
        load.baseline(warm, "/bench/redis")
        load.logins(warm, self.options.accounts, ACCOUNT_PREFIX)

    async def _http(self, http: load.LoadOptions, redis: Redis, broker: Redis) -> None:
        """Rounds of bare, one-Redis-call, logins, verifies; each keeps its median round, so
        that a neighbour's burst on a shared machine moves the ratios less."""
        o = self.options
        rounds = load.LoadOptions(http.url, http.threads, http.connections, o.seconds / o.rounds)
        runs: dict[str, list[wrk.Load]] = {
            "bare": [],
            "redis": [],
            "redis_mux": [],
            "logins": [],
            "verifies": [],
            "app_verifies": [],
            "key_verifies": [],
        }
        ids_file = o.run_dir / "challenge-ids.txt"
        answers_file = o.run_dir / "key-answers.txt"
        answers = await keys.prepare(redis, min(2000, o.accounts), answers_file)
        app_ids_file = o.run_dir / "app-challenge-ids.txt"
        secret = self.stack.env()["TWOSTEP_SECRET_KEY"]
        app_challenges = await apps.prepare(redis, secret, min(2000, o.accounts), app_ids_file)
        challenges = 0
        for _ in range(o.rounds):
            runs["bare"].append(load.baseline(rounds, "/bench/bare"))
            runs["redis"].append(load.baseline(rounds, "/bench/redis"))
            runs["redis_mux"].append(load.baseline(rounds, "/bench/redis-mux"))
            runs["logins"].append(load.logins(rounds, o.accounts, ACCOUNT_PREFIX))
            await broker.delete(CODE_QUEUE, CODE_BACKUPS)
            if not challenges:
                ids = await challenge_ids(redis, 100_000)
                ids_file.write_text("\n".join(ids) + "\n")
                challenges = len(ids)
            runs["verifies"].append(load.verifies(rounds, ids_file))
            runs["app_verifies"].append(load.app_verifies(rounds, app_ids_file))
            runs["key_verifies"].append(load.key_verifies(rounds, answers_file))
        median = {name: self._median(name, loads) for name, loads in runs.items()}
        self.results["baselines"] = {
            "bare": median["bare"],
            "redis": median["redis"],
            "redis_mux": median["redis_mux"],
        }
        self.results["logins"] = median["logins"]
        self.results["verifies"] = {
            **median["verifies"],
            "challenges": challenges,
            "code": "wrong (400 expected)",
        }
        self.results["app_verifies"] = {
            **median["app_verifies"],
            "challenges": app_challenges,
            "code": "wrong app code (400 expected)",
        }
        self.results["key_verifies"] = {
            **median["key_verifies"],
            "challenges": answers,
            "answer": "checked in full, refused by its counter (400 expected)",
        }

    def _median(self, name: str, loads: list[wrk.Load]) -> dict[str, Any]:
        errors = sum(load.errors for load in loads)
        if errors:
            self.results["errors"][name] = errors
        ordered = sorted(loads, key=lambda load: load.rate)
        row = ordered[len(ordered) // 2].row()
        return {**row, "errors": errors, "rounds_per_second": [round(x.rate, 1) for x in loads]}

    async def _commands(self, redis: Redis) -> None:
        self.results["redis_commands"] = await commands.measure(
            self.stack, redis, ACCOUNT_PREFIX, self.options.accounts, self.options.ops
        )

    async def _redis_memory(self, redis: Redis) -> None:
        env = self.stack.env()
        settings = Settings(
            secret_key=env["TWOSTEP_SECRET_KEY"],
            api_keys=(API_KEY,),
            max_emails_per_hour=int(OVERRIDES["MAX_EMAILS_PER_HOUR"][0]),
        )
        text_redis = Redis.from_url(
            self.stack.url(STATE_DB), decode_responses=True, max_connections=1024
        )
        try:
            self.results.setdefault("memory", {})["redis"] = await memory.redis_bytes(
                text_redis, settings
            )
        finally:
            await text_redis.aclose()

    async def _workers(self, client: Client, redis: Redis, broker: Redis) -> None:
        o = self.options
        assert self.stack.sink is not None
        await broker.delete(CODE_QUEUE, CODE_BACKUPS)
        found: dict[str, Any] = {}
        self.results["workers"] = found
        found["celery_noop"] = await mail.noop_rate(self.stack, broker, o.burst, o.pool)
        found["smtplib"] = await asyncio.to_thread(mail.smtplib_rate, self.stack.sink.port, o.burst)
        found["latency"] = await mail.latency_rates(
            self.stack, client, redis, broker, o.latency_burst, o.pool
        )
        found["twostep"], self.workers = await mail.worker_rate(
            self.stack, client, redis, broker, o.burst, o.workers, o.pool
        )

    async def _end_to_end(self, client: Client, redis: Redis) -> None:
        logins = self.results.get("logins", {}).get("requests_per_second", 0.0)
        emails = self.results.get("workers", {}).get("twostep", {}).get("emails_per_second", 0.0)
        if not logins or not emails:
            raise RuntimeError("needs the login and worker rates of the stages before")
        rate = 0.5 * min(logins, emails)
        result = await mail.end_to_end(
            self.stack, client, redis, rate, max(2.0, self.options.seconds / 2)
        )
        self.results["end_to_end"] = {**result, "capacity": "0.5 x min(logins/s, emails/s)"}

    async def _end_to_end_slow(self, client: Client, redis: Redis, broker: Redis) -> None:
        """The same, behind a provider that takes 100 ms per message: first offered more than
        the workers can send (what gets through is the capacity), then half of that."""
        assert self.stack.sink is not None
        per_process = (
            self.results.get("workers", {})
            .get("latency", {})
            .get("100 ms", {})
            .get("emails_per_second", 0.0)
        )
        if not per_process:
            raise RuntimeError("needs the workers' rate at 100 ms of the stage before")
        seconds = max(2.0, self.options.seconds / 2)
        self.stack.sink.set_latency(100)
        try:
            offered = 1.5 * per_process * self.options.workers
            full = await mail.end_to_end(self.stack, client, redis, offered, seconds)
            await self._settle(broker)
            capacity = full["emails_per_second"]
            half = await mail.end_to_end(self.stack, client, redis, capacity / 2, seconds)
        finally:
            self.stack.sink.set_latency(0)
        self.results["end_to_end_100ms"] = {
            "offered": full,
            "capacity_emails_per_second": capacity,
            "half_capacity": half,
        }

    async def _settle(self, broker: Redis) -> None:
        """Wait until the workers hold no job (a stage's leftovers must not slow the next)."""
        deadline = time.monotonic() + 60
        while await broker.llen(CODE_QUEUE) or await broker.hlen(mail.UNACKED):
            if time.monotonic() > deadline:
                raise TimeoutError("the code queue did not drain in 60 s")
            await asyncio.sleep(0.05)

    async def _overload(self, redis: Redis, broker: Redis) -> None:
        """Three times one worker's capacity for six stages' time (a minute by default), with
        and without admission; the bound a sixth of that (10 s), so that the queue passes it
        well before the minute ends."""
        seconds = 6 * self.options.seconds
        bound = max(2, round(seconds / 6))
        self.results["overload"] = await overload.overload(
            self.stack, redis, broker, seconds, bound
        )

    async def _baseline(self, redis: Redis) -> None:
        self.results["baseline_100ms"] = await mail.baseline(
            self.stack, redis, 100, max(4.0, self.options.seconds)
        )

    async def _rss(self, broker: Redis) -> None:
        """A fresh API; its workers' RSS after warming up, after N logins and after 2N."""
        o = self.options
        if self.api is not None:
            self.stack.stop(self.api)
        self.api, self.url = self.stack.start_api(o.api_workers, name="api-rss")
        client = Client(self.url, API_KEY)
        sizes: dict[str, int] = {}
        done = failures = 0
        try:
            for label, total in (
                ("warm", 1000),
                ("first", o.rss_logins),
                ("second", 2 * o.rss_logins),
            ):
                for start in range(done, total, 5000):
                    stop = min(total, start + 5000)
                    accounts = (f"{ACCOUNT_PREFIX}{n % o.accounts + 1}" for n in range(start, stop))
                    failures += await run_logins(client, accounts, lanes=o.connections)
                    # No worker runs: keep Redis small.
                    await broker.delete(CODE_QUEUE, CODE_BACKUPS)
                done = total
                sizes[f"{label} ({done} logins)"] = rss_bytes(self.api.pid)[0]
        finally:
            await client.close()
        if failures:
            self.results["errors"]["api rss"] = failures
        values = list(sizes.values())
        self.results.setdefault("memory", {})["api_rss"] = {
            "rss_bytes": sizes,
            "growth_percent": round(100 * (values[2] - values[1]) / values[1], 2),
        }


def vars_of(options: Options) -> dict[str, object]:
    return {name: getattr(options, name) for name in options.__slots__}
