"""An in-memory event log for one or more sites: app.flow.ports.EventLog without SQL.

The unit tests run the real visit commands (app/flow/visits.py) against it. It keeps what
the SQL store keeps (events numbered per site, each visit as the fold of its events,
idempotency keys, ticket counters, audit entries), and a transaction's appends take effect
only when its block ends without an exception, as a commit would.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from app.domain.errors import NotFound
from app.domain.identity import document_key
from app.domain.site import Site
from app.domain.stock import STOCK_STREAM, Entry, LotStock, StockDraft, apply_stock, expire, lot_of
from app.domain.visit import AT_DESK, Draft, Event, EventType, State, Visit, apply, queue_order
from app.domain.vocabulary import Station


@dataclass
class SiteLog:
    """One site's committed log."""

    site: Site
    seq: int = 0
    events: list[Event] = field(default_factory=list)
    visits: dict[str, Visit] = field(default_factory=dict)
    keys: dict[str, tuple[Event, str | None]] = field(default_factory=dict)
    tickets: dict[date, int] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)
    lots: dict[str, LotStock] = field(default_factory=dict)


class MemoryTransaction:
    """app.flow.ports.SiteWrites over a SiteLog: reads see this transaction's own appends."""

    def __init__(self, log: SiteLog):
        self._log = log
        self.site = log.site
        self.seq = log.seq
        self.appended: list[tuple[Event, Visit | None]] = []
        self._visits = dict(log.visits)
        self._lots = dict(log.lots)
        self._keys: dict[str, tuple[Event, str | None]] = {}
        self._tickets = dict(log.tickets)
        self._audit: list[dict[str, Any]] = []

    # --- reads ---
    def visit(self, visit_id: str) -> Visit:
        if visit_id not in self._visits:
            raise NotFound(f"No visit {visit_id!r} at site {self.site.id}.", code="unknown_visit")
        return self._visits[visit_id]

    def _events(self) -> list[Event]:
        return self._log.events + [event for event, _ in self.appended]

    def event(self, seq: int) -> Event | None:
        return next((event for event in self._events() if event.seq == seq), None)

    def event_by_key(self, key: str) -> tuple[Event, str | None] | None:
        return self._keys.get(key) or self._log.keys.get(key)

    def visit_events(self, visit_id: str) -> list[Event]:
        return [event for event in self._events() if event.visit_id == visit_id]

    def visits_with_document(self, key: str, day: date) -> list[Visit]:
        return [visit for visit in self._visits.values()
                if visit.day == day and document_key(visit.person.document_type, visit.person.document_number) == key]

    def next_waiting(self, station: str) -> Visit | None:
        waiting = [visit for visit in self._visits.values() if visit.state == State.WAITING and visit.station == station]
        return min(waiting, key=queue_order) if waiting else None

    def visit_at_desk(self, station: str, desk: str) -> Visit | None:
        return next((visit for visit in self._visits.values()
                     if visit.station == station and visit.desk == desk and visit.state in AT_DESK), None)

    def observation_load(self) -> tuple[int, int]:
        visits = self._visits.values()
        observing = sum(1 for visit in visits if visit.state == State.OBSERVING)
        heading = sum(1 for visit in visits if visit.station == Station.INJECTION and visit.state in AT_DESK)
        return observing, heading

    # --- writes ---
    def next_ticket_number(self, day: date) -> int:
        self._tickets[day] = self._tickets.get(day, 0) + 1
        return self._tickets[day]

    def append(
        self, *, visit_id: str, current: Visit | None, draft: Draft, actor: str, at: datetime,
        idempotency_key: str | None = None, request_hash: str | None = None,
    ) -> tuple[Event, Visit]:
        event = Event(seq=self.seq + 1, site=self.site.id, visit_id=visit_id, type=draft.type, at=at, actor=actor,
                      station=draft.station, desk=draft.desk, data=draft.data)
        visit = apply(current, event)
        self.seq = event.seq
        self._visits[visit_id] = visit
        if idempotency_key:
            self._keys[idempotency_key] = (event, request_hash)
        if event.type == EventType.INJECTED:
            self._fold_into_lot(event)
        self.appended.append((event, visit))
        return event, visit

    # --- stock ---
    def lot(self, name: str, at: datetime) -> LotStock | None:
        found = self._lots.get(name)
        return expire(found, at) if found is not None else None


    def stock_day(self, day: date, start: datetime, end: datetime) -> tuple[dict[str, LotStock] | None, list[Entry]]:
        """The whole log (as the SQL store gives it for a past day): the ledger folds it all."""
        return None, [Entry(event.seq, event.type, event.at, event.data, event.desk, event.actor)
                      for event in self._events() if event.visit_id == STOCK_STREAM or event.type == EventType.INJECTED]

    def all_lots(self, at: datetime) -> dict[str, LotStock]:
        return {name: expire(lot, at) for name, lot in self._lots.items()}

    def append_stock(self, draft: StockDraft, *, actor: str, at: datetime, idempotency_key: str | None = None,
                     request_hash: str | None = None) -> Event:
        event = Event(seq=self.seq + 1, site=self.site.id, visit_id=STOCK_STREAM, type=draft.type, at=at, actor=actor,
                      desk=draft.desk, data=draft.data)
        self.seq = event.seq
        if idempotency_key:
            self._keys[idempotency_key] = (event, request_hash)
        self._fold_into_lot(event)
        self.appended.append((event, None))
        return event

    def _fold_into_lot(self, event: Event) -> None:
        name = lot_of(event.type, event.data)
        if name is None:
            return
        after = apply_stock(self.lot(name, event.at), event.type, event.data, at=event.at, seq=event.seq,
                            desk=event.desk)
        if after is not None:
            self._lots[name] = after

    def audit(self, values: dict[str, Any]) -> None:
        self._audit.append(values)

    def commit(self) -> None:
        log = self._log
        log.seq = self.seq
        log.events.extend(event for event, _ in self.appended)
        log.visits = self._visits
        log.keys.update(self._keys)
        log.tickets = self._tickets
        log.audit.extend(self._audit)
        log.lots = self._lots


