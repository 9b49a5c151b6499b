"""The Socket.IO message queue between server processes (Redis), with two additions.

Processes announce each site's newest sequence number to each other (`announce_change`),
whose live hub then reads from the log the events it has not seen; and the sessions and
tokens that ended (`announce_credential_ended`), whose sockets each process closes.

Second: the stock RedisManager logs a failed publish and drops the message. For most pushes that
is right (clients resync on the next gap), but a time-driven announcement has no later
event to repair it. Inside `reporting_failures()` a failed publish raises instead, so the
hub can retry the announcement. So does a publish that no process heard: right after an
outage every server's listener may still be reconnecting (even our own process delivers
to its clients only what it hears back from Redis).

Not covered: a publish heard by some processes while others are still reconnecting. Their
displays show the person as ready with their next snapshot (the board carries `ready`).
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import socketio


class NobodyListening(RuntimeError):
    """Published, but no server process was subscribed to hear it."""


# The processes tell each other "site S has recorded up to seq N" (each then reads what it
# missed itself) and "these sessions or tokens ended" (each closes their sockets) on the
# Socket.IO channel, as emits to namespaces no client can join.
CHANGES_NAMESPACE = "/siteflow-changes"
CREDENTIALS_NAMESPACE = "/siteflow-credentials"


class ReportingRedisManager(socketio.RedisManager):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._strict = threading.local()  # greenlet-local once gevent has patched threading
        self.on_change: Callable[[str, int], None] | None = None
        self.on_credential_ended: Callable[[str, list[int]], None] | None = None

    def _announce(self, namespace: str, data: list) -> None:
        self._publish({"method": "emit", "event": "announce", "data": data, "namespace": namespace, "room": None,
                       "skip_sid": None, "callback": None, "binary": False, "host_id": self.host_id})

    def announce_change(self, site: str, seq: int) -> None:
        """Tell the other processes that `site` has recorded events up to `seq`."""
        self._announce(CHANGES_NAMESPACE, [site, seq])

    def announce_credential_ended(self, kind: str, ids: list[int]) -> None:
        """Tell the other processes that these sessions or tokens ended."""
        self._announce(CREDENTIALS_NAMESPACE, [kind, list(ids)])

    def _handle_emit(self, message):
        namespace = message.get("namespace")
        if namespace == CHANGES_NAMESPACE:
            site, seq = message["data"]
            if self.on_change is not None and isinstance(site, str) and isinstance(seq, int):
                self.on_change(site, seq)
            return None
        if namespace == CREDENTIALS_NAMESPACE:
            kind, ids = message["data"]
            if self.on_credential_ended is not None and kind in ("session", "token", "ticket") and isinstance(ids, list):
                self.on_credential_ended(kind, [ident for ident in ids if isinstance(ident, int)])
            return None
        return super()._handle_emit(message)

    @contextmanager
    def reporting_failures(self) -> Iterator[None]:
        self._strict.on = True
        try:
            yield
        finally:
            self._strict.on = False

    def _publish(self, data):  # pragma: no cover - exercised through real Redis in the tests
        if not getattr(self._strict, "on", False):
            return super()._publish(data)
        for attempt in (1, 2):
            try:
                if not self.connected:
                    self._redis_connect()
                heard = self.redis.publish(self.channel, self.json.dumps(data))
            except Exception:
                self.connected = False
                if attempt == 2:
                    raise
                continue
            if heard == 0:
                raise NobodyListening(self.channel)
            return heard


def client_manager(url: str | None, channel: str):
    if url and url.startswith(("redis://", "rediss://")):
        return ReportingRedisManager(url, channel=channel)
    if url:
        raise ValueError("SOCKETIO_MESSAGE_QUEUE must be a redis:// URL")
    return None  # in-process


@contextmanager
def reporting_failures(manager) -> Iterator[None]:
    if isinstance(manager, ReportingRedisManager):
        with manager.reporting_failures():
            yield
    else:
        yield
