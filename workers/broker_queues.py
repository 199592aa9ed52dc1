"""Queue lengths for the worker's metrics endpoint, read through Celery's own broker
connection."""

from __future__ import annotations

import threading
from typing import Any

from celery import Celery


class BrokerQueues:
    """Queue lengths, read through Celery's own broker connection (whatever its transport;
    Redis: every priority list of the queue), kept between scrapes."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self._connection: Any = None
        self._lock = threading.Lock()  # scrapes come on threads; a channel is not shared

    def length(self, queue: str) -> int:
        with self._lock:
            return self._length(queue)

    def _length(self, queue: str) -> int:
        if self._connection is None:
            connection = self.app.connection_for_read()
            # A few seconds at most (broker_connection_timeout): a scrape must not hang.
            connection.ensure_connection(max_retries=1)
            self._connection = connection
        try:
            declared = self._connection.default_channel.queue_declare(queue=queue)
        except Exception:
            self._connection.release()
            self._connection = None
            raise
        return int(declared.message_count)
