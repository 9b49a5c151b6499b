"""Seed a site's days with N events quickly, through the pure domain (decide + apply) and one
bulk insert, so benchmarks can measure "with 100,000 events already recorded today".

The events are exactly what the commands would record for people who went through
check-in, consent, injection and release; only the per-request transaction is skipped.
Events get their sequence numbers in time order, as a real day records them.

By default the visits start one second apart from `start` (about 16,700 visits, 4.6 hours
for 100,000 events). With `spread_until`, they are spread evenly from `start` to that moment
(e.g. from the opening to "now", so the last 30 minutes hold a busy hour's share of the
events); a visit whose observation would end after `spread_until` is released early with
a supervisor's override right after its injection, so nobody is left on site in the future.
`seed_days` seeds several days (a site's history) in one bulk insert.
"""
from __future__ import annotations

import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import update

from app.domain import rules
from app.domain.identity import document_key
from app.domain.stock import LotStock
from app.domain.visit import Event, apply
from app.domain.vocabulary import CHECKLIST, SCREENING_QUESTIONS
from app.sim.people import person
from app.store.codec import visit_to_json
from app.store.event_store import Store
from app.store.sealing import seal_record
from app.store.tables import events, sites, visits

STEP = timedelta(milliseconds=200)  # between the actions of one visit at the desks
EARLY_RELEASE = "seeded: released at the end of the seeded span"


@dataclass(frozen=True)
class SeedDay:
    """About `count` events (whole visits of 6 events) of one day, the first visit at `start`."""

    start: datetime
    count: int
    until: datetime | None = None  # spread the visits evenly up to this moment (else 1 s apart)


def seed_events(store: Store, site_id: str, *, count: int, start: datetime, seed: int = 1,
                spread_until: datetime | None = None) -> int:
    """Append about `count` events (whole visits of 6 events) to `site_id`, starting at `start`."""
    return seed_days(store, site_id, [SeedDay(start, count, spread_until)], seed=seed)


def seed_days(store: Store, site_id: str, days: Iterable[SeedDay], *, seed: int = 1) -> int:
    """Seed each of `days` (in order, on a site with no visits on those days) in one bulk insert."""
    site_row = store.site(site_id)
    rng = random.Random(seed)
    seq, event_rows, visit_rows = site_row.seq, [], []
    last_day, ticket = None, 0
    for day in days:
        seq, last_day, ticket = _seed_day(store, site_row.site, day, rng, seq, event_rows, visit_rows)
    with store.engine.begin() as conn:
        for offset in range(0, len(visit_rows), 5000):
            conn.execute(visits.insert(), visit_rows[offset:offset + 5000])
        for offset in range(0, len(event_rows), 5000):
            conn.execute(events.insert(), event_rows[offset:offset + 5000])
        if last_day is not None:
            conn.execute(update(sites).where(sites.c.id == site_id).values(seq=seq, ticket_day=last_day,
                                                                            ticket_no=ticket))
    return len(event_rows)


def _plan(site, day: SeedDay) -> list[tuple[datetime, int, int]]:
    """(at, visit number, step) of every event of the day, in time order."""
    visits_count = day.count // 6
    gap = (day.until - day.start) / visits_count if day.until and visits_count else timedelta(seconds=1)
    observation = timedelta(minutes=site.observation.minutes)
    plan = []
    for number in range(visits_count):
        began = day.start + number * gap
        plan += [(began + step * STEP, number, step) for step in range(5)]
        injected = began + 4 * STEP
        leaves = injected + observation
        plan.append((leaves if day.until is None or leaves <= day.until else injected + STEP, number, 5))
    plan.sort()
    return plan


def _seed_day(store: Store, site, day: SeedDay, rng: random.Random, seq: int, event_rows: list,
              visit_rows: list):
    today = rules.site_day(site, day.start)
    product = site.products[0]
    lot = next(lot for lot in product.lots if lot.expires_on >= today)
    with store.engine.begin() as conn:  # personal data is sealed as the commands would seal it
        day_key = store.sealer.day_key(conn, site.id, today, day.start)
    ticket = 0
    open_visits: dict[int, tuple[str, object]] = {}  # visit number -> (id, visit)
    for at, number, step in _plan(site, day):
        if step == 0:
            ticket += 1
            check_in = rules.validate_check_in(site, now=at, birth_date=None,
                                               **dict(person(rng, today=today), health_code="green"))
            draft = rules.decide_check_in(site, check_in, same_document_today=[], next_ticket=lambda: ticket)
            visit_id, visit = uuid.uuid4().hex, None
        else:
            visit_id, visit = open_visits[number]
            draft = _next_draft(site, visit, step, at, product.code, lot.lot)
        seq += 1
        event = Event(seq=seq, site=site.id, visit_id=visit_id, type=draft.type, at=at, actor="admin:seed",
                      station=draft.station, desk=draft.desk, data=draft.data)
        visit = apply(visit, event)
        open_visits[number] = (visit_id, visit)
        event_rows.append(dict(site_id=site.id, seq=seq, visit_id=visit_id, type=event.type, station=event.station,
                               desk=event.desk, actor=event.actor, at=at,
                               data=seal_record(store.sealer, day_key, event.data),
                               idempotency_key=None, request_hash=None))
        if step == 5:
            visit_rows.append(_visit_row(store, day_key, open_visits.pop(number)[1], at))
    return seq, today, ticket


def _visit_row(store: Store, day_key, visit, at: datetime) -> dict:
    return dict(
        id=visit.id, site_id=visit.site, day=visit.day, ticket=visit.ticket, state=visit.state, station=visit.station,
        desk=visit.desk, priority=visit.priority, queue_pos=visit.queue_pos, active=visit.active,
        document_key=store.sealer.lookup(document_key(visit.person.document_type, visit.person.document_number)),
        leave_at=visit.leave_at, version=visit.version, data=seal_record(store.sealer, day_key, visit_to_json(visit)),
        created_at=visit.checked_in_at, updated_at=at,
    )


def _held_lot(product: str, lot: str) -> LotStock:
    """The seeded injections' lot, as if it never ran out (the seed skips the stock's books:
    `lot_stocks` is not updated; a stock sheet of a seeded day shows the doses drawn)."""
    return LotStock(product, lot, date(2099, 12, 31), 1, doses=10**9)


def _next_draft(site, visit, step, now, product, lot):
    desk_consent, desk_injection = site.stations["consent"].desks[0], site.stations["injection"].desks[0]
    if step == 1:
        return rules.decide_call(site, station="consent", desk=desk_consent, desk_visit=None, candidate=visit)
    if step == 2:
        return rules.decide_consent(visit, desk=desk_consent, outcome="eligible",
                                    answers=dict.fromkeys(SCREENING_QUESTIONS, False), allergy_history=False,
                                    deferral_reason=None, signature="confirmed")
    if step == 3:
        return rules.decide_call(site, station="injection", desk=desk_injection, desk_visit=None, candidate=visit)
    if step == 4:
        return rules.decide_injection(site, visit, desk=desk_injection, product=product, lot=lot,
                                      dose_number=visit.dose_number, injection_site="left_deltoid", route="IM",
                                      checklist=list(CHECKLIST), vaccinator="seed", now=now, held=_held_lot(product, lot))
    if step == 5:
        early = now < visit.leave_at
        return rules.decide_release(visit, now=now if early else visit.leave_at,
                                    override_reason=EARLY_RELEASE if early else None, may_override=early,
                                    station="exit")
    raise AssertionError(step)
