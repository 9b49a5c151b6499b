"""The live hub: turns recorded events into pushes for this process's clients, and pushes what
time alone changes.

Each process delivers to its own clients only, from its own running figures
(app/flow/figures.py), and works only for rooms that have someone in them:

* every event -> one `delta` to the site's station rooms (masked) and one to its supervisor
  room (full), carrying the event's sequence number, in order;
* `called`/`recalled` -> an immediate `call` to the display room (never coalesced);
* display rooms and the city room get the site's `snapshot`, coalesced: at most one per
  DISPLAY_INTERVAL per site (the first at once, the rest at the end of the window);
* a person's phone (their ticket room, joined with the ticket's code) gets their own view at
  once when their visit changes (a call makes it vibrate), and, coalesced to one pass per
  TICKET_INTERVAL per site, whenever their place in the queue moves: only the phones whose
  view changed are sent anything;
* when a person's observation ends, `ready` goes to the display room, the observation and
  exit station rooms and the supervisor room, by exactly one process (a lease), through the
  message queue.

The process that records an event delivers it at once and, with a message queue, announces
the site's new sequence number to the other processes; each of them reads the events it has
not folded yet (only that gap) when it has clients of that site. A lost announcement is
made up by the next one, or by the check every DISPLAY_REFRESH seconds.

Nothing here may fail a request: a push that cannot be sent is logged and dropped; clients
resync from the next snapshot.
"""
from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from flask_socketio import SocketIO

from app.domain.permissions import Principal, view_level
from app.domain.visit import Event, EventType, State, Visit
from app.domain.vocabulary import STATIONS, Station
from app.flow import phone_tickets, queries
from app.flow import sites as site_flow
from app.flow.services import Services, services_of

from . import payloads, rooms
from .credentials import CredentialWatch
from .leases import LeaseUnavailable, leases_for
from .queue import ReportingRedisManager, reporting_failures

log = logging.getLogger(__name__)

DISPLAY_INTERVAL = 0.25  # seconds: at most four display snapshots per second per site
TICKET_INTERVAL = 2.0  # seconds: the phones' places in their queues, at most once per this per site
TICKET_BATCH = 100  # phones sent in a row in a round, then
TICKET_PAUSE = 0.02  # seconds of pause (bench/push.py: staff push p99 1 s -> about 50 ms with 2,000 phones)
TICK = 0.1  # seconds: the worker's longest sleep
RESCAN_EVERY = 10.0  # seconds: look in the database for observations ending soon
# Displays only ever receive snapshots, and another process's announcement can be lost (a
# Redis blip): every DISPLAY_REFRESH seconds each process checks the log of the sites its
# clients watch and re-sends their display snapshots.
DISPLAY_REFRESH = 10.0
RESCAN_AHEAD = timedelta(seconds=30)
RESCAN_BEHIND = timedelta(minutes=10)  # after a restart, announce what became ready meanwhile
LEASE_RETRY = timedelta(seconds=2)  # when Redis cannot say who announces, ask again this much later
NAMESPACE = "/"


