"""Leases: with several server processes, exactly one of them emits each time-driven event.

In-process (no message queue) a set is enough; with Redis as the message queue, the lease
is a Redis key set with NX and an expiry, so whichever process asks first wins.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid

log = logging.getLogger(__name__)


class LeaseUnavailable(RuntimeError):
    """Nobody can tell who holds the lease now (Redis is away): try again later."""


class LocalLeases:
    def __init__(self) -> None:
        self._held: dict[str, float] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str, ttl_seconds: float) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._held) > 10_000:
                self._held = {k: until for k, until in self._held.items() if until > now}
            if self._held.get(key, 0) > now:
                return False
            self._held[key] = now + ttl_seconds
            return True


class RedisLeases:
    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._me = uuid.uuid4().hex  # a lease this process holds can be taken again (a retry)

    def acquire(self, key: str, ttl_seconds: float) -> bool:
        name = f"siteflow:lease:{key}"
        try:
            if self._redis.set(name, self._me, nx=True, px=int(ttl_seconds * 1000)):
                return True
            return self._redis.get(name) == self._me.encode()
        except Exception as exc:  # noqa: BLE001 - a background worker must outlive any one failure
            log.warning("lease %s unavailable: %s", key.split(":", 1)[0], type(exc).__name__)
            raise LeaseUnavailable(key) from None


def leases_for(message_queue: str | None):
    if message_queue and message_queue.startswith(("redis://", "rediss://", "unix://")):
        return RedisLeases(message_queue)
    return LocalLeases()
