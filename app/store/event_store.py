"""The one place that writes: append an event and update its visit in one transaction.

Every write to a site runs inside `Store.site_transaction`, which first locks the site's
row. That serialises the writers of one site (SQLite: BEGIN IMMEDIATE; PostgreSQL: the
row lock of the UPDATE), which gives three properties at once:
  * the site's event sequence numbers are gap-free and in commit order, so live clients
    can detect a missed delta;
  * `call-next` can never hand the same person to two desks;
  * rules are always decided on the current state.
Writers of different sites do not wait for each other on PostgreSQL.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Select,
    and_,
    bindparam,
    case,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from app.domain.errors import Conflict, NotFound
from app.domain.identity import document_key
from app.domain.site import Site, parse_site
from app.domain.stock import (
    STOCK_STREAM,
    Entry,
    LotStock,
    StockDraft,
    StockEvent,
    apply_stock,
    expire,
    lot_of,
)
from app.domain.visit import Draft, Event, EventType, State, Visit, apply
from app.domain.vocabulary import Station

from .appointment_store import AppointmentStore
from .codec import visit_from_json, visit_to_json
from .database import WRITE
from .keyset import page_by_id
from .sealing import Sealer, seal_record, unseal_record
from .staff_store import StaffStore
from .tables import api_tokens, audit_log, day_rollups, events, lot_stocks, sites, visits
from .ticket_store import TicketStore

# The write path's statements, built once: building them per call (SQLAlchemy's coercion and
# cache-key work) was a third of an action's time (docs/PERFORMANCE.md).
_SITE_FOR_UPDATE = select(sites).where(sites.c.id == bindparam("site")).with_for_update()
_SITE_COUNTERS = update(sites).where(sites.c.id == bindparam("site"))  # SET seq, ticket_day, ticket_no
_VISIT = select(visits.c.data).where(visits.c.id == bindparam("visit"), visits.c.site_id == bindparam("site"))
_EVENT_BY_KEY = select(events).where(events.c.site_id == bindparam("site"), events.c.idempotency_key == bindparam("key"))
_EVENT_BY_SEQ = select(events).where(events.c.site_id == bindparam("site"), events.c.seq == bindparam("seq"))
_NEXT_WAITING = (
    select(visits.c.data)
    .where(visits.c.site_id == bindparam("site"), visits.c.station == bindparam("station"), visits.c.state == State.WAITING)
    .order_by(visits.c.priority.desc(), visits.c.queue_pos)
    .limit(1)
)
_AT_DESK = select(visits.c.data).where(
    visits.c.site_id == bindparam("site"), visits.c.station == bindparam("station"), visits.c.desk == bindparam("desk"),
    visits.c.state.in_((State.CALLED, State.SERVING)),
)
_HEADING = (visits.c.station == Station.INJECTION) & visits.c.state.in_((State.CALLED, State.SERVING))
_OBSERVATION_LOAD = select(
    func.coalesce(func.sum(case((visits.c.state == State.OBSERVING, 1), else_=0)), 0),
    func.coalesce(func.sum(case((_HEADING, 1), else_=0)), 0),
).where(visits.c.site_id == bindparam("site"), visits.c.active.is_(True))
_INSERT_EVENT = events.insert()
_LOTS = select(lot_stocks.c.data).where(lot_stocks.c.site_id == bindparam("site"))
_LOT = select(lot_stocks.c.data, lot_stocks.c.day, lot_stocks.c.day_opening).where(
    lot_stocks.c.site_id == bindparam("site"), lot_stocks.c.lot == bindparam("lot"))
# SET product, expires_on, data, day, day_opening, updated_at of one lot.
_UPDATE_LOT = update(lot_stocks).where(lot_stocks.c.site_id == bindparam("b_site"), lot_stocks.c.lot == bindparam("b_lot"))
_INSERT_LOT = lot_stocks.insert()
_LOT_DAYS = select(lot_stocks.c.data, lot_stocks.c.day, lot_stocks.c.day_opening).where(
    lot_stocks.c.site_id == bindparam("site"))
_INSERT_VISIT = visits.insert()
# SET the columns given; WHERE the row is still the version the rule decided on.
_UPDATE_VISIT = update(visits).where(visits.c.id == bindparam("b_id"), visits.c.version == bindparam("b_seen"))


@dataclass(frozen=True)
class SiteRow:
    site: Site
    revision: int
    seq: int


def _event_from_row(row, data: dict) -> Event:
    return Event(
        seq=row.seq,
        site=row.site_id,
        visit_id=row.visit_id,
        type=row.type,
        at=row.at,
        actor=row.actor,
        station=row.station,
        desk=row.desk,
        data=data,
    )


class SiteTransaction:
    """A write transaction holding the lock of one site."""

    def __init__(
        self, conn: Connection, site: Site, seq: int, ticket_day: date | None, ticket_no: int, sealer: Sealer,
    ):
        self.conn = conn
        self.sealer = sealer
        self._day_keys: dict[date, tuple] = {}
        self.site = site
        self.seq = seq
        self._ticket_day = ticket_day
        self._ticket_no = ticket_no
        self.appended: list[tuple[Event, Visit | None]] = []  # None: a stock event
        # This transaction's lots (`_lot_row`), as read or written.
        self._lots_read: dict[str, tuple[LotStock, date, LotStock | None] | None] = {}

    # --- personal data is sealed on the way in and opened on the way out ---
    def _visit(self, data: dict) -> Visit:
        return visit_from_json(unseal_record(self.sealer, self.conn, data))

    def _event(self, row) -> Event:
        return _event_from_row(row, unseal_record(self.sealer, self.conn, row.data))

    def _day_key(self, day: date, at: datetime) -> tuple:
        if day not in self._day_keys:
            self._day_keys[day] = self.sealer.day_key(self.conn, self.site.id, day, at)
        return self._day_keys[day]

    # --- reads under the lock ---
    def visit(self, visit_id: str) -> Visit:
        row = self.conn.execute(_VISIT, {"visit": visit_id, "site": self.site.id}).first()
        if row is None:
            raise NotFound(f"No visit {visit_id!r} at site {self.site.id}.", code="unknown_visit")
        return self._visit(row.data)

    def audit(self, values: dict) -> None:
        """An audit entry committed with the transaction's events (supervisor overrides)."""
        self.conn.execute(audit_log.insert().values(**values))

    def event_by_key(self, key: str) -> tuple[Event, str | None] | None:
        row = self.conn.execute(_EVENT_BY_KEY, {"site": self.site.id, "key": key}).first()
        return (self._event(row), row.request_hash) if row else None

    def event(self, seq: int) -> Event | None:
        row = self.conn.execute(_EVENT_BY_SEQ, {"site": self.site.id, "seq": seq}).first()
        return self._event(row) if row else None

    def visit_events(self, visit_id: str) -> list[Event]:
        """A visit's events in order, read under the lock (they agree with `visit`)."""
        rows = self.conn.execute(
            select(events).where(events.c.site_id == self.site.id, events.c.visit_id == visit_id).order_by(events.c.seq)
        )
        return [self._event(row) for row in rows]

    def visits_with_document(self, key: str, day: date) -> list[Visit]:
        rows = self.conn.execute(
            select(visits.c.data).where(visits.c.document_key == self.sealer.lookup(key), visits.c.day == day)
        )
        return [self._visit(row.data) for row in rows]

    def next_waiting(self, station: str) -> Visit | None:
        row = self.conn.execute(_NEXT_WAITING, {"site": self.site.id, "station": station}).first()
        return self._visit(row.data) if row else None

    def visit_at_desk(self, station: str, desk: str) -> Visit | None:
        row = self.conn.execute(_AT_DESK, {"site": self.site.id, "station": station, "desk": desk}).first()
        return self._visit(row.data) if row else None

    def observation_load(self) -> tuple[int, int]:
        """(people observing, people called or being served at injection), in one statement."""
        observing, heading = self.conn.execute(_OBSERVATION_LOAD, {"site": self.site.id}).one()
        return int(observing), int(heading)

    def next_ticket_number(self, day: date) -> int:
        if self._ticket_day != day:
            self._ticket_day, self._ticket_no = day, 0
        self._ticket_no += 1
        return self._ticket_no

    # --- the write ---
    def append(
        self,
        *,
        visit_id: str,
        current: Visit | None,
        draft: Draft,
        actor: str,
        at: datetime,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
    ) -> tuple[Event, Visit]:
        self.seq += 1
        event = Event(
            seq=self.seq,
            site=self.site.id,
            visit_id=visit_id,
            type=draft.type,
            at=at,
            actor=actor,
            station=draft.station,
            desk=draft.desk,
            data=draft.data,
        )
        visit = apply(current, event)
        day_key = self._day_key(visit.day, at)
        self.conn.execute(_INSERT_EVENT, {
            "site_id": event.site, "seq": event.seq, "visit_id": event.visit_id, "type": event.type,
            "station": event.station, "desk": event.desk, "actor": event.actor, "at": event.at,
            "data": seal_record(self.sealer, day_key, event.data), "idempotency_key": idempotency_key,
            "request_hash": request_hash,
        })
        columns = dict(
            ticket=visit.ticket,
            state=visit.state,
            station=visit.station,
            desk=visit.desk,
            priority=visit.priority,
            queue_pos=visit.queue_pos,
            active=visit.active,
            leave_at=visit.leave_at,
            version=visit.version,
            data=seal_record(self.sealer, day_key, visit_to_json(visit)),
            updated_at=at,
        )
        if current is None:
            self.conn.execute(_INSERT_VISIT, {
                "id": visit.id, "site_id": visit.site, "day": visit.day, "created_at": at,
                "document_key": self.sealer.lookup(document_key(visit.person.document_type, visit.person.document_number)),
                **columns,
            })
        else:
            # Optimistic version check: the row must still be the version the rule decided on.
            result = self.conn.execute(_UPDATE_VISIT, {"b_id": visit.id, "b_seen": current.version, **columns})
            if result.rowcount != 1:
                raise Conflict(
                    f"Ticket {visit.ticket} was changed by someone else meanwhile: reload and try again.",
                    code="version_conflict",
                )
        if event.type == EventType.INJECTED:
            self._fold_into_lot(event)
        self.appended.append((event, visit))
        return event, visit

    # --- stock: events on the site's stock stream, and the lots they fold into ---

    def _lot_row(self, name: str) -> tuple[LotStock, date, LotStock | None] | None:
        """The lot, the site's day of its last event and the lot at that day's start; read once
        per transaction (the injection's rule and the fold both ask)."""
        if name not in self._lots_read:
            row = self.conn.execute(_LOT, {"site": self.site.id, "lot": name}).first()
            self._lots_read[name] = _lot_row(row) if row is not None else None
        return self._lots_read[name]

    def lot(self, name: str, at: datetime) -> LotStock | None:
        found = self._lot_row(name)
        return expire(found[0], at) if found is not None else None

    def all_lots(self, at: datetime) -> dict[str, LotStock]:
        """Every lot the site has held, as it is at `at`."""
        rows = self.conn.execute(_LOTS, {"site": self.site.id}).scalars()
        return {lot.lot: expire(lot, at) for lot in (LotStock.from_json(data) for data in rows)}

    def stock_day(self, day: date, start: datetime, end: datetime) -> tuple[dict[str, LotStock] | None, list[Entry]]:
        """What the sheet of a day folds (`_stock_day`), under the lock."""
        return _stock_day(self.conn, self.site.id, day, start, end)

    def append_stock(
        self, draft: StockDraft, *, actor: str, at: datetime, idempotency_key: str | None = None,
        request_hash: str | None = None,
    ) -> Event:
        self.seq += 1
        event = Event(seq=self.seq, site=self.site.id, visit_id=STOCK_STREAM, type=draft.type, at=at, actor=actor,
                      desk=draft.desk, data=draft.data)
        self.conn.execute(_INSERT_EVENT, {
            "site_id": event.site, "seq": event.seq, "visit_id": STOCK_STREAM, "type": event.type,
            "station": None, "desk": event.desk, "actor": actor, "at": at, "data": event.data,
            "idempotency_key": idempotency_key, "request_hash": request_hash,
        })
        self._fold_into_lot(event)
        self.appended.append((event, None))
        return event

    def _fold_into_lot(self, event: Event) -> None:
        name = lot_of(event.type, event.data)
        if name is None:
            return
        row = self._lot_row(name)
        current = expire(row[0], event.at) if row is not None else None
        after = apply_stock(current, event.type, event.data, at=event.at, seq=event.seq, desk=event.desk)
        if after is None:
            return  # an injection from a lot the site never recorded as stock
        day = event.at.astimezone(self.site.tz).date()
        if row is not None and row[1] == day:
            opening = row[2]
        else:  # the lot's first event of the day: keep it as the day began
            start = datetime.combine(day, time(0), tzinfo=self.site.tz)
            opening = expire(row[0], start) if row is not None else None
        self._lots_read[name] = (after, day, opening)
        values = {"product": after.product, "expires_on": after.expires_on, "data": after.to_json(), "day": day,
                  "day_opening": opening.to_json() if opening is not None else None, "updated_at": event.at}
        if row is None:
            self.conn.execute(_INSERT_LOT, {"site_id": self.site.id, "lot": name, **values})
        else:
            self.conn.execute(_UPDATE_LOT, {"b_site": self.site.id, "b_lot": name, **values})


