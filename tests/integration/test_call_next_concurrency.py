"""call-next is atomic: desks calling at once never get the same person, nobody is lost."""
from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import select

from app.domain.errors import Conflict
from app.domain.permissions import Principal
from app.domain.stock import STOCK_STREAM
from app.flow import visits as flow
from app.store.tables import events
from tests.support.factories import gen_checkin, gen_consent

THREADS = 8
DESKS = ("A", "B", "C", "D")
PEOPLE = 60


def _site_with_four_consent_desks(services):
    site = services.store.site("demo").site
    stations = dict(site.stations)
    stations["consent"] = stations["consent"].model_copy(update={"desks": DESKS})
    services.store.upsert_site(site.model_copy(update={"stations": stations}), at=services.clock.now())


def test_eight_threads_on_four_desks_never_call_one_person_twice(services):
    _site_with_four_consent_desks(services)
    admin = Principal(name="setup", role="admin")
    before = services.store.site("demo").seq  # the site file's lots are already in the log
    expected = set()
    for _ in range(PEOPLE):
        body = gen_checkin()
        expected.add(flow.check_in(services, admin, site_id="demo", **body).visit.id)

    called: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def desk_worker(index: int) -> None:
        desk = DESKS[index % len(DESKS)]
        me = Principal(name=f"nurse-{index}", role="station", sites=frozenset({"demo"}), station="consent")
        start.wait()
        try:
            while True:
                try:
                    outcome = flow.call_next(services, me, site_id="demo", station="consent", desk=desk)
                except Conflict as exc:
                    if exc.code == "desk_busy":  # the other tablet at this desk has someone
                        continue
                    raise
                if outcome.visit is None:
                    return
                with lock:
                    called.append(outcome.visit.id)
                body = gen_consent(desk)
                body.pop("desk")
                flow.record_consent(services, me, site_id="demo", visit_id=outcome.visit.id, desk=desk, **body)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=desk_worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)

    # Each person called exactly once, and everyone was called: nobody twice, nobody lost.
    assert sorted(called) == sorted(expected)
    with services.store.engine.connect() as conn:
        rows = conn.execute(select(events.c.visit_id, events.c.type, events.c.seq).where(events.c.site_id == "demo")).all()
    calls = Counter(row.visit_id for row in rows if row.type == "called")
    assert set(calls) == expected and set(calls.values()) == {1}
    # The event sequence is gap-free, and after the site's stock events it is check-in + call + consent per person.
    assert sorted(row.seq for row in rows) == list(range(1, before + 3 * PEOPLE + 1))
    visit_rows = [row for row in rows if row.visit_id != STOCK_STREAM]
    assert sorted(row.seq for row in visit_rows) == list(range(before + 1, before + 3 * PEOPLE + 1))
    # Everyone is now waiting for injection.
    waiting = services.store.list_visits("demo", states=("waiting",), station="injection")
    assert {visit.id for visit in waiting} == expected


def test_concurrent_check_ins_get_distinct_consecutive_tickets(services):
    admin = Principal(name="door", role="admin")
    tickets: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def door(_: int) -> None:
        start.wait()
        try:
            for _ in range(5):
                tickets.append(flow.check_in(services, admin, site_id="demo", **gen_checkin()).visit.ticket)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=door, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sorted(tickets) == [f"A{n:03d}" for n in range(1, THREADS * 5 + 1)]
