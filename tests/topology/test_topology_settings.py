"""Topology settings: what each mode needs, refused early with a message that says why."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.settings import RedisMode, SentinelUrl
from tests.api_calls import make_settings


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"redis_mode": "sentinel"}, "TWOSTEP_REDIS_URL names the Sentinels"),
        (
            {"redis_mode": "sentinel", "redis_url": "sentinel://127.0.0.1:26379/0"},
            "TWOSTEP_REDIS_SENTINEL_MASTER",
        ),
        ({"redis_url": "sentinel://127.0.0.1:26379/0"}, "needs TWOSTEP_REDIS_MODE=sentinel"),
        ({"broker_url": "sentinel://127.0.0.1:26379/1"}, "TWOSTEP_BROKER_SENTINEL_MASTER"),
        (
            {"redis_mode": "cluster", "redis_url": "redis://10.0.0.1:7000/2"},
            "only database 0",
        ),
        (
            {
                "redis_mode": "cluster",
                "redis_url": "redis://10.0.0.1:7000/0",
                "broker_url": "redis://10.0.0.1:7000/1",
            },
            "the broker cannot run on Redis Cluster",
        ),
        (
            {
                "redis_mode": "cluster",
                "redis_url": "redis://10.0.0.1:7000",
                "broker_url": "redis://10.0.0.2:6379/1",
                "redis_min_replicas_ack": 1,
            },
            "not with TWOSTEP_REDIS_MODE=cluster",
        ),
        (
            {
                "redis_mode": "sentinel",
                "redis_url": "sentinel://127.0.0.1/0",
                "redis_sentinel_master": "m",
            },
            "needs a host and a port",
        ),
    ],
)
def test_an_incomplete_topology_is_refused_with_the_reason(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        make_settings(**overrides)


def test_a_sentinel_url_reads_as_kombu_reads_it() -> None:
    url = "sentinel://:s3cret@10.0.0.1:26379/2;sentinel://10.0.0.2:26380"
    parsed = SentinelUrl.parse(url)
    assert parsed.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26380))
    assert (parsed.db, parsed.password) == (2, "s3cret")
    settings = make_settings(
        redis_mode="sentinel", redis_url=url, redis_sentinel_master="state", broker_url=url
    )
    assert settings.redis_mode is RedisMode.SENTINEL
    assert settings.broker_master == "state"