class Store:
    def __init__(self, engine: Engine, sealer: Sealer):
        self.engine = engine
        self.sealer = sealer
        self._writer = engine.execution_options(**WRITE)
        self._site_cache: dict[str, tuple[int, Site]] = {}
        self.staff = StaffStore(engine)
        self.tickets = TicketStore(engine)
        self.appointments = AppointmentStore(engine, sealer)

    def _visit(self, data: dict) -> Visit:
        return visit_from_json(unseal_record(self.sealer, self.engine, data))

    def _event(self, row) -> Event:
        return _event_from_row(row, unseal_record(self.sealer, self.engine, row.data))

    # --- sites ---
    def _parse(self, site_id: str, revision: int, config: dict | None) -> Site:
        cached = self._site_cache.get(site_id)
        if cached and cached[0] == revision:
            return cached[1]
        site = parse_site(config, source=f"site {site_id} (database)")
        self._site_cache[site_id] = (revision, site)
        return site

    def site(self, site_id: str) -> SiteRow:
        with self.engine.connect() as conn:
            row = conn.execute(select(sites).where(sites.c.id == site_id)).first()
        if row is None:
            raise NotFound(f"No site {site_id!r}.", code="unknown_site")
        return SiteRow(self._parse(row.id, row.revision, row.config), row.revision, row.seq)

    def sites(self) -> list[SiteRow]:
        """Every site, in id order, in one read; a configuration is parsed once per revision."""
        with self.engine.connect() as conn:
            heads = conn.execute(select(sites.c.id, sites.c.revision, sites.c.seq).order_by(sites.c.id)).all()
            stale = [head.id for head in heads if self._site_cache.get(head.id, (None,))[0] != head.revision]
            configs = dict(conn.execute(select(sites.c.id, sites.c.config).where(sites.c.id.in_(stale))).all()
                           ) if stale else {}
        return [SiteRow(self._parse(head.id, head.revision, configs.get(head.id)), head.revision, head.seq)
                for head in heads]

    def site_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(sites.c.id).order_by(sites.c.id)).scalars())

    def upsert_site(self, site: Site, *, at: datetime) -> str:
        config = site.model_dump(mode="json")
        with self._writer.begin() as conn:
            row = conn.execute(select(sites.c.config, sites.c.revision).where(sites.c.id == site.id)).first()
            if row is None:
                conn.execute(
                    sites.insert().values(
                        id=site.id, name=site.name, config=config, revision=1, seq=0, ticket_day=None,
                        ticket_no=0, created_at=at, updated_at=at,
                    )
                )
                return "created"
            if row.config == config:
                return "unchanged"
            conn.execute(
                update(sites)
                .where(sites.c.id == site.id)
                .values(name=site.name, config=config, revision=row.revision + 1, updated_at=at)
            )
            return "updated"

    @contextmanager
    def site_transaction(self, site_id: str) -> Iterator[SiteTransaction]:
        with self.sites_transaction([site_id]) as txs:
            yield txs[site_id]

    @contextmanager
    def sites_transaction(self, site_ids: list[str]) -> Iterator[dict[str, SiteTransaction]]:
        """One write transaction holding the locks of several sites (a move of stock between two),
        taken in id order so that two such transactions cannot wait for each other."""
        with self._writer.begin() as conn:
            txs: dict[str, SiteTransaction] = {}
            rows = {}
            for site_id in sorted(set(site_ids)):
                # SELECT ... FOR UPDATE takes the site's row lock (PostgreSQL); SQLite holds the
                # database write lock since BEGIN IMMEDIATE (and renders no FOR UPDATE).
                row = conn.execute(_SITE_FOR_UPDATE, {"site": site_id}).first()
                if row is None:
                    raise NotFound(f"No site {site_id!r}.", code="unknown_site")
                rows[site_id] = row
                txs[site_id] = SiteTransaction(
                    conn, self._parse(row.id, row.revision, row.config), row.seq, row.ticket_day, row.ticket_no,
                    self.sealer,
                )
            yield txs
            for site_id, tx in txs.items():
                row = rows[site_id]
                if tx.seq != row.seq or tx._ticket_no != row.ticket_no:
                    conn.execute(_SITE_COUNTERS, {"site": site_id, "seq": tx.seq, "ticket_day": tx._ticket_day,
                                                  "ticket_no": tx._ticket_no})

    # --- reads ---
    def visit(self, site_id: str, visit_id: str) -> Visit:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(visits.c.data).where(visits.c.id == visit_id, visits.c.site_id == site_id)
            ).first()
        if row is None:
            raise NotFound(f"No visit {visit_id!r} at site {site_id}.", code="unknown_visit")
        return self._visit(row.data)

    def visit_events(self, site_id: str, visit_id: str, *, up_to_seq: int | None = None) -> list[Event]:
        query = select(events).where(events.c.site_id == site_id, events.c.visit_id == visit_id)
        if up_to_seq is not None:
            query = query.where(events.c.seq <= up_to_seq)
        with self.engine.connect() as conn:
            return [self._event(row) for row in conn.execute(query.order_by(events.c.seq))]

    def site_events(self, site_id: str, *, after_seq: int = 0, limit: int | None = None) -> list[Event]:
        query = (
            select(events).where(events.c.site_id == site_id, events.c.seq > after_seq).order_by(events.c.seq)
        )
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [self._event(row) for row in conn.execute(query)]

    def events_between(self, site_id: str, *, start: datetime, end: datetime) -> list[Event]:
        """The site's events recorded in [start, end), in sequence order (a day, for analytics)."""
        query = (
            select(events).where(events.c.site_id == site_id, events.c.at >= start, events.c.at < end)
            .order_by(events.c.seq)
        )
        with self.engine.connect() as conn:
            return [self._event(row) for row in conn.execute(query)]

    def lots(self, site_id: str, at: datetime) -> dict[str, LotStock]:
        """Every lot the site has held, as it is at `at`."""
        with self.engine.connect() as conn:
            rows = conn.execute(_LOTS, {"site": site_id}).scalars()
            return {lot.lot: expire(lot, at) for lot in (LotStock.from_json(data) for data in rows)}

    def stock_day(self, site_id: str, day: date, start: datetime, end: datetime
                  ) -> tuple[dict[str, LotStock] | None, list[Entry]]:
        """What the sheet of a day folds (`_stock_day`), from one snapshot."""
        with self._consistent() as conn:
            return _stock_day(conn, site_id, day, start, end)

    def injected_between(self, site_id: str, *, start: datetime, end: datetime) -> list[Visit]:
        """The visits whose injection was recorded in [start, end) (a day's doses, for the
        exports), in the order of their injections, as they are now."""
        query = (
            select(visits.c.data)
            .join(events, and_(events.c.visit_id == visits.c.id, events.c.site_id == visits.c.site_id))
            .where(events.c.site_id == site_id, events.c.type == EventType.INJECTED, events.c.at >= start,
                   events.c.at < end)
            .order_by(events.c.seq)
        )
        with self.engine.connect() as conn:
            return [self._visit(row.data) for row in conn.execute(query)]

    def rehash_documents(self, batch: int = 500) -> int:
        """Recompute visits.document_key from the sealed person with the current lookup key."""
        count, after = 0, ""
        while True:
            with self._writer.begin() as conn:
                rows = conn.execute(
                    select(visits.c.id, visits.c.data).where(visits.c.id > after).order_by(visits.c.id).limit(batch)
                ).all()
                for row in rows:
                    person = self._visit(row.data).person
                    conn.execute(update(visits).where(visits.c.id == row.id).values(
                        document_key=self.sealer.lookup(document_key(person.document_type, person.document_number))
                    ))
            if not rows:
                return count
            count += len(rows)
            after = rows[-1].id

    def list_visits(
        self, site_id: str, *, states: tuple[str, ...] | None = None, station: str | None = None,
        day: date | None = None, ticket: str | None = None, after: tuple[bool, int, str] | None = None,
        limit: int = 500,
    ) -> list[Visit]:
        """In queue order (priority first, then place in the queue, then id: a stable order);
        `after` (priority, queue_pos, id) of the last row of the page before."""
        query = select(visits.c.data).where(visits.c.site_id == site_id)
        if states:
            query = query.where(visits.c.state.in_(states))
        if station:
            query = query.where(visits.c.station == station)
        if day:
            query = query.where(visits.c.day == day)
        if ticket:
            query = query.where(visits.c.ticket == ticket)
        if after is not None:
            priority, queue_pos, visit_id = after
            later_in_class = or_(visits.c.queue_pos > queue_pos,
                                 and_(visits.c.queue_pos == queue_pos, visits.c.id > visit_id))
            lower_class = ~visits.c.priority if priority else false()  # priority people come first
            query = query.where(or_(lower_class, and_(visits.c.priority == priority, later_in_class)))
        query = query.order_by(visits.c.priority.desc(), visits.c.queue_pos, visits.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [self._visit(row.data) for row in conn.execute(query)]

    @contextmanager
    def _consistent(self) -> Iterator[Connection]:
        """A read-only connection whose reads all see one snapshot of the database."""
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():  # SQLite (WAL): a read transaction sees one snapshot
                yield conn

    def day_so_far(self, site_id: str, *, day: date, start: datetime, end: datetime) -> tuple[SiteRow, list[Visit], list[Event]]:
        """What a fold of a site's day needs, from one snapshot: the site with its sequence
        number, the visits still on site from earlier days, and the day's events [start, end)
        up to that number, in order."""
        with self._consistent() as conn:
            row = conn.execute(select(sites).where(sites.c.id == site_id)).first()
            if row is None:
                raise NotFound(f"No site {site_id!r}.", code="unknown_site")
            carried = conn.execute(select(visits.c.data).where(
                visits.c.site_id == site_id, visits.c.active.is_(True), visits.c.day < day)).all()
            rows = conn.execute(select(events).where(
                events.c.site_id == site_id, events.c.at >= start, events.c.at < end, events.c.seq <= row.seq,
            ).order_by(events.c.seq)).all()
        site_row = SiteRow(self._parse(row.id, row.revision, row.config), row.revision, row.seq)
        return site_row, [self._visit(r.data) for r in carried], [self._event(r) for r in rows]

    def observations_ending(self, *, after: datetime, before: datetime) -> list[tuple[str, str, str, datetime]]:
        """(site, visit id, ticket, leave_at) of everyone observing whose time ends in the window."""
        query = select(visits.c.site_id, visits.c.id, visits.c.ticket, visits.c.leave_at).where(
            visits.c.state == State.OBSERVING, visits.c.leave_at > after, visits.c.leave_at <= before
        )
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]

    # --- finished days ---
    def day_rollups(self, *, first: date, last: date, site_ids: list[str] | None = None,
                    figures: bool = True) -> dict[tuple[str, date], dict]:
        """{(site, day): {"doses", "figures"}} of the finished days stored in [first, last]
        (without `figures`, the doses only: what a trend needs)."""
        columns = [day_rollups.c.site_id, day_rollups.c.day, day_rollups.c.doses]
        query = select(*columns, *([day_rollups.c.figures] if figures else [])).where(
            day_rollups.c.day >= first, day_rollups.c.day <= last)
        if site_ids is not None:
            query = query.where(day_rollups.c.site_id.in_(site_ids))
        with self.engine.connect() as conn:
            return {(row.site_id, row.day): {"doses": row.doses, "figures": row.figures if figures else None}
                    for row in conn.execute(query)}

    def save_day_rollup(self, site_id: str, day: date, *, doses: int, figures: dict, at: datetime) -> None:
        """Store a finished day's figures; another process having stored them first is fine."""
        try:
            with self._writer.begin() as conn:
                conn.execute(day_rollups.insert().values(site_id=site_id, day=day, doses=doses, figures=figures,
                                                         computed_at=at))
        except IntegrityError:
            pass  # the same figures, from the same log

    # --- tokens ---
    def add_token(
        self, *, token_hash: str, role: str, site_id: str | None, station: str | None, name: str, at: datetime,
        settings: dict | None = None, created_by: str | None = None,
    ) -> int:
        with self._writer.begin() as conn:
            result = conn.execute(
                api_tokens.insert().values(
                    token_hash=token_hash, role=role, site_id=site_id, station=station, name=name, created_at=at,
                    settings=settings, created_by=created_by,
                )
            )
            return int(result.inserted_primary_key[0])

    def token_by_hash(self, token_hash: str):
        with self.engine.connect() as conn:
            return conn.execute(
                select(api_tokens).where(api_tokens.c.token_hash == token_hash, api_tokens.c.revoked_at.is_(None))
            ).first()

    def list_tokens(self, *, role: str | None = None, sites: frozenset[str] | None = None, active: bool = False):
        with self.engine.connect() as conn:
            return conn.execute(_tokens(role, sites, active).order_by(api_tokens.c.id)).all()

    def tokens_page(self, *, after: int, limit: int, role: str | None = None, sites: frozenset[str] | None = None,
                    active: bool = False) -> tuple[list[Row], int | None]:
        """Tokens in id order after the id `after`, and the `after` of the next page (None at the end)."""
        with self.engine.connect() as conn:
            return page_by_id(conn, _tokens(role, sites, active), api_tokens.c.id, after=after, limit=limit)

    def revoke_tokens(self, *, ids: list[int] | None = None, name: str | None = None, at: datetime) -> list[int]:
        """Revoke tokens by id or name; the ids of those that were still valid."""
        query = select(api_tokens.c.id).where(api_tokens.c.revoked_at.is_(None))
        if ids is not None:
            query = query.where(api_tokens.c.id.in_(ids))
        if name is not None:
            query = query.where(api_tokens.c.name == name)
        with self._writer.begin() as conn:
            revoked = list(conn.execute(query).scalars())
            if revoked:
                conn.execute(update(api_tokens).where(api_tokens.c.id.in_(revoked)).values(revoked_at=at))
        return revoked

    def revoked_among(self, token_ids: list[int]) -> set[int]:
        """Which of these tokens are revoked (or gone)."""
        if not token_ids:
            return set()
        with self.engine.connect() as conn:
            valid = set(conn.execute(select(api_tokens.c.id).where(
                api_tokens.c.id.in_(token_ids), api_tokens.c.revoked_at.is_(None))).scalars())
        return set(token_ids) - valid


