"""The running figures (one fold per site and day, kept event by event) always equal a full
recomputation from the log: after every event of random simulated days, on SQLite and
PostgreSQL, in the process that records the events and in another process that only reads
the gaps, across midnight with people still on site."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from app.clock import FixedClock
from app.domain.errors import DomainError
from app.domain.permissions import Principal
from app.flow import analytics, queries
from app.flow import visits as flow
from app.sim.day import DayPlan, FlowActions, run_day
from tests.conftest import START, build_app
from tests.support.brute_force import brute_force, brute_snapshot, comparable_snapshot, compare_dashboard

BOT = Principal(name="bot", role="admin")
BOSS = Principal(name="boss", role="site_supervisor", sites=frozenset({"demo"}))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_database(request, tmp_path_factory):
    """A callable giving a new, empty database URL for each hypothesis example."""
    if request.param == "sqlite":
        return lambda: f"sqlite:///{tmp_path_factory.mktemp('figures') / 'siteflow.db'}"
    return request.getfixturevalue("postgres_database_factory")


class Checker:
    """After each commit: the writer's figures (folded as committed) and, now and then, a
    second process's (caught up by reading the gap) against the brute force."""

    def __init__(self, writer, reader, rng: random.Random):
        self.writer, self.reader, self.rng = writer, reader, rng
        self.site = writer.store.site("demo").site
        self.checks = {"writer": 0, "reader": 0}

    def __call__(self, site_id, changes):
        self.check(self.writer, "writer")
        if self.rng.random() < 0.3:  # the reader falls behind by a random number of events
            self.check(self.reader, "reader")

    def check(self, services, who, *, dashboard=True):
        now = services.clock.now()
        events = self.writer.store.site_events("demo")
        snapshot = queries.site_snapshot(services, BOSS, site_id="demo")
        assert snapshot["seq"] == events[-1].seq, who
        assert comparable_snapshot(snapshot) == comparable_snapshot(brute_snapshot(events, self.site, now)), who
        if dashboard and self.rng.random() < 0.25:  # the whole dashboard is dearer to recompute
            compare_dashboard(analytics.dashboard(services, BOSS, site_id="demo"), brute_force(events, self.site, now))
        self.checks[who] += 1


def extras(services, rng):
    """What the bots never do: undo the last action, or a supervisor's correction."""
    last = services.store.site_events("demo", after_seq=max(0, services.store.site("demo").seq - 1))
    if last and last[-1].actor == BOT.actor and rng.random() < 0.5:
        try:
            flow.undo(services, BOT, site_id="demo", visit_id=last[-1].visit_id, seq=last[-1].seq)
        except DomainError:
            pass
    closed = services.store.list_visits("demo", states=("deferred", "no_show", "refused"), limit=50)
    if closed and rng.random() < 0.2:
        visit = rng.choice(closed)
        try:
            flow.correct(services, BOSS, site_id="demo", visit_id=visit.id, reason="re-screened", state="waiting",
                         station="consent", corrects_seq=services.store.visit_events("demo", visit.id)[-1].seq)
        except DomainError:
            pass


# No shrinking: a simulated day is long, and the failing example's arguments are printed anyway.
@settings(max_examples=3, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**16), people=st.integers(12, 30), hours=st.sampled_from([1.0, 1.5]),
       no_show=st.sampled_from([0.0, 0.1]), defer=st.sampled_from([0.0, 0.15]), aefi=st.sampled_from([0.0, 0.1]))
def test_running_figures_equal_a_recomputation_after_every_event(fresh_database, seed, people, hours, no_show, defer,
                                                                  aefi):
    url = fresh_database()
    clock = FixedClock(START + timedelta(hours=13, minutes=30))  # 22:30 at the site: people are still there at midnight
    writer_app, reader_app = build_app(url, clock), build_app(url, clock)
    writer, reader = writer_app.extensions["siteflow"], reader_app.extensions["siteflow"]
    rng = random.Random(seed)
    checker = Checker(writer, reader, rng)
    writer.listeners.append(checker)
    try:
        def advance(delta):
            if rng.random() < 0.3:
                extras(writer, rng)
            clock.advance(seconds=delta.total_seconds())

        plan = DayPlan(people=people, hours=hours, seed=seed, step_minutes=2, p_no_show=no_show, p_defer=defer,
                       p_aefi=aefi, p_allergy=0.2)
        # Stop the bots before everyone has left, so some are on site at midnight.
        def advance_until_midnight(delta):
            if clock.now().astimezone(checker.site.tz).hour == 23 and clock.now().minute >= 50:
                raise _Midnight
            advance(delta)

        try:
            run_day(FlowActions(writer, "demo"), plan, advance=advance_until_midnight)
        except _Midnight:
            pass
        assert checker.checks["writer"] > 2 * people and checker.checks["reader"] > 0
        # Past midnight: a new day's figures carry the people still on site, in both processes
        # and in a third one that starts now and builds its figures from nothing.
        clock.set(START + timedelta(hours=15, minutes=5))  # 00:05 the next day
        late_app = build_app(url, clock)
        try:
            for services in (writer, reader, late_app.extensions["siteflow"]):
                checker.check(services, "writer", dashboard=False)  # the new day's dashboard is empty
                with services.figures.today("demo") as model:
                    assert model.day == clock.now().astimezone(checker.site.tz).date()
        finally:
            late_app.extensions["siteflow"].store.engine.dispose()
    finally:
        for app in (writer_app, reader_app):
            app.extensions["siteflow_live"].stop()
            app.extensions["siteflow"].store.engine.dispose()


class _Midnight(Exception):
    pass