class MemoryTicketCodes:
    """app.flow.ports.TicketCodes: the codes issued, by id (hashes only, as in the database)."""

    def __init__(self) -> None:
        self.codes: dict[int, dict[str, Any]] = {}

    def issue(self, *, code_hash: str, site_id: str, visit_id: str, day: date, at: datetime, expires_at: datetime,
              by: str) -> tuple[int, list[int]]:
        ended = [code_id for code_id, row in self.codes.items()
                 if (row["site_id"], row["visit_id"]) == (site_id, visit_id) and row["revoked_at"] is None]
        for code_id in ended:
            self.codes[code_id]["revoked_at"] = at
        code_id = len(self.codes) + 1
        self.codes[code_id] = {"code_hash": code_hash, "site_id": site_id, "visit_id": visit_id, "day": day,
                               "issued_at": at, "expires_at": expires_at, "revoked_at": None, "by": by}
        return code_id, ended


class NoBookings:
    """The unit tests' sites have no bookings: every check-in is a walk-in (bookings are tested
    against the database, tests/integration/test_appointments.py)."""

    def by_code(self, site_id: str, code: str) -> Any:
        raise NotFound(f"No booking {code} at site {site_id}.", code="unknown_appointment")

    def by_person(self, site_id: str, key: str, day: date) -> Any:
        return None


class MemoryEventLog:
    """app.flow.ports.EventLog for the sites it was given."""

    def __init__(self, *sites: Site):
        self.sites = {site.id: SiteLog(site) for site in sites}
        self.tickets = MemoryTicketCodes()
        self.appointments = NoBookings()

    def _site_log(self, site_id: str) -> SiteLog:
        if site_id not in self.sites:
            raise NotFound(f"No site {site_id!r}.", code="unknown_site")
        return self.sites[site_id]

    @contextmanager
    def site_transaction(self, site_id: str) -> Iterator[MemoryTransaction]:
        with self.sites_transaction([site_id]) as txs:
            yield txs[site_id]

    @contextmanager
    def sites_transaction(self, site_ids: list[str]) -> Iterator[dict[str, MemoryTransaction]]:
        txs = {site_id: MemoryTransaction(self._site_log(site_id)) for site_id in sorted(set(site_ids))}
        yield txs
        for tx in txs.values():
            tx.commit()

    def site_ids(self) -> list[str]:
        return sorted(self.sites)

    def visit_events(self, site_id: str, visit_id: str, *, up_to_seq: int | None = None) -> list[Event]:
        return [event for event in self._site_log(site_id).events
                if event.visit_id == visit_id and (up_to_seq is None or event.seq <= up_to_seq)]

    def site(self, site_id: str) -> SiteLog:
        return self._site_log(site_id)