_ANNOTATIONS = (StockEvent.EXPLAINED, StockEvent.DAY_CLOSED)
# The last closing of a day's stock recorded before a moment: a checkpoint of the site's lots.
_LAST_CLOSING = select(events.c.seq, events.c.data).where(
    events.c.site_id == bindparam("site"), events.c.visit_id == STOCK_STREAM, events.c.type == StockEvent.DAY_CLOSED,
    events.c.at < bindparam("before"),
).order_by(events.c.seq.desc()).limit(1)


def _lot_row(row: Row[Any]) -> tuple[LotStock, date, LotStock | None]:
    return (LotStock.from_json(row.data), row.day,
            LotStock.from_json(row.day_opening) if row.day_opening is not None else None)


def _stock_day(conn: Connection, site_id: str, day: date, start: datetime, end: datetime
               ) -> tuple[dict[str, LotStock] | None, list[Entry]]:
    """The lots at a moment before the day [start, end) began, and every stock event and injection
    after it up to the day's end (with the explanations and closings recorded later):
    * when no lot has changed since that day (always so of today): the lots as the day began;
    * else from the last closing of a day's stock before it (its event keeps the lots);
    * else (None, the whole log up to the day's end)."""
    opening: dict[str, LotStock] = {}
    for row in conn.execute(_LOT_DAYS, {"site": site_id}):
        lot, last_day, day_opening = _lot_row(row)
        if last_day > day:
            checkpoint = conn.execute(_LAST_CLOSING, {"site": site_id, "before": start}).first()
            if checkpoint is None or "held" not in checkpoint.data:
                return None, _stock_entries(conn, site_id, before=end)
            held = {name: LotStock.from_json(data) for name, data in checkpoint.data["held"].items()}
            return held, _stock_entries(conn, site_id, before=end, after_seq=checkpoint.seq)
        if last_day < day:
            opening[lot.lot] = expire(lot, start)
        elif day_opening is not None:
            opening[lot.lot] = day_opening
    return opening, _stock_entries(conn, site_id, before=end, since=start)


