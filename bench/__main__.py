"""``python -m bench``: start twostep on loopback, load it, print one table and write JSON."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import uvloop

from bench import report
from bench.run import Options, Run


def parse(argv: list[str]) -> tuple[Options, Path, bool]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--api-workers", type=int, default=2, help="uvicorn --workers (2)")
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes (1)")
    parser.add_argument(
        "--pool",
        choices=("threads", "solo"),
        default="threads",
        help="each worker process as docs/operations.md starts it (threads: its own pool and"
        " concurrency), or solo: one job at a time",
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per load stage (10)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="HTTP rounds; each endpoint keeps its median (3)"
    )
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--accounts", type=int, default=10_000, help="accounts logins cycle over")
    parser.add_argument(
        "--rss-logins",
        type=int,
        default=50_000,
        help="read API RSS after this many logins and twice as many (50000)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="CI mode: 2 s stages, small bursts, RSS after 2000 and 4000 logins",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("bench/results/latest.json"),
        help="where to write the results (bench/results/latest.json)",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    seconds = 2.0 if quick else float(args.duration)
    run_dir = Path(tempfile.mkdtemp(prefix="twostep-bench-"))
    options = Options(
        api_workers=args.api_workers,
        workers=args.workers,
        pool=args.pool,
        seconds=seconds,
        rounds=1 if quick else max(1, args.rounds),
        connections=args.connections,
        threads=args.threads,
        accounts=2000 if quick else args.accounts,
        burst=300 if quick else max(1000, round(150 * seconds)),
        latency_burst=100 if quick else 1000,
        ops=50 if quick else 200,
        rss_logins=2000 if quick else args.rss_logins,
        run_dir=run_dir,
    )
    return options, args.json, bool(args.keep_logs)


def main(argv: list[str] | None = None) -> int:
    options, json_path, keep_logs = parse(sys.argv[1:] if argv is None else argv)
    print(f"bench: logs in {options.run_dir}", flush=True)
    results = uvloop.run(Run(options).execute())
    results["targets"] = [target.row() for target in report.targets(results)]
    print()
    print(report.table(results))
    report.write_json(results, json_path)
    print(f"\nbench: results written to {json_path}")
    if not keep_logs and not results["failures"]:
        import shutil

        shutil.rmtree(options.run_dir, ignore_errors=True)
    return 1 if results["failures"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
