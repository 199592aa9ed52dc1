"""The worker's broker consumer, reconnecting quickly when the broker comes back."""

from __future__ import annotations

from typing import Any

from celery.worker.consumer import Consumer

# Kombu's defaults wait 2 s, then 4, 6, ... up to 30 s between tries: a Redis restart of a
# few seconds would leave workers idle for half a minute. Try every second or two instead.
RETRY = {"interval_start": 0.5, "interval_step": 0.5, "interval_max": 2.0}


class QuickReconnectConsumer(Consumer):
    def ensure_connected(self, conn: Any) -> Any:
        ensure = conn.ensure_connection

        def quickly(*args: Any, **kwargs: Any) -> Any:
            return ensure(*args, **{**kwargs, **RETRY})

        conn.ensure_connection = quickly
        return super().ensure_connected(conn)
