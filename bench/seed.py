"""Seed a site's day with N events quickly, through the pure domain (decide + apply) and one
bulk insert, so benchmarks can measure "with 100,000 events already recorded today".

The events are exactly what the commands would record for people who went through
check-in, consent, injection and release; only the per-request transaction is skipped.
"""
from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

from sqlalchemy import update

from app.domain import rules
from app.domain.identity import document_key
from app.domain.visit import Event, apply
from app.domain.vocabulary import CHECKLIST, SCREENING_QUESTIONS
from app.sim.people import person
from app.store.codec import visit_to_json
from app.store.event_store import Store
from app.store.sealing import seal_record
from app.store.tables import events, sites, visits


def seed_events(store: Store, site_id: str, *, count: int, start: datetime, seed: int = 1) -> int:
    """Append about `count` events (whole visits of 6 events) to `site_id`, starting at `start`."""
    site_row = store.site(site_id)
    site = site_row.site
    rng = random.Random(seed)
    seq = site_row.seq
    now = start
    today = rules.site_day(site, start)
    product = site.products[0]
    lot = next(lot for lot in product.lots if lot.expires_on >= today)
    event_rows, visit_rows = [], []
    ticket = 0
    with store.engine.begin() as conn:  # personal data is sealed as the commands would seal it
        day_key = store.sealer.day_key(conn, site_id, today, start)

    def seal(data: dict) -> dict:
        return seal_record(store.sealer, day_key, data)

    while seq - site_row.seq + 6 <= count:
        ticket += 1
        visit_id = uuid.uuid4().hex
        check_in = rules.validate_check_in(site, now=now, birth_date=None, **dict(person(rng, today=today), health_code="green"))
        drafts = [rules.decide_check_in(site, check_in, same_document_today=[], next_ticket=lambda: ticket)]
        visit = None
        for step in range(6):
            if step > 0:
                drafts.append(_next_draft(site, visit, step, now, product.code, lot.lot))
            seq += 1
            event = Event(seq=seq, site=site_id, visit_id=visit_id, type=drafts[-1].type, at=now, actor="admin:seed",
                          station=drafts[-1].station, desk=drafts[-1].desk, data=drafts[-1].data)
            visit = apply(visit, event)
            event_rows.append(dict(site_id=site_id, seq=seq, visit_id=visit_id, type=event.type, station=event.station,
                                   desk=event.desk, actor=event.actor, at=now, data=seal(event.data),
                                   idempotency_key=None, request_hash=None))
            now += timedelta(milliseconds=200) if step != 4 else timedelta(minutes=30)
        now -= timedelta(minutes=30)
        visit_rows.append(dict(
            id=visit.id, site_id=site_id, day=visit.day, ticket=visit.ticket, state=visit.state, station=visit.station,
            desk=visit.desk, priority=visit.priority, queue_pos=visit.queue_pos, active=visit.active,
            document_key=store.sealer.lookup(document_key(visit.person.document_type, visit.person.document_number)),
            leave_at=visit.leave_at, version=visit.version, data=seal(visit_to_json(visit)), created_at=start,
            updated_at=now,
        ))
    with store.engine.begin() as conn:
        conn.execute(visits.insert(), visit_rows)
        for offset in range(0, len(event_rows), 5000):
            conn.execute(events.insert(), event_rows[offset:offset + 5000])
        conn.execute(update(sites).where(sites.c.id == site_id).values(seq=seq, ticket_day=today, ticket_no=ticket))
    return len(event_rows)


def _next_draft(site, visit, step, now, product, lot):
    desk_consent, desk_injection = site.stations["consent"].desks[0], site.stations["injection"].desks[0]
    if step == 1:
        return rules.decide_call(site, station="consent", desk=desk_consent, desk_visit=None, candidate=visit)
    if step == 2:
        return rules.decide_consent(visit, desk=desk_consent, outcome="eligible",
                                    answers={code: False for code in SCREENING_QUESTIONS}, allergy_history=False,
                                    deferral_reason=None, signature="confirmed")
    if step == 3:
        return rules.decide_call(site, station="injection", desk=desk_injection, desk_visit=None, candidate=visit)
    if step == 4:
        return rules.decide_injection(site, visit, desk=desk_injection, product=product, lot=lot,
                                      dose_number=visit.dose_number, injection_site="left_deltoid", route="IM",
                                      checklist=list(CHECKLIST), vaccinator="seed", now=now)
    if step == 5:
        return rules.decide_release(visit, now=visit.leave_at, override_reason=None, may_override=False,
                                    station="exit")
    raise AssertionError(step)
