"""Random action sequences through the domain (hypothesis stateful testing).

A `Log` of one small site (few observation seats, few desks) is driven by random check-ins,
calls, consents, injections, releases, adverse events, cancellations, corrections, undos and
clock moves. Refused actions (DomainError) must leave everything unchanged; after every step the
invariants of the flow must hold.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from app.clock import FixedClock
from app.domain import rules
from app.domain.errors import Conflict, DomainError
from app.domain.identity import age_on
from app.domain.onsite import OnSite
from app.domain.projections import snapshot
from app.domain.visit import ACTIVE_STATES, STATES, TERMINAL_STATES, Visit, replay
from app.domain.vocabulary import (
    AEFI_SERIOUS_CRITERIA,
    AEFI_SEVERITIES,
    CHECKLIST,
    DEFERRAL_REASONS,
    HEALTH_CODES,
    QUEUE_STATIONS,
    SCREENING_QUESTIONS,
    STATIONS,
)
from tests.conftest import START
from tests.support.factories import EXPIRED_LOT, gen_answers, gen_resident_id
from tests.unit.domain_helpers import Log, make_site

SITE = make_site(seats=2, max_recalls=1, max_requeues=1, consent_desks=["A", "B"], injection_desks=["1", "2", "3"])
DESKS = {name: SITE.stations[name].desks for name in STATIONS}

index = st.integers(min_value=0, max_value=10_000)
# Mostly pick a visit for which the action makes sense; sometimes anyone (to exercise refusals).
anyone = st.sampled_from([False, False, False, True])
mostly_true = st.sampled_from([True, True, True, False])


def stage(visit: Visit) -> tuple[int, int]:
    """How far along the usual path an active visit is (for picking whom to move on)."""
    # People already in observation come last: moving the others on first fills the seats.
    order = [
        ("observing", "observation"), ("emergency", "emergency"), ("waiting", "consent"), ("called", "consent"),
        ("serving", "consent"), ("waiting", "injection"), ("called", "injection"), ("serving", "injection"),
    ]
    return order.index((visit.state, visit.station)), -visit.queue_pos


class SiteFlow(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.log = Log(SITE, FixedClock(START))
        self.documents: list[str] = []

    @initialize(people=st.integers(min_value=1, max_value=4))
    def first_people_at_the_door(self, people):
        for _ in range(people):
            number = gen_resident_id()
            self.log.check_in(document_number=number)
            self.documents.append(number)

    # --- helpers ----------------------------------------------------------------------------------
    def state_key(self):
        return dict(self.log.visits), self.log.seq, len(self.log.all_events), self.log.clock.now()

    def attempt(self, action) -> bool:
        """Run an action; a refusal must change nothing. True when it was recorded."""
        before = self.state_key()
        try:
            action()
        except DomainError:
            assert self.state_key() == before, "a refused action changed the log"
            return False
        return True

    def any_visit(self, wanted) -> bool:
        return any(wanted(visit) for visit in self.log.visits.values())

    def pick(self, which: int, any_visit: bool, wanted) -> Visit | None:
        visits = list(self.log.visits.values())
        if not any_visit:
            visits = [visit for visit in visits if wanted(visit)]
        return visits[which % len(visits)] if visits else None

    # --- rules ------------------------------------------------------------------------------------
    @rule(
        health=st.sampled_from(("green", "green", "green") + HEALTH_CODES),
        priority=st.booleans(),
        senior=st.booleans(),
        dose=st.integers(min_value=1, max_value=4),
        again=st.sampled_from([False, False, False, True]),
        which=index,
    )
    def check_in(self, health, priority, senior, dose, again, which):
        if again and self.documents:
            number = self.documents[which % len(self.documents)]
        else:
            number = gen_resident_id(birth="19500101" if senior else None)
        day = self.log.clock.now().astimezone(SITE.tz).date()
        earlier = [v for v in self.log.visits.values() if v.person.document_number == number and v.day == day]
        blocked = any(v.active or v.vaccinated for v in earlier)
        recorded = self.attempt(
            lambda: self.log.check_in(document_number=number, health_code=health, priority=priority, dose_number=dose)
        )
        assert recorded is not blocked, "duplicate detection disagrees with the visits of the day"
        if recorded:
            self.documents.append(number)
            new = self.log.visit(self.log.all_events[-1].visit_id)
            born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
            assert new.priority is (priority or age_on(born, day) >= 60)
            assert (new.state == "waiting") is (health == "green")
            assert (new.ticket is None) is (health != "green")

    @rule(station=st.sampled_from(QUEUE_STATIONS * 4 + ("observation",)), desk=index)
    def call_next(self, station, desk):
        desks = DESKS[station]
        chosen = desks[desk % len(desks)]
        before = self.log.seq
        recorded = self.attempt(lambda: self.log.call_next(station, chosen))
        if recorded and self.log.seq != before and station == "injection":
            observing, heading = self.log.observation_load()
            assert observing + heading <= SITE.observation.seats, "an injection booth called past the observation seats"

    @precondition(lambda self: self.any_visit(lambda v: v.state == "waiting"))
    @rule(station=st.sampled_from(QUEUE_STATIONS))
    def every_desk_calls(self, station):
        """All desks of a station press "call next" one after the other."""
        for desk in range(len(DESKS[station])):
            self.call_next(station, desk)

    @precondition(lambda self: self.any_visit(lambda v: v.state == "called"))
    @rule(which=index, any_visit=anyone, same_desk=mostly_true, desk=index)
    def start(self, which, any_visit, same_desk, desk):
        visit = self.pick(which, any_visit, lambda v: v.state == "called")
        if visit is None:
            return
        station = visit.station if visit.station in QUEUE_STATIONS else "consent"
        chosen = visit.desk if same_desk and visit.desk else DESKS[station][desk % len(DESKS[station])]
        self.attempt(lambda: self.log.start(visit.id, chosen))

    @precondition(lambda self: self.any_visit(lambda v: v.state == "called"))
    @rule(which=index, any_visit=anyone)
    def recall(self, which, any_visit):
        visit = self.pick(which, any_visit, lambda v: v.state == "called")
        if visit is not None:
            self.attempt(lambda: self.log.recall(visit.id))

    @precondition(lambda self: self.any_visit(lambda v: v.state == "called"))
    @rule(which=index, any_visit=anyone)
    def no_show(self, which, any_visit):
        visit = self.pick(which, any_visit, lambda v: v.state == "called")
        if visit is not None:
            self.attempt(lambda: self.log.no_show(visit.id))

    @precondition(lambda self: self.any_visit(lambda v: v.state in ("called", "serving") and v.station == "consent"))
    @rule(
        which=index,
        any_visit=anyone,
        same_desk=mostly_true,
        outcome=st.sampled_from(["eligible", "eligible", "eligible", "deferred", "refused"]),
        positive=st.sampled_from([None] * 12 + sorted(SCREENING_QUESTIONS)),
        allergy=st.booleans(),
        reason=st.one_of(st.none(), st.sampled_from(sorted(DEFERRAL_REASONS)), st.just("bogus")),
        signature=st.sampled_from(["confirmed"] * 4 + ["data:image/png;base64,AAAA", None]),
    )
    def consent(self, which, any_visit, same_desk, outcome, positive, allergy, reason, signature):
        visit = self.pick(which, any_visit, lambda v: v.state in ("called", "serving") and v.station == "consent")
        if visit is None:
            return
        desk = visit.desk if same_desk and visit.desk else "B" if visit.desk == "A" else "A"
        if outcome == "deferred" and reason is None:
            reason = "other"
        answers = gen_answers(**({positive: True} if positive else {}))
        self.attempt(
            lambda: self.log.consent(
                visit.id, desk=desk, outcome=outcome, answers=answers, allergy_history=allergy,
                deferral_reason=reason if outcome == "deferred" else None, signature=signature,
            )
        )

    @precondition(lambda self: self.any_visit(lambda v: v.state in ("called", "serving") and v.station == "injection"))
    @rule(
        which=index,
        any_visit=anyone,
        same_desk=mostly_true,
        expired=st.sampled_from([False, False, False, True]),
        right_dose=mostly_true,
        complete=mostly_true,
    )
    def inject(self, which, any_visit, same_desk, expired, right_dose, complete):
        visit = self.pick(which, any_visit, lambda v: v.state in ("called", "serving") and v.station == "injection")
        if visit is None:
            return
        desk = visit.desk if same_desk and visit.desk else "3" if visit.desk != "3" else "1"
        overrides = dict(EXPIRED_LOT) if expired else {}
        overrides["dose_number"] = visit.dose_number if right_dose else visit.dose_number % 4 + 1
        overrides["checklist"] = list(CHECKLIST) if complete else list(CHECKLIST)[1:]
        recorded = self.attempt(lambda: self.log.inject(visit.id, desk=desk, **overrides))
        if recorded:
            after = self.log.visit(visit.id)
            minutes = SITE.observation.extended_minutes if after.extended_observation else SITE.observation.minutes
            assert after.leave_at == self.log.clock.now() + timedelta(minutes=minutes)

    @precondition(lambda self: self.any_visit(lambda v: v.state == "observing"))
    @rule(
        which=index,
        any_visit=anyone,
        timing=st.sampled_from(["now", "at_leave", "just_before", "now"]),
        override=st.sampled_from([None, None, "family emergency", "  "]),
        may_override=st.booleans(),
        station=st.sampled_from(["observation", "exit"]),
    )
    def release(self, which, any_visit, timing, override, may_override, station):
        visit = self.pick(which, any_visit, lambda v: v.state == "observing")
        if visit is None:
            return
        now = self.log.clock.now()
        if visit.leave_at is not None and timing != "now":
            target = visit.leave_at - timedelta(seconds=1 if timing == "just_before" else 0)
            if target > now:
                self.log.clock.set(target)
        early = visit.leave_at is not None and self.log.clock.now() < visit.leave_at
        recorded = self.attempt(
            lambda: self.log.release(visit.id, override_reason=override, may_override=may_override, station=station)
        )
        if recorded and early:
            assert may_override and override and override.strip()

    @precondition(lambda self: self.any_visit(lambda v: v.vaccinated))
    @rule(
        which=index,
        any_visit=anyone,
        severity=st.sampled_from(AEFI_SEVERITIES),
        criteria=st.lists(st.sampled_from(sorted(AEFI_SERIOUS_CRITERIA)), max_size=2),
        outcome=st.sampled_from([None, None, "recovered", "transferred"]),
        onset_minutes=st.integers(min_value=-40, max_value=10),
    )
    def aefi(self, which, any_visit, severity, criteria, outcome, onset_minutes):
        visit = self.pick(which, any_visit, lambda v: v.state in ("observing", "emergency"))
        if visit is None:
            return
        onset = self.log.clock.now() + timedelta(minutes=onset_minutes)
        recorded = self.attempt(
            lambda: self.log.aefi(
                visit.id, severity=severity, serious_criteria=criteria, outcome=outcome, onset_at=onset
            )
        )
        if recorded:
            report = self.log.visit(visit.id).aefi[-1]
            hours = 2 if severity == "serious" else 48
            assert datetime.fromisoformat(report["report_due_at"]) == self.log.clock.now() + timedelta(hours=hours)

    @precondition(lambda self: self.any_visit(lambda v: v.state == "emergency"))
    @rule(which=index, any_visit=anyone, outcome=st.sampled_from(["recovered", "transferred"]))
    def aefi_outcome(self, which, any_visit, outcome):
        visit = self.pick(which, any_visit, lambda v: v.state == "emergency")
        if visit is not None:
            self.attempt(lambda: self.log.aefi_outcome(visit.id, outcome))

    @precondition(lambda self: self.any_visit(lambda v: v.state in ("waiting", "called", "serving")))
    @rule(which=index, any_visit=anyone, reason=st.sampled_from(["left the queue", "", "unwell"]))
    def cancel(self, which, any_visit, reason):
        visit = self.pick(which, any_visit, lambda v: v.state in ("waiting", "called", "serving"))
        if visit is not None:
            recorded = self.attempt(lambda: self.log.cancel(visit.id, reason=reason))
            assert not (recorded and visit.vaccinated)

    @precondition(lambda self: self.any_visit(lambda v: True))
    @rule(
        which=index,
        goal=st.sampled_from([("waiting", "consent"), ("waiting", "injection"), ("left", None), ("waiting", "exit")]),
        reason=st.sampled_from(["recorded by mistake", "recorded by mistake", " "]),
    )
    def correct(self, which, goal, reason):
        visit = self.pick(which, True, lambda v: True)
        if visit is None:
            return
        recorded = self.attempt(lambda: self.log.correct(visit.id, state=goal[0], station=goal[1], reason=reason))
        if recorded:
            assert not visit.vaccinated, "a vaccinated visit was corrected"
            assert visit.ticket is not None or goal[0] == "left"

    @precondition(lambda self: self.any_visit(lambda v: True))
    @rule(which=index, any_visit=anyone, later=st.sampled_from([0, 0, 0, 5, 15, 16]),
          actor=st.sampled_from(["station:test"] * 5 + ["station:other"]))
    def undo(self, which, any_visit, later, actor):
        visit = self.pick(which, any_visit, lambda v: self.log.last_event(v.id).type in rules.UNDOABLE)
        if visit is None:
            return
        events = list(self.log.events[visit.id])
        if later:
            self.log.clock.advance(seconds=later)
        recorded = self.attempt(lambda: self.log.undo(visit.id, actor=actor))
        if recorded:
            assert events[-1].type in rules.UNDOABLE and later <= rules.UNDO_SECONDS and actor == self.log.actor
            earlier = replay(events[:-1])
            assert replace(self.log.visit(visit.id), version=0, last_seq=0) == replace(earlier, version=0, last_seq=0)

    @precondition(lambda self: self.any_visit(lambda v: v.active))
    @rule(
        which=index,
        focus=st.sampled_from(["furthest", "furthest", "consent", "random"]),
        steps=st.integers(min_value=1, max_value=8),
        allergy=st.booleans(),
        wait=st.booleans(),
    )
    def progress(self, which, focus, steps, allergy, wait):
        """Take one person a few steps along the usual path (so that random runs reach the later stations).

        `consent` moves the person furthest along at consent, which builds up the injection queue."""
        active = [v for v in self.log.visits.values() if v.active]
        at_consent = [v for v in active if v.station == "consent"]
        if focus == "furthest" or (focus == "consent" and not at_consent):
            visit_id = max(active, key=stage).id
        elif focus == "consent":
            visit_id = max(at_consent, key=stage).id
            steps = min(steps, 3)
        else:
            visit_id = active[which % len(active)].id
        log = self.log
        for _ in range(steps):
            visit = log.visit(visit_id)
            if visit.state == "waiting":
                free = [d for d in DESKS[visit.station] if log.visit_at_desk(visit.station, d) is None]
                if not free:
                    return
                self.call_next(visit.station, DESKS[visit.station].index(free[which % len(free)]))
            elif visit.state == "called":
                self.attempt(lambda: log.start(visit.id, visit.desk))
            elif visit.state == "serving" and visit.station == "consent":
                self.attempt(lambda: log.consent(visit.id, desk=visit.desk, allergy_history=allergy))
            elif visit.state == "serving":
                self.attempt(lambda: log.inject(visit.id, desk=visit.desk))
            elif visit.state == "observing":
                if wait and log.clock.now() < visit.leave_at:
                    log.clock.set(visit.leave_at)
                self.attempt(lambda: log.release(visit.id, station="exit"))
            elif visit.state == "emergency":
                self.attempt(lambda: log.aefi_outcome(visit.id, "recovered"))
            else:
                return
            if log.visit(visit_id) == visit:
                return  # refused (or someone else was called): stop here

    @rule(minutes=st.integers(min_value=0, max_value=40), seconds=st.integers(min_value=0, max_value=59))
    def advance_clock(self, minutes, seconds):
        self.log.clock.advance(minutes=minutes, seconds=seconds)

    @precondition(lambda self: any(v.state == "called" for v in self.log.visits.values()))
    @rule()
    def calling_a_busy_desk_is_refused(self):
        busy = next(v for v in self.log.visits.values() if v.state == "called")
        before = self.state_key()
        try:
            self.log.call_next(busy.station, busy.desk)
        except Conflict as error:
            assert error.code in ("desk_busy", "observation_full")
        else:
            raise AssertionError("a busy desk called someone else")
        assert self.state_key() == before

    # --- invariants -------------------------------------------------------------------------------
    @invariant()
    def every_visit_is_in_one_known_state_with_a_station_only_while_active(self):
        for visit in self.log.visits.values():
            assert visit.state in STATES
            if visit.state in ACTIVE_STATES:
                assert visit.station is not None, visit
                assert visit.active
            else:
                assert visit.state in TERMINAL_STATES
                assert visit.station is None and visit.desk is None, visit
            if visit.state in ("waiting", "observing", "emergency"):
                assert visit.desk is None
            if visit.state in ("called", "serving"):
                assert visit.station in QUEUE_STATIONS and visit.desk in DESKS[visit.station]
            if visit.state in ("observing", "emergency"):
                assert visit.vaccinated

    @invariant()
    def snapshot_counts_match_the_visits(self):
        now = self.log.clock.now()
        snap = snapshot(SITE, OnSite(self.log.active()), seq=self.log.seq, now=now)
        visits = list(self.log.visits.values())
        for name in STATIONS:
            for state in ("waiting", "called", "serving"):
                expected = sum(1 for v in visits if v.station == name and v.state == state)
                assert snap["stations"][name][state] == expected, (name, state)
        assert snap["observation"]["count"] == sum(1 for v in visits if v.state == "observing")
        assert snap["emergency"]["count"] == sum(1 for v in visits if v.state == "emergency")
        assert snap["observation"]["heading"] == sum(
            1 for v in visits if v.station == "injection" and v.state in ("called", "serving")
        )
        ready = [v for v in visits if v.state == "observing" and v.leave_at <= now]
        assert sorted(snap["observation"]["ready"]) == sorted(v.ticket for v in ready)

    @invariant()
    def nobody_is_released_before_leave_at_without_an_override(self):
        undone = {event.data["reverts_seq"] for event in self.log.all_events if event.type == "reverted"}
        for event in self.log.all_events:
            if event.type != "released" or event.seq in undone:
                continue
            visit = self.log.visit(event.visit_id)
            assert visit.leave_at is not None
            if event.at < visit.leave_at:
                assert event.data.get("override_reason"), event
                assert visit.release_override == event.data["override_reason"]

    @invariant()
    def nobody_is_called_twice_without_queueing_again_and_desks_hold_one_person(self):
        for events in self.log.events.values():
            queued = False
            for event in events:
                if event.type in ("checked_in", "requeued", "consented") or (event.type == "corrected" and event.data["to"]["state"] == "waiting"):
                    queued = True
                elif event.type == "reverted":  # an undo: back to whatever it was before
                    queued = event.data["restore"]["state"] == "waiting"
                elif event.type == "called":
                    assert queued, f"{event.visit_id} called twice without waiting in between"
                    queued = False
        seen: set[tuple[str, str]] = set()
        for visit in self.log.visits.values():
            if visit.state in ("called", "serving"):
                place = (visit.station, visit.desk)
                assert place not in seen, f"two people at {place}"
                seen.add(place)

    @invariant()
    def replaying_each_visit_gives_the_current_visit(self):
        for visit_id, events in self.log.events.items():
            assert replay(events) == self.log.visit(visit_id)

    @invariant()
    def sequence_numbers_are_unique_and_increasing(self):
        seqs = [event.seq for event in self.log.all_events]
        assert seqs == list(range(1, len(seqs) + 1))
        for visit_id, events in self.log.events.items():
            own = [event.seq for event in events]
            assert own == sorted(set(own))
            assert self.log.visit(visit_id).last_seq == own[-1]
            assert self.log.visit(visit_id).version == len(own)
        times = [event.at for event in self.log.all_events]
        assert times == sorted(times)


SiteFlow.TestCase.settings = settings(max_examples=100, stateful_step_count=80, deadline=None)
TestSiteFlow = SiteFlow.TestCase
