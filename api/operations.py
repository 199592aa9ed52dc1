"""Operations endpoints, without an API key: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

operations = APIRouter()


@operations.get("/healthz", include_in_schema=True)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@operations.get("/readyz", responses={503: {"description": "Redis or the broker is down"}})
async def readyz(request: Request) -> JSONResponse:
    checks = await request.app.state.readiness()
    ready = all(checks.values())
    body = {"status": "ready" if ready else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)


@operations.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    # In multi-process mode this reads every process's files: off the event loop.
    body = await run_in_threadpool(generate_latest, request.app.state.metrics_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