def _stock_entries(conn: Connection, site_id: str, *, before: datetime, since: datetime | None = None,
                   after_seq: int = 0) -> list[Entry]:
    """The site's stock events and injections recorded in [since, before) (after event `after_seq`),
    and the explanations and closings recorded later (they may name a day before `before`), in
    sequence order."""
    stock = events.c.visit_id == STOCK_STREAM
    window = events.c.at < before if since is None else and_(events.c.at >= since, events.c.at < before)
    if after_seq:
        window = and_(window, events.c.seq > after_seq)
    query = select(events.c.seq, events.c.type, events.c.at, events.c.desk, events.c.actor, events.c.data).where(
        events.c.site_id == site_id,
        or_(and_(window, or_(stock, events.c.type == EventType.INJECTED)),
            and_(events.c.at >= before, stock, events.c.type.in_(_ANNOTATIONS))),
    ).order_by(events.c.seq)
    return [Entry(row.seq, row.type, row.at, row.data, row.desk, row.actor) for row in conn.execute(query)]


def _tokens(role: str | None, sites: frozenset[str] | None, active: bool) -> Select:
    """Tokens of a role, of some sites, still valid: each filter only when given."""
    query = select(api_tokens)
    if role is not None:
        query = query.where(api_tokens.c.role == role)
    if sites is not None:
        query = query.where(api_tokens.c.site_id.in_(sorted(sites)))
    if active:
        query = query.where(api_tokens.c.revoked_at.is_(None))
    return query