class LiveHub:
    def __init__(self, app: Flask, socketio: SocketIO):
        self.app = app
        self.socketio = socketio
        self.services: Services = services_of(app)
        self.display_interval = app.config.get("LIVE_DISPLAY_INTERVAL", DISPLAY_INTERVAL)
        self.display_refresh = app.config.get("LIVE_DISPLAY_REFRESH", DISPLAY_REFRESH)
        self.leases = leases_for(app.config["SOCKETIO_MESSAGE_QUEUE"])
        self.manager = socketio.server.manager
        if isinstance(self.manager, ReportingRedisManager):
            self.manager.on_change = self.on_heard
        self._lock = threading.Lock()
        self._site_locks: dict[str, threading.RLock] = {}
        self._wake = threading.Event()
        self._delivered: dict[str, int] = {}  # site -> last seq delivered to (or skipped for) our clients
        self._heard: dict[str, int] = {}  # site -> a seq another process announced, not delivered yet
        self._dirty: set[str] = set()
        self._last_flush: dict[str, float] = {}
        # Phones here, by site and visit (the ticket rooms of this process's clients), and what
        # each visit's phones were last sent (its signature).
        self._followers: dict[str, Counter[str]] = {}
        self._ticket_dirty: set[str] = set()
        self._ticket_flush: dict[str, float] = {}
        self._ticket_sent: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._ticket_rounds: set[str] = set()  # sites with a round under way
        # (due, site, visit id, ticket, leave_at); due is leave_at unless a lease must be retried.
        self._timers: list[tuple[datetime, str, str, str, datetime]] = []
        self._timed: set[str] = set()
        self._next_rescan = 0.0
        self._next_refresh = 0.0
        self._running = False
        self._worker = None
        # What this process built, by kind: the tests read it to see that nothing is computed
        # for an empty room.
        self.built: Counter = Counter()
        # Closes the sockets whose credential ended (started and stopped with the hub).
        self.credentials = CredentialWatch(app, socketio)

    # --- lifecycle ---
    def start(self) -> None:
        with self._lock:
            if self._running:
                return
            self._running = True
        self._worker = self.socketio.start_background_task(self._run)
        self.credentials.start()

    def stop(self) -> None:
        self._running = False
        self.credentials.stop()
        self._wake.set()
        worker, self._worker = self._worker, None
        if worker is not None and hasattr(worker, "join"):
            worker.join(timeout=5)

    # --- who is listening here ---
    def _occupied(self, room: str) -> bool:
        return bool(self.manager.rooms.get(NAMESPACE, {}).get(room))

    def _watched_sites(self) -> set[str]:
        """Sites with at least one client of this process in one of their rooms."""
        sites = {rooms.site_of(room) for room, members in self.manager.rooms.get(NAMESPACE, {}).items() if members}
        sites.discard(None)
        if self._occupied(rooms.CITY_ROOM):
            sites |= set(site_flow.site_ids(self.services))
        return sites  # type: ignore[return-value]

    def _has_clients(self, site_id: str) -> bool:
        return self._occupied(rooms.CITY_ROOM) or bool(self._followers.get(site_id)) or any(
            self._occupied(room) for room in (rooms.display_room(site_id), rooms.dashboard_room(site_id),
                                              rooms.supervisor_room(site_id),
                                              *(rooms.station_room(site_id, station) for station in STATIONS)))

    # --- snapshots for joins and resyncs ---
    def snapshot_for(self, principal: Principal, *, site: str | None, view: str) -> dict[str, Any]:
        """The snapshot of a view. What it shows follows the view, not who asks: an admin
        watching a station view sees it masked, like its deltas."""
        now = self.services.clock.now()
        figures = self.services.figures
        if view == "city":
            rows = []
            for row in site_flow.visible_sites(self.services, principal):
                with figures.today(row.site.id, seq=row.seq) as model:
                    rows.append(payloads.city_row(payloads.display_snapshot(model, now=now)))
            return {"view": "city", "sites": rows}
        assert site is not None
        with figures.today(site) as model:
            if view in ("display", "dashboard"):  # counts only
                body = payloads.display_snapshot(model, now=now)
            else:
                level = "masked" if view == "station" else view_level(principal)
                body = payloads.staff_snapshot(model, now=now, level=level)
        with self._site_lock(site):  # deltas go on from this snapshot
            self._delivered.setdefault(site, body["seq"])
        body["view"] = view
        return body

    # --- phones following their own ticket ---
    def follow(self, site_id: str, visit_id: str) -> dict[str, Any]:
        """A phone joined its ticket room here: its view now (app/live/handlers.py sends it)."""
        with self._lock:
            self._followers.setdefault(site_id, Counter())[visit_id] += 1
        with self._site_lock(site_id):
            if self._delivered.get(site_id) is None:
                with self.services.figures.today(site_id) as model:
                    self._delivered[site_id] = model.seq
        return self.ticket_now(site_id, visit_id)

    def unfollow(self, site_id: str, visit_id: str) -> None:
        with self._lock:
            followers = self._followers.get(site_id)
            if followers is None:
                return
            followers[visit_id] -= 1
            if followers[visit_id] <= 0:
                del followers[visit_id]
                self._ticket_sent.pop((site_id, visit_id), None)
            if not followers:
                del self._followers[site_id]

    def ticket_now(self, site_id: str, visit_id: str) -> dict[str, Any]:
        """One phone's view, fresh (a join, a resync after sleep): the coalesced pass sends its
        phones only what changed after it."""
        view = phone_tickets.views(self.services, site_id, [visit_id])[visit_id]
        self._ticket_sent[(site_id, visit_id)] = payloads.ticket_signature(view)
        self.built["ticket"] += 1
        return payloads.ticket_message(view)

    def _followed(self, site_id: str) -> list[str]:
        with self._lock:
            return list(self._followers.get(site_id, ()))

    def _send_tickets(self, site_id: str, visit_ids: list[str], *, seq: int | None, paced: bool = False) -> None:
        """The views of these followed visits, to the phones whose view changed since last sent.
        `paced`: a round for the whole site, sent TICKET_BATCH phones at a time with a pause
        between, so that the staff's pushes and the phones' own calls are not queued behind it."""
        if not visit_ids:
            return
        views = phone_tickets.views(self.services, site_id, visit_ids, seq=seq)
        sent = 0
        for visit_id, view in views.items():
            signature = payloads.ticket_signature(view)
            if self._ticket_sent.get((site_id, visit_id)) == signature:
                continue
            if paced and sent and sent % TICKET_BATCH == 0:
                self.socketio.sleep(TICKET_PAUSE)
                if (site_id, visit_id) not in self._ticket_sent:
                    continue  # the phone left meanwhile
            self._ticket_sent[(site_id, visit_id)] = signature
            self._emit("ticket", payloads.ticket_message(view), rooms.ticket_room(site_id, visit_id))
            self.built["ticket"] += 1
            sent += 1

    def _flush_tickets(self, monotonic: float) -> None:
        """Start a round for each site whose phones' places may have moved (one at a time per site)."""
        with self._lock:
            due = [site for site in self._ticket_dirty if site not in self._ticket_rounds
                   and monotonic - self._ticket_flush.get(site, 0.0) >= TICKET_INTERVAL]
            for site in due:
                self._ticket_dirty.discard(site)
                self._ticket_flush[site] = monotonic
                self._ticket_rounds.add(site)
        for site_id in due:
            self.socketio.start_background_task(self._ticket_round, site_id)

    def _ticket_round(self, site_id: str) -> None:
        """Every phone of a site whose view changed: in its own task, outside the site's lock."""
        try:
            with self.app.app_context():
                self._send_tickets(site_id, self._followed(site_id), seq=self._delivered.get(site_id), paced=True)
        except Exception as exc:  # noqa: BLE001 - a round may fail; the next one sends what changed
            log.error("phone ticket round for site %s failed: %s", site_id, type(exc).__name__)
        finally:
            with self._lock:
                self._ticket_rounds.discard(site_id)

    # --- events recorded here, or heard of ---
    def on_commit(self, site_id: str, changes: list[tuple[Event, Visit | None]]) -> None:
        """This process has just recorded `changes` (already folded into its figures)."""
        seq = changes[-1][0].seq
        for event, visit in changes:  # whoever listens, here or elsewhere, hears "OK to leave" on time
            if event.type == EventType.INJECTED and visit is not None and visit.leave_at is not None and visit.ticket:
                self._schedule(site_id, visit.id, visit.ticket, visit.leave_at)
        try:
            self._deliver(site_id, known=seq)
        except Exception as exc:  # noqa: BLE001 - never fail the request that recorded the action
            log.error("live push for site %s failed: %s", site_id, type(exc).__name__)
        if isinstance(self.manager, ReportingRedisManager):
            try:
                self.manager.announce_change(site_id, seq)
            except Exception as exc:  # noqa: BLE001 - the others catch up at their next check
                log.warning("change of site %s not announced: %s", site_id, type(exc).__name__)

    def on_heard(self, site_id: str, seq: int) -> None:
        """Another process recorded events of a site up to `seq` (from the message queue)."""
        with self._lock:
            if seq > self._heard.get(site_id, 0):
                self._heard[site_id] = seq
        self._wake.set()

    def _site_lock(self, site_id: str) -> threading.RLock:
        with self._lock:
            return self._site_locks.setdefault(site_id, threading.RLock())

    def _deliver(self, site_id: str, *, known: int | None) -> None:
        """Push the site's events after the last one delivered, in order, to the rooms of this
        process that have someone in them. `known`: a recorded seq (None: ask the log)."""
        with self._site_lock(site_id):
            if not self._has_clients(site_id):
                self._delivered.pop(site_id, None)  # whoever joins next starts from a snapshot
                return
            delivered = self._delivered.get(site_id)
            if delivered is None:  # nobody listened until now: they join with a snapshot
                with self.services.figures.today(site_id, seq=known) as model:
                    self._delivered[site_id] = model.seq
                self._mark_dirty(site_id)
                return
            changes = self.services.figures.changes_since(site_id, delivered, known=known)
            if changes is None:  # too far behind: the clients will see the gap and resync
                with self.services.figures.today(site_id) as model:
                    self._delivered[site_id] = model.seq
                self._mark_dirty(site_id)
                return
            if changes:
                self._push(site_id, changes)
                self._delivered[site_id] = changes[-1][0].seq
                self._mark_dirty(site_id)

    def _push(self, site_id: str, changes: list[tuple[Event, Visit | None]]) -> None:
        now = self.services.clock.now()
        stations = [room for room in (rooms.station_room(site_id, station) for station in STATIONS)
                    if self._occupied(room)]
        supervisor = rooms.supervisor_room(site_id)
        supervised = self._occupied(supervisor)
        display = rooms.display_room(site_id)
        displayed = self._occupied(display)
        for event, visit in changes:
            if stations:
                self._emit("delta", payloads.delta_message(event, visit, level="masked", now=now), stations)
                self.built["station_delta"] += 1
            if supervised:
                self._emit("delta", payloads.delta_message(event, visit, level="full", now=now), supervisor)
                self.built["supervisor_delta"] += 1
            if displayed and visit is not None and event.type in payloads.CALL_EVENTS:
                self._emit("call", payloads.call_message(event, visit), display)
                self.built["call"] += 1
        # The people whose own visit changed hear it at once (a call: now); the others' places in
        # their queues move with the next coalesced pass.
        followed = set(self._followed(site_id))
        if followed:
            changed = list(dict.fromkeys(visit.id for _, visit in changes if visit is not None and visit.id in followed))
            self._send_tickets(site_id, changed, seq=changes[-1][0].seq)

    def _emit(self, event: str, body: dict[str, Any], to: str | list[str]) -> None:
        """To this process's clients only: every process delivers to its own."""
        self.socketio.emit(event, body, to=to, ignore_queue=True)

    def _mark_dirty(self, site_id: str) -> None:
        with self._lock:
            self._dirty.add(site_id)
            if site_id in self._followers:
                self._ticket_dirty.add(site_id)
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
                except Exception as exc:  # noqa: BLE001 - a background worker must outlive any one failure
                    log.error("live worker step failed: %s", type(exc).__name__)
                self._wake.wait(self._sleep_for())
                self._wake.clear()

    def _sleep_for(self) -> float:
        with self._lock:
            if self._heard:
                return 0.0
            if not self._dirty:
                return TICK
            oldest = min(self._last_flush.get(site, 0.0) for site in self._dirty)
        return max(0.0, min(TICK, oldest + self.display_interval - time.monotonic()))

    def _step(self) -> None:
        monotonic = time.monotonic()
        with self._lock:
            heard, self._heard = self._heard, {}
        for site_id, seq in heard.items():
            self._deliver(site_id, known=seq)
        if monotonic >= self._next_rescan:
            self._next_rescan = monotonic + RESCAN_EVERY
            self._rescan()
        if monotonic >= self._next_refresh:
            self._next_refresh = monotonic + self.display_refresh
            self._refresh()
        self._flush_displays(monotonic)
        self._flush_tickets(monotonic)
        self._announce_ready()

    def _flush_displays(self, monotonic: float) -> None:
        with self._lock:
            due = [site for site in self._dirty if monotonic - self._last_flush.get(site, 0.0) >= self.display_interval]
            for site in due:
                self._dirty.discard(site)
                self._last_flush[site] = monotonic
        for site_id in due:
            self.push_display(site_id)

    def push_display(self, site_id: str) -> None:
        """The site's snapshot (counts, no person) to its display and dashboard rooms and its
        row to the city room, if anyone here watches them: nothing is computed for an empty room."""
        snapshots = [room for room in (rooms.display_room(site_id), rooms.dashboard_room(site_id))
                     if self._occupied(room)]
        city = self._occupied(rooms.CITY_ROOM)
        if not snapshots and not city:
            return
        now = self.services.clock.now()
        with self.services.figures.today(site_id, seq=self._delivered.get(site_id)) as model:
            body = payloads.display_snapshot(model, now=now)
        self.built["display_snapshot"] += 1
        for room in snapshots:
            self._emit("snapshot", dict(body, view=room.rsplit(":", 1)[1]), room)
        if city:
            self._emit("site", payloads.city_row(body), rooms.CITY_ROOM)

    def _refresh(self) -> None:
        """Catch up the sites our clients watch (an announcement may have been lost) and
        re-send their display snapshots (the board's countdowns and ready flags move with time)."""
        for site_id in self._watched_sites():
            self._deliver(site_id, known=None)
            self._mark_dirty(site_id)

    def _rescan(self) -> None:
        now = self.services.clock.now()
        ending = queries.observations_ending(self.services, after=now - RESCAN_BEHIND, before=now + RESCAN_AHEAD)
        for site_id, visit_id, ticket, leave_at in ending:
            self._schedule(site_id, visit_id, ticket, leave_at)

    def _announce_ready(self) -> None:
        now = self.services.clock.now()
        due = []
        with self._lock:
            while self._timers and self._timers[0][0] <= now:
                due.append(heapq.heappop(self._timers))
        for _due, site_id, visit_id, ticket, leave_at in due:
            visit = queries.visit_now(self.services, site_id, visit_id)
            if visit.state != State.OBSERVING:
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
                rooms.station_room(site_id, Station.OBSERVATION),
                rooms.station_room(site_id, Station.EXIT),
                rooms.supervisor_room(site_id),
            ]
            try:
                with reporting_failures(self.manager):
                    self.socketio.emit("ready", message, to=targets)
            except Exception as exc:  # noqa: BLE001 - the queue lost it: we keep the lease and try again
                log.warning("ready not published: %s", type(exc).__name__)
                with self._lock:
                    heapq.heappush(self._timers, (now + LEASE_RETRY, site_id, visit_id, ticket, leave_at))
                continue
            self._mark_dirty(site_id)  # the board's "OK to leave" column changed
        if len(self._timed) > 50_000:
            with self._lock:
                self._timed = {entry[2] for entry in self._timers}
