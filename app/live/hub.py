"""The live hub: turns committed events into pushes, and pushes what time alone changes.

* every event -> one `delta` to the site's station rooms (masked) and one to its
  supervisor room (full), carrying the event's sequence number;
* `called`/`recalled` -> an immediate `call` to the display room (never coalesced);
* display rooms and the city room get the site's `snapshot`, coalesced: at most one per
  DISPLAY_INTERVAL per site (the first at once, the rest at the end of the window);
* when a person's observation ends, `ready` goes to the display room, the observation and
  exit station rooms and the supervisor room, by exactly one process (a lease).

Nothing here may fail a request: a push that cannot be sent is logged and dropped,
clients resync from the next snapshot.
"""
from __future__ import annotations

import heapq
import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from flask_socketio import SocketIO

from app.domain import waits
from app.domain.permissions import Principal, view_level
from app.domain.visit import Event, Visit
from app.domain.vocabulary import STATIONS
from app.flow.services import Services

from . import payloads, rooms
from .leases import LeaseUnavailable, leases_for
from .queue import reporting_failures

log = logging.getLogger(__name__)

DISPLAY_INTERVAL = 0.25  # seconds: at most four display snapshots per second per site
TICK = 0.1  # seconds: the worker's longest sleep
RESCAN_EVERY = 10.0  # seconds: look in the database for observations ending soon
# Displays only ever receive snapshots, so a lost one (a Redis blip) would leave a screen
# stale until the next action: every DISPLAY_REFRESH seconds one process re-sends each
# site's display snapshot.
DISPLAY_REFRESH = 10.0
RESCAN_AHEAD = timedelta(seconds=30)
RESCAN_BEHIND = timedelta(minutes=10)  # after a restart, announce what became ready meanwhile
LEASE_RETRY = timedelta(seconds=2)  # when Redis cannot say who announces, ask again this much later


