"""The twostep app plus two baseline routes, served by the same processes as the real ones."""

from __future__ import annotations

from fastapi import FastAPI

from api.main import create_app as create_twostep_app

BASELINE_KEY = "twostep:bench:baseline"


def create_app() -> FastAPI:
    """``uvicorn --factory bench.app:create_app``: twostep from ``TWOSTEP_*``, and the baselines."""
    app = create_twostep_app()
    redis = app.state.twostep.store.redis

    @app.get("/bench/bare", include_in_schema=False)
    async def bare() -> dict[str, str]:
        return {}

    @app.get("/bench/redis", include_in_schema=False)
    async def one_redis_call() -> dict[str, str | None]:
        return {"value": await redis.get(BASELINE_KEY)}

    # For reference, not a target: the same call on the multiplexed connection the API's
    # scripts use (api/muxredis.py), so that the table shows what that client alone buys.
    mux = app.state.twostep.store.scripts.mux
    if mux is not None:

        @app.get("/bench/redis-mux", include_in_schema=False)
        async def one_mux_call() -> dict[str, str | None]:
            return {"value": await mux.execute_command("GET", BASELINE_KEY)}

    return app
