"""Every live connection is bound to the credential that opened it: a bearer token (an
integration, a paired display) or a staff session. When that credential ends — a token
revoked, a session signed out, ended by its user or an admin, its password changed or reset,
its account disabled, or idle or past its time, a phone ticket's code replaced or expired — its sockets are told why (`error` with code
`credential_ended`) and disconnected, on every process:

* the flow layer says so at once (`Services.credential_ended`), and with a message queue the
  other processes hear it through Redis;
* each process also checks its own sockets' credentials every CHECK_EVERY seconds, which
  catches what no event announces (inactivity, a session's end of life) and any message
  the queue lost.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from flask import Flask
from flask_socketio import SocketIO

from app.domain.permissions import Principal
from app.flow import phone_tickets, staff_sessions, tokens
from app.flow.services import services_of

from . import handlers
from .queue import ReportingRedisManager

log = logging.getLogger(__name__)

CHECK_EVERY = 1.0  # seconds
# Phone tickets' codes end when replaced (announced at once) or at a time known in advance (the
# end of the site's day and its grace): checking them is for the rest, and needs no hurry.
TICKET_CHECK_EVERY = 30.0  # seconds


def credential_of(principal: Principal) -> tuple[str, int] | None:
    if principal.session_id is not None:
        return ("session", principal.session_id)
    if principal.token_id is not None:
        return ("token", principal.token_id)
    if principal.ticket_id is not None:
        return ("ticket", principal.ticket_id)
    return None


class CredentialWatch:
    def __init__(self, app: Flask, socketio: SocketIO):
        self.app = app
        self.socketio = socketio
        self.services = services_of(app)
        self.manager = socketio.server.manager
        self.services.credential_listeners.append(self.ended)
        if isinstance(self.manager, ReportingRedisManager):
            self.manager.on_credential_ended = self.heard
        self._running = False
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._worker = None
        self.disconnected = 0  # sockets closed for an ended credential (the tests read it)
        self._next_ticket_check = 0.0

    # --- told ---
    def ended(self, kind: str, ids: list[int]) -> None:
        """Credentials ended in this process: close their sockets here and on the others."""
        self._close(kind, set(ids))
        if isinstance(self.manager, ReportingRedisManager):
            try:
                self.manager.announce_credential_ended(kind, ids)
            except Exception as exc:  # noqa: BLE001  # the others find out at their next check
                log.warning("credential end not announced: %s", type(exc).__name__)

    def heard(self, kind: str, ids: list[int]) -> None:
        """Another process ended credentials."""
        if kind == "token":
            tokens.forget_cached()
        self._close(kind, set(ids))

    def _close(self, kind: str, ids: set[int]) -> None:
        for sid, principal in handlers.connections().items():
            if credential_of(principal) in {(kind, ident) for ident in ids}:
                self._disconnect(sid, kind)

    def _disconnect(self, sid: str, kind: str) -> None:
        message = {"session": "Your session has ended: sign in again.",
                   "ticket": "This ticket's code was replaced or has expired: ask the staff."}.get(
            kind, "This device's access was withdrawn.")
        try:
            self.socketio.emit("error", {"code": "credential_ended", "message": message, "credential": kind},
                               to=sid, ignore_queue=True)
            self.socketio.server.disconnect(sid, ignore_queue=True)
            self.disconnected += 1
        except Exception as exc:  # noqa: BLE001  # already gone
            log.info("socket already closed: %s", type(exc).__name__)

    # --- checked ---
    def start(self) -> None:
        with self._lock:
            if self._running:
                return
            self._running = True
            self._stopped = threading.Event()
        self._worker = self.socketio.start_background_task(self._run)

    def stop(self) -> None:
        """Stop checking, and wait for a check under way to finish (it may hold a database
        connection, which must be back before the database goes away)."""
        self._running = False
        self._stopped.set()
        worker, self._worker = self._worker, None
        if worker is not None and hasattr(worker, "join"):
            worker.join(timeout=5)

    def _run(self) -> None:
        with self.app.app_context():
            while self._running:
                started = time.monotonic()
                try:
                    self.check()
                except Exception as exc:  # noqa: BLE001 - the watch must outlive any one failure
                    log.error("credential check failed: %s", type(exc).__name__)
                self._stopped.wait(max(0.0, CHECK_EVERY - (time.monotonic() - started)))

    def check(self, *, tickets_now: bool = False) -> None:
        """Close this process's sockets whose session or token is no longer valid (phone tickets'
        codes every TICKET_CHECK_EVERY seconds, or now)."""
        bound = {sid: credential_of(principal) for sid, principal in handlers.connections().items()}
        sessions = [ident for kind, ident in filter(None, bound.values()) if kind == "session"]
        token_ids = [ident for kind, ident in filter(None, bound.values()) if kind == "token"]
        ticket_ids = [ident for kind, ident in filter(None, bound.values()) if kind == "ticket"]
        idle = timedelta(minutes=self.app.config["IDLE_MINUTES"])
        closed = {("session", ident) for ident in staff_sessions.closed_among(self.services, sessions, idle=idle)}
        closed |= {("token", ident) for ident in tokens.revoked_among(self.services, token_ids)}
        if ticket_ids and (tickets_now or time.monotonic() >= self._next_ticket_check):
            self._next_ticket_check = time.monotonic() + TICKET_CHECK_EVERY
            closed |= {("ticket", ident) for ident in phone_tickets.ended_among(self.services, ticket_ids)}
        for sid, credential in bound.items():
            if credential in closed:
                self._disconnect(sid, credential[0])