class LiveHub:
    def __init__(self, app: Flask, socketio: SocketIO):
        self.app = app
        self.socketio = socketio
        self.services: Services = app.extensions["siteflow"]
        self.display_interval = app.config.get("LIVE_DISPLAY_INTERVAL", DISPLAY_INTERVAL)
        self.display_refresh = app.config.get("LIVE_DISPLAY_REFRESH", DISPLAY_REFRESH)
        self.leases = leases_for(app.config["SOCKETIO_MESSAGE_QUEUE"])
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._dirty: set[str] = set()
        self._last_flush: dict[str, float] = {}
        # (due, site, visit id, ticket, leave_at); due is leave_at unless a lease must be retried.
        self._timers: list[tuple[datetime, str, str, str, datetime]] = []
        self._timed: set[str] = set()
        self._next_rescan = 0.0
        self._next_refresh = 0.0
        self._running = False
        self._worker = None

    # --- lifecycle ---
    def start(self) -> None:
        with self._lock:
            if self._running:
                return
            self._running = True
        self._worker = self.socketio.start_background_task(self._run)

    def stop(self) -> None:
        self._running = False
        self._wake.set()
        worker, self._worker = self._worker, None
        if worker is not None and hasattr(worker, "join"):
            worker.join(timeout=5)

    # --- snapshots for joins and resyncs ---
    def snapshot_for(self, principal: Principal, *, site: str, view: str) -> dict[str, Any]:
        """The snapshot of a view. What it shows follows the view, not who asks: an admin
        watching a station view sees it masked, like its deltas."""
        now = self.services.clock.now()
        if view == "city":
            rows = []
            for site_id in self.services.store.site_ids():
                if principal.covers(site_id):
                    site_row, active = self.services.store.active_visits_at_seq(site_id)
                    rows.append(payloads.city_row(payloads.display_snapshot(site_row.site, active, seq=site_row.seq, now=now)))
            return {"view": "city", "sites": rows}
        site_row, active = self.services.store.active_visits_at_seq(site)
        recent = self._recent(site, now)
        if view == "display":
            body = payloads.display_snapshot(site_row.site, active, seq=site_row.seq, now=now, recent=recent)
        else:
            level = "masked" if view == "station" else view_level(principal)
            body = payloads.staff_snapshot(site_row.site, active, seq=site_row.seq, now=now, level=level,
                                           recent=recent)
        body["view"] = view
        return body

    # --- commits ---
    def on_commit(self, site_id: str, changes: list[tuple[Event, Visit]]) -> None:
        try:
            self._push_changes(site_id, changes)
        except Exception as exc:  # never fail the request that recorded the action
            log.error("live push for site %s failed: %s", site_id, type(exc).__name__)

    def _push_changes(self, site_id: str, changes: list[tuple[Event, Visit]]) -> None:
        staff_rooms = [rooms.station_room(site_id, station) for station in STATIONS]
        now = self.services.clock.now()
        for event, visit in changes:
            self.socketio.emit("delta", payloads.delta_message(event, visit, level="masked", now=now), to=staff_rooms)
            self.socketio.emit(
                "delta", payloads.delta_message(event, visit, level="full", now=now), to=rooms.supervisor_room(site_id)
            )
            if event.type in payloads.CALL_EVENTS:
                self.socketio.emit("call", payloads.call_message(event, visit), to=rooms.display_room(site_id))
            if event.type == "injected" and visit.leave_at is not None and visit.ticket:
                self._schedule(site_id, visit.id, visit.ticket, visit.leave_at)
        with self._lock:
            self._dirty.add(site_id)
        self._wake.set()

    def _schedule(self, site_id: str, visit_id: str, ticket: str, leave_at: datetime) -> None:
        with self._lock:
            if visit_id in self._timed:
                return
            self._timed.add(visit_id)
            heapq.heappush(self._timers, (leave_at, site_id, visit_id, ticket, leave_at))
        self._wake.set()

    # --- the worker ---
    def _run(self) -> None:
        with self.app.app_context():
            while self._running:
                try:
                    self._step()
                except Exception as exc:
                    log.error("live worker step failed: %s", type(exc).__name__)
                self._wake.wait(self._sleep_for())
                self._wake.clear()

    def _sleep_for(self) -> float:
        with self._lock:
            if not self._dirty:
                return TICK
            oldest = min(self._last_flush.get(site, 0.0) for site in self._dirty)
        return max(0.0, min(TICK, oldest + self.display_interval - time.monotonic()))

    def _step(self) -> None:
        monotonic = time.monotonic()
        if monotonic >= self._next_rescan:
            self._next_rescan = monotonic + RESCAN_EVERY
            self._rescan()
        if monotonic >= self._next_refresh:
            self._next_refresh = monotonic + self.display_refresh
            self._refresh_displays()
        self._flush_displays(monotonic)
        self._announce_ready()

    def _flush_displays(self, monotonic: float) -> None:
        with self._lock:
            due = [site for site in self._dirty if monotonic - self._last_flush.get(site, 0.0) >= self.display_interval]
            for site in due:
                self._dirty.discard(site)
                self._last_flush[site] = monotonic
        for site_id in due:
            self.push_display(site_id)

    def _recent(self, site_id: str, now: datetime) -> list[waits.ServiceEvent]:
        """The service events of the last half hour, for expected waits."""
        return self.services.store.service_events(site_id, since=now - waits.WINDOW)

    def push_display(self, site_id: str) -> None:
        site_row, active = self.services.store.active_visits_at_seq(site_id)
        now = self.services.clock.now()
        body = payloads.display_snapshot(site_row.site, active, seq=site_row.seq, now=now,
                                         recent=self._recent(site_id, now))
        body["view"] = "display"
        self.socketio.emit("snapshot", body, to=rooms.display_room(site_id))
        self.socketio.emit("site", payloads.city_row(body), to=rooms.CITY_ROOM)

    def _refresh_displays(self) -> None:
        period = int(time.time() // self.display_refresh)
        for site_id in self.services.store.site_ids():
            try:
                if not self.leases.acquire(f"refresh:{site_id}:{period}", ttl_seconds=2 * self.display_refresh):
                    continue  # another process refreshes this site in this period
            except LeaseUnavailable:
                return
            with self._lock:
                self._dirty.add(site_id)

    def _rescan(self) -> None:
        now = self.services.clock.now()
        ending = self.services.store.observations_ending(after=now - RESCAN_BEHIND, before=now + RESCAN_AHEAD)
        for site_id, visit_id, ticket, leave_at in ending:
            self._schedule(site_id, visit_id, ticket, leave_at)

    def _announce_ready(self) -> None:
        now = self.services.clock.now()
        due = []
        with self._lock:
            while self._timers and self._timers[0][0] <= now:
                due.append(heapq.heappop(self._timers))
        for _due, site_id, visit_id, ticket, leave_at in due:
            visit = self.services.store.visit(site_id, visit_id)
            if visit.state != "observing":
                continue  # released early or in the emergency area
            try:
                if not self.leases.acquire(f"ready:{site_id}:{visit_id}", ttl_seconds=3600):
                    continue  # another process announces it
            except LeaseUnavailable:
                with self._lock:
                    heapq.heappush(self._timers, (now + LEASE_RETRY, site_id, visit_id, ticket, leave_at))
                continue
            message = payloads.ready_message(site_id, ticket, leave_at)
            targets = [
                rooms.display_room(site_id),
                rooms.station_room(site_id, "observation"),
                rooms.station_room(site_id, "exit"),
                rooms.supervisor_room(site_id),
            ]
            try:
                with reporting_failures(self.socketio.server.manager):
                    self.socketio.emit("ready", message, to=targets)
            except Exception as exc:  # the queue lost it: we keep the lease and try again
                log.warning("ready not published: %s", type(exc).__name__)
                with self._lock:
                    heapq.heappush(self._timers, (now + LEASE_RETRY, site_id, visit_id, ticket, leave_at))
                continue
            with self._lock:
                self._dirty.add(site_id)  # the board's "OK to leave" column changed
        if len(self._timed) > 50_000:
            with self._lock:
                self._timed = {entry[2] for entry in self._timers}
