"""The rules of the flow, driven purely: drafts from `decide_*` folded by `apply` in an in-memory log."""
from __future__ import annotations

import ast
import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.clock import FixedClock
from app.domain import rules
from app.domain.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from app.domain.onsite import OnSite
from app.domain.permissions import ROLES, RULES, Action, Principal, allowed, authorize, view_level
from app.domain.privacy import event_view, visit_view
from app.domain.projections import snapshot
from app.domain.visit import ACTIVE_STATES, STATES, TERMINAL_STATES, Event, apply, queue_order, replay
from app.domain.vocabulary import CHECKLIST, DEFERRAL_REASONS, SCREENING_QUESTIONS, STATIONS
from tests.conftest import START
from tests.support.factories import EXPIRED_LOT, gen_answers, gen_checkin, gen_resident_id
from tests.unit.domain_helpers import Log, at, make_site

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def log() -> Log:
    return Log(make_site(), FixedClock(START))


def raises(kind: type[DomainError], code: str | None = None, *fields: str):
    """A context manager checking the error class, its code, and the fields it names."""

    class _Check:
        def __enter__(self):
            self._ctx = pytest.raises(kind)
            self.info = self._ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self._ctx.__exit__(*exc)
            error = self.info.value
            if code is not None:
                assert error.code == code, f"code {error.code!r}: {error.message}"
            for name in fields:
                assert name in error.fields, f"{name!r} not in {error.fields}"
            return handled

    return _Check()


def unchanged(log: Log):
    """Snapshot of the log, to check that a refused action changed nothing."""
    return dict(log.visits), log.seq, len(log.all_events)


# === check-in ===================================================================================

def test_green_code_gets_a_ticket_and_waits_for_consent(log):
    visit = log.check_in(name=" 王小明 ", phone=" 13800138000 ")
    assert visit.ticket == "A001"
    assert (visit.state, visit.station, visit.desk) == ("waiting", "consent", None)
    assert visit.person.name == "王小明"
    assert visit.person.phone == "13800138000"
    assert visit.day == date(2026, 11, 24)
    assert visit.checked_in_at == START
    assert visit.queue_pos == visit.last_seq == log.seq  # after the site file's deliveries
    assert visit.version == 1
    assert log.check_in().ticket == "A002"


def test_ticket_is_the_prefix_and_a_zero_padded_number():
    assert rules.format_ticket("A", 1) == "A001"
    assert rules.format_ticket("B", 23) == "B023"
    assert rules.format_ticket("A", 1000) == "A1000"


def test_ticket_prefix_comes_from_the_site():
    site = make_site()
    site = site.model_copy(update={"ticket_prefix": "C"})
    assert Log(site).check_in().ticket == "C001"


@pytest.mark.parametrize("colour", ["yellow", "red"])
def test_yellow_or_red_code_is_turned_away_with_reason_and_no_ticket(log, colour):
    visit = log.check_in(health_code=colour)
    assert visit.state == "turned_away"
    assert visit.ticket is None
    assert visit.station is None
    assert visit.closed_reason == f"health_code_{colour}"
    assert visit.closed_at == START
    assert log.last_event(visit.id).type == "turned_away"
    # No ticket number was used up.
    assert log.check_in().ticket == "A001"


def test_second_check_in_while_a_visit_is_open_is_a_duplicate(log):
    number = gen_resident_id()
    first = log.check_in(document_number=number)
    before = unchanged(log)
    with raises(Conflict, "duplicate_visit", "document_number") as caught:
        log.check_in(document_number=number)
    assert first.ticket in caught.value.message
    assert unchanged(log) == before


def test_duplicate_is_found_whatever_the_spelling_of_a_final_x(log):
    first17 = "11010519491231002"
    log.check_in(document_number=first17 + "X")
    with raises(Conflict, "duplicate_visit"):
        log.check_in(document_number=first17 + "x")


def test_duplicate_passport_is_found_case_insensitively(log):
    log.check_in(document_type="passport", document_number="e1234567")
    with raises(Conflict, "duplicate_visit"):
        log.check_in(document_type="passport", document_number="E1234567")


def test_person_vaccinated_today_cannot_check_in_again(log):
    number = gen_resident_id()
    visit = log.check_in(document_number=number)
    log.call_next("consent", "A")
    log.consent(visit.id)
    log.call_next("injection", "1")
    log.inject(visit.id)
    log.clock.advance(minutes=30)
    assert log.release(visit.id).state == "released"
    with raises(Conflict, "already_vaccinated_today", "document_number"):
        log.check_in(document_number=number)


def test_deferred_visit_does_not_block_a_new_check_in(log):
    number = gen_resident_id()
    visit = log.check_in(document_number=number)
    log.call_next("consent", "A")
    log.consent(visit.id, outcome="deferred", deferral_reason="fever", signature=None, answers=gen_answers(fever=True))
    assert log.visit(visit.id).state == "deferred"
    again = log.check_in(document_number=number)
    assert again.state == "waiting"
    assert again.ticket == "A002"


def test_turned_away_visit_does_not_block_a_new_check_in(log):
    number = gen_resident_id()
    log.check_in(document_number=number, health_code="yellow")
    assert log.check_in(document_number=number).state == "waiting"


def test_visit_from_another_day_does_not_block(log):
    number = gen_resident_id()
    log.check_in(document_number=number)
    log.clock.advance(days=1)
    visit = log.check_in(document_number=number)
    assert visit.day == date(2026, 11, 25)
    assert visit.ticket == "A001"


def test_check_in_day_is_the_site_day_not_the_utc_day():
    log = Log(make_site(), FixedClock(at("2026-11-24T16:30:00+00:00")))
    assert log.check_in().day == date(2026, 11, 25)


def test_person_turning_60_today_gets_priority_automatically(log):
    visit = log.check_in(document_number=gen_resident_id(birth="19661124"))
    assert visit.priority is True
    assert log.last_event(visit.id).data["priority_reason"] == "age_60_plus"


def test_person_turning_60_tomorrow_has_no_priority(log):
    visit = log.check_in(document_number=gen_resident_id(birth="19661125"))
    assert visit.priority is False
    assert log.last_event(visit.id).data["priority_reason"] is None


def test_requested_priority_is_kept_with_its_reason(log):
    visit = log.check_in(priority=True)
    assert visit.priority is True
    assert log.last_event(visit.id).data["priority_reason"] == "requested"


def test_passport_holder_over_60_by_given_birth_date_gets_priority(log):
    visit = log.check_in(document_type="passport", document_number="E7654321", birth_date=date(1950, 1, 1))
    assert visit.priority is True
    assert visit.person.birth_date == date(1950, 1, 1)


def test_passport_without_birth_date_has_no_age_priority(log):
    visit = log.check_in(document_type="passport", document_number="E7654322", birth_date=None)
    assert visit.priority is False
    assert visit.person.birth_date is None


def test_invalid_check_in_fields_are_all_named(log):
    before = log.seq
    with raises(ValidationFailed, "validation_failed", "name", "health_code", "dose_number", "birth_date"):
        log.check_in(
            name="   ", health_code="blue", dose_number=5, document_type="passport", document_number="E1234567",
            birth_date=date(2026, 11, 25),
        )
    assert log.seq == before


def test_birth_date_more_than_130_years_ago_is_refused(log):
    with raises(ValidationFailed, None, "birth_date"):
        log.check_in(document_type="passport", document_number="E1234567", birth_date=date(1890, 1, 1))


@pytest.mark.parametrize("dose", [0, 5, -1])
def test_dose_number_outside_1_to_4_is_refused(log, dose):
    with raises(ValidationFailed, None, "dose_number"):
        log.check_in(dose_number=dose)


@pytest.mark.parametrize("dose", [1, 2, 3, 4])
def test_dose_numbers_1_to_4_are_accepted(log, dose):
    assert log.check_in(dose_number=dose).dose_number == dose


def test_invalid_document_number_is_refused_naming_the_field(log):
    number = gen_resident_id()
    mistyped = number[:17] + ("0" if number[17] != "0" else "1")
    before = log.seq
    with raises(ValidationFailed, None, "document_number"):
        log.check_in(document_number=mistyped)
    assert log.seq == before


def test_blank_phone_is_stored_as_none(log):
    assert log.check_in(phone="   ").person.phone is None
    assert log.check_in(phone=None).person.phone is None


# === calling ====================================================================================

def test_call_next_takes_the_first_checked_in(log):
    first, second = log.check_in(), log.check_in()
    called = log.call_next("consent", "A")
    assert called.id == first.id
    assert (called.state, called.station, called.desk, called.called_at) == ("called", "consent", "A", START)
    assert log.call_next("consent", "B").id == second.id


def test_priority_people_are_called_first_then_fifo_within_priority(log):
    normal1 = log.check_in()
    prio1 = log.check_in(priority=True)
    normal2 = log.check_in()
    prio2 = log.check_in(document_number=gen_resident_id(birth="19500101"))
    order = []
    for desk in ("A", "B"):
        order.append(log.call_next("consent", desk).id)
    log.cancel(order[0], reason="x")
    log.cancel(order[1], reason="x")
    for desk in ("A", "B"):
        order.append(log.call_next("consent", desk).id)
    assert order == [prio1.id, prio2.id, normal1.id, normal2.id]


def test_queue_order_sorts_priority_first_then_by_queue_position(log):
    visits = [log.check_in(), log.check_in(priority=True), log.check_in(), log.check_in(priority=True)]
    ordered = sorted(reversed(visits), key=queue_order)  # noqa: C414 - not in the order made
    assert [v.id for v in ordered] == [visits[1].id, visits[3].id, visits[0].id, visits[2].id]


def test_nobody_waiting_gives_no_call(log):
    before = log.seq
    assert log.call_next("consent", "A") is None
    assert log.seq == before


def test_desk_with_a_called_person_is_busy(log):
    log.check_in(), log.check_in()
    first = log.call_next("consent", "A")
    with raises(Conflict, "desk_busy") as caught:
        log.call_next("consent", "A")
    assert first.ticket in caught.value.message


def test_desk_with_a_person_being_served_is_busy(log):
    log.check_in(), log.check_in()
    first = log.call_next("consent", "A")
    log.start(first.id, "A")
    with raises(Conflict, "desk_busy"):
        log.call_next("consent", "A")


def test_desk_is_free_again_once_the_outcome_is_recorded(log):
    first, second = log.check_in(), log.check_in()
    log.call_next("consent", "A")
    log.consent(first.id)
    assert log.call_next("consent", "A").id == second.id


def test_call_at_an_unknown_desk_is_refused(log):
    log.check_in()
    with raises(ValidationFailed, None, "desk"):
        log.call_next("consent", "Z")


def test_call_at_an_unknown_station_is_not_found(log):
    with raises(NotFound, "unknown_station"):
        rules.decide_call(log.site, station="pharmacy", desk="1", desk_visit=None, candidate=None)


@pytest.mark.parametrize("station", ["checkin", "observation", "exit"])
def test_station_without_a_queue_cannot_call(log, station):
    with raises(Conflict, "no_queue"):
        rules.decide_call(log.site, station=station, desk="1", desk_visit=None, candidate=None)


def test_candidate_from_another_station_cannot_be_called(log):
    visit = log.check_in()
    with raises(Conflict, "invalid_transition"):
        rules.decide_call(log.site, station="injection", desk="1", desk_visit=None, candidate=visit)


def test_candidate_who_is_not_waiting_cannot_be_called(log):
    log.check_in()
    called = log.call_next("consent", "A")
    with raises(Conflict, "invalid_transition"):
        rules.decide_call(log.site, station="consent", desk="B", desk_visit=None, candidate=called)


def test_observation_gate_refuses_at_exactly_the_number_of_seats():
    with raises(Conflict, "observation_full"):
        rules.observation_gate(observing=60, heading_to_observation=0, seats=60)
    with raises(Conflict, "observation_full"):
        rules.observation_gate(observing=58, heading_to_observation=2, seats=60)
    rules.observation_gate(observing=59, heading_to_observation=0, seats=60)
    rules.observation_gate(observing=58, heading_to_observation=1, seats=60)


def test_injection_booth_cannot_call_when_observation_is_full():
    log = Log(make_site(seats=2))
    first = log.to_observation("1")
    log.to_injection_desk("2")  # one observing + one heading: full
    waiting = log.to_injection_queue()
    with raises(Conflict, "observation_full"):
        log.call_next("injection", "3")
    assert log.visit(waiting.id).state == "waiting"
    # A release frees a seat: one observing place is left for the waiting person.
    log.clock.advance(minutes=30)
    log.release(first.id)
    assert log.call_next("injection", "3").id == waiting.id


def test_injection_booth_may_call_with_one_seat_left():
    log = Log(make_site(seats=2))
    log.to_observation("1")
    waiting = log.to_injection_queue()
    assert log.call_next("injection", "2").id == waiting.id


def test_consent_desks_are_not_gated_by_observation_seats():
    log = Log(make_site(seats=1))
    log.to_observation("1")
    assert log.to_consent_desk("A").state == "called"


def test_people_in_the_emergency_area_do_not_use_observation_seats():
    log = Log(make_site(seats=1))
    visit = log.to_observation("1")
    log.aefi(visit.id)
    waiting = log.to_injection_queue()
    assert log.call_next("injection", "1").id == waiting.id


# === recall, start, no-show, cancel =============================================================

def test_recall_up_to_the_limit_then_refused():
    log = Log(make_site(max_recalls=2))
    visit = log.to_consent_desk()
    log.clock.advance(minutes=1)
    recalled = log.recall(visit.id)
    assert (recalled.recalls, recalled.called_at, recalled.state) == (1, START + timedelta(minutes=1), "called")
    assert log.last_event(visit.id).data == {"ticket": visit.ticket, "recall": 1}
    assert log.recall(visit.id).recalls == 2
    before = unchanged(log)
    with raises(Conflict, "recall_limit"):
        log.recall(visit.id)
    assert unchanged(log) == before


def test_recall_limit_of_zero_refuses_the_first_recall():
    log = Log(make_site(max_recalls=0))
    visit = log.to_consent_desk()
    with raises(Conflict, "recall_limit"):
        log.recall(visit.id)


def test_only_a_called_person_can_be_recalled(log):
    visit = log.check_in()
    with raises(Conflict, "invalid_transition"):
        log.recall(visit.id)
    log.call_next("consent", "A")
    log.start(visit.id, "A")
    with raises(Conflict, "invalid_transition"):
        log.recall(visit.id)


def test_recalls_start_again_from_zero_on_a_new_call():
    log = Log(make_site(max_recalls=1, max_requeues=1))
    visit = log.to_consent_desk()
    log.recall(visit.id)
    log.no_show(visit.id)
    called = log.call_next("consent", "A")
    assert called.recalls == 0
    assert log.recall(visit.id).recalls == 1


def test_start_moves_a_called_person_to_serving_at_the_same_desk(log):
    visit = log.to_consent_desk("B")
    started = log.start(visit.id, "B")
    assert (started.state, started.station, started.desk) == ("serving", "consent", "B")


def test_start_at_another_desk_is_refused(log):
    visit = log.to_consent_desk("B")
    with raises(Conflict, "wrong_desk", "desk"):
        log.start(visit.id, "A")


@pytest.mark.parametrize("how", ["waiting", "serving"])
def test_start_only_from_called(log, how):
    visit = log.check_in()
    if how == "serving":
        log.call_next("consent", "A")
        log.start(visit.id, "A")
    with raises(Conflict, "invalid_transition"):
        log.start(visit.id, "A")


def test_no_show_goes_to_the_back_of_the_same_queue(log):
    absent, present = log.check_in(), log.check_in()
    log.call_next("consent", "A")
    requeued = log.no_show(absent.id)
    assert (requeued.state, requeued.station, requeued.desk) == ("waiting", "consent", None)
    assert requeued.requeues == 1
    assert requeued.called_at is None
    assert requeued.queue_pos == requeued.last_seq > log.visit(present.id).queue_pos
    assert log.last_event(absent.id).type == "requeued"
    assert log.call_next("consent", "A").id == present.id
    assert log.call_next("consent", "B").id == absent.id


def test_no_show_after_max_requeues_closes_the_visit():
    log = Log(make_site(max_requeues=1))
    visit = log.to_consent_desk()
    log.no_show(visit.id)
    log.call_next("consent", "B")
    closed = log.no_show(visit.id)
    assert closed.state == "no_show"
    assert (closed.station, closed.desk) == (None, None)
    assert closed.closed_reason == "no_show"
    assert closed.closed_at == START
    assert log.last_event(visit.id).data == {"requeues": 1}


def test_no_show_with_zero_requeues_allowed_closes_at_once():
    log = Log(make_site(max_requeues=0))
    visit = log.to_consent_desk()
    assert log.no_show(visit.id).state == "no_show"


def test_no_show_at_injection_requeues_at_injection(log):
    visit = log.to_injection_desk("3")
    requeued = log.no_show(visit.id)
    assert (requeued.state, requeued.station) == ("waiting", "injection")


def test_only_a_called_person_can_be_a_no_show(log):
    visit = log.to_consent_desk()
    log.start(visit.id, "A")
    with raises(Conflict, "invalid_transition"):
        log.no_show(visit.id)


@pytest.mark.parametrize("where", ["waiting", "called", "serving", "injection queue", "injection desk"])
def test_cancel_before_injection_closes_the_visit_as_left(log, where):
    if where == "waiting":
        visit = log.check_in()
    elif where == "called":
        visit = log.to_consent_desk()
    elif where == "serving":
        visit = log.start(log.to_consent_desk().id, "A")
    elif where == "injection queue":
        visit = log.to_injection_queue()
    else:
        visit = log.to_injection_desk()
    left = log.cancel(visit.id, reason="  felt unwell  ")
    assert left.state == "left"
    assert (left.station, left.desk) == (None, None)
    assert left.closed_reason == "felt unwell"
    assert log.last_event(visit.id).data == {"reason": "felt unwell"}


def test_cancel_after_injection_is_refused(log):
    visit = log.to_observation()
    with raises(Conflict, "invalid_transition"):
        log.cancel(visit.id)
    log.aefi(visit.id)
    with raises(Conflict, "invalid_transition"):
        log.cancel(visit.id)


def test_cancel_needs_a_reason(log):
    visit = log.check_in()
    with raises(ValidationFailed, None, "reason"):
        log.cancel(visit.id, reason="   ")


def test_cancel_of_a_closed_visit_is_refused(log):
    visit = log.check_in(health_code="red")
    with raises(Conflict, "invalid_transition"):
        log.cancel(visit.id)


# === consent ====================================================================================

def test_eligible_consent_moves_the_person_to_the_injection_queue(log):
    visit = log.to_consent_desk("B")
    consented = log.consent(visit.id, desk="B")
    assert (consented.state, consented.station, consented.desk) == ("waiting", "injection", None)
    assert consented.queue_pos == consented.last_seq
    assert consented.consent["outcome"] == "eligible"
    assert consented.consent["desk"] == "B"
    assert consented.consent["signature"] == "confirmed"
    assert consented.consent["answers"] == gen_answers()
    assert consented.extended_observation is False


def test_consent_may_be_recorded_while_serving(log):
    visit = log.to_consent_desk()
    log.start(visit.id, "A")
    assert log.consent(visit.id).station == "injection"


def test_consent_at_another_desk_is_refused(log):
    visit = log.to_consent_desk("A")
    with raises(Conflict, "wrong_desk", "desk"):
        log.consent(visit.id, desk="B")


def test_consent_for_someone_not_called_is_refused(log):
    visit = log.check_in()
    with raises(Conflict, "invalid_transition"):
        log.consent(visit.id, desk="A")


def test_consent_at_the_injection_desk_is_refused(log):
    visit = log.to_injection_desk("1")
    with raises(Conflict, "invalid_transition"):
        log.consent(visit.id, desk="1")


@pytest.mark.parametrize("question", list(SCREENING_QUESTIONS))
def test_every_screening_answer_is_required(log, question):
    visit = log.to_consent_desk()
    answers = gen_answers()
    del answers[question]
    with raises(ValidationFailed, None, "answers") as caught:
        log.consent(visit.id, answers=answers)
    assert question in caught.value.fields["answers"]


def test_unknown_screening_question_is_refused(log):
    visit = log.to_consent_desk()
    with raises(ValidationFailed, None, "answers") as caught:
        log.consent(visit.id, answers=dict(gen_answers(), horoscope=False))
    assert "horoscope" in caught.value.fields["answers"]


@pytest.mark.parametrize("question", list(SCREENING_QUESTIONS))
def test_eligible_with_any_contraindication_is_refused(log, question):
    visit = log.to_consent_desk()
    with raises(ValidationFailed, None, "outcome") as caught:
        log.consent(visit.id, answers=gen_answers(**{question: True}))
    assert question in caught.value.fields["outcome"]


@pytest.mark.parametrize("reason", list(DEFERRAL_REASONS))
def test_deferral_with_a_known_reason_closes_the_visit(log, reason):
    visit = log.to_consent_desk()
    deferred = log.consent(visit.id, outcome="deferred", deferral_reason=reason, signature=None)
    assert deferred.state == "deferred"
    assert (deferred.station, deferred.desk) == (None, None)
    assert deferred.closed_reason == reason
    assert deferred.consent["deferral_reason"] == reason


@pytest.mark.parametrize("reason", [None, "", "bored"])
def test_deferral_needs_a_known_reason_code(log, reason):
    visit = log.to_consent_desk()
    with raises(ValidationFailed, None, "deferral_reason"):
        log.consent(visit.id, outcome="deferred", deferral_reason=reason)


@pytest.mark.parametrize("outcome", ["eligible", "refused"])
def test_only_a_deferral_has_a_reason(log, outcome):
    visit = log.to_consent_desk()
    with raises(ValidationFailed, None, "deferral_reason"):
        log.consent(visit.id, outcome=outcome, deferral_reason="fever")


def test_refusal_closes_the_visit_without_keeping_a_signature(log):
    visit = log.to_consent_desk()
    refused = log.consent(visit.id, outcome="refused", signature="confirmed")
    assert refused.state == "refused"
    assert refused.closed_reason == "refused"
    assert refused.consent["signature"] is None


def test_deferral_may_have_contraindications(log):
    visit = log.to_consent_desk()
    deferred = log.consent(
        visit.id, outcome="deferred", deferral_reason="pregnancy", answers=gen_answers(pregnancy=True), signature=None
    )
    assert deferred.consent["answers"]["pregnancy"] is True


def test_unknown_consent_outcome_is_refused(log):
    visit = log.to_consent_desk()
    with raises(ValidationFailed, None, "outcome"):
        log.consent(visit.id, outcome="maybe")


@pytest.mark.parametrize("signature", ["confirmed", "data:image/png;base64,iVBORw0KGgo=", "data:image/svg+xml;utf8,<svg/>"])
def test_eligible_consent_accepts_a_signature_image_or_confirmed(log, signature):
    visit = log.to_consent_desk()
    assert log.consent(visit.id, signature=signature).consent["signature"] == signature


@pytest.mark.parametrize("signature", [None, "", "yes", "Confirmed", "data:text/plain,hi", "http://x/sig.png"])
def test_eligible_consent_without_a_valid_signature_is_refused(log, signature):
    visit = log.to_consent_desk()
    with raises(ValidationFailed, None, "signature"):
        log.consent(visit.id, signature=signature)


def test_oversized_signature_image_is_refused(log):
    visit = log.to_consent_desk()
    huge = "data:image/png;base64," + "A" * rules.MAX_SIGNATURE_CHARS
    with raises(ValidationFailed, None, "signature"):
        log.consent(visit.id, signature=huge)


def test_allergy_history_flags_extended_observation(log):
    visit = log.to_injection_desk(allergy_history=True)
    assert visit.extended_observation is True
    injected = log.inject(visit.id)
    assert injected.leave_at == START + timedelta(minutes=log.site.observation.extended_minutes)
    assert injected.injection["observation_minutes"] == 60


# === injection ==================================================================================

def test_injection_records_the_dose_and_starts_30_minutes_of_observation(log):
    visit = log.to_injection_desk("4")
    log.clock.advance(minutes=7)
    injected = log.inject(visit.id, site="right_deltoid")
    now = START + timedelta(minutes=7)
    assert (injected.state, injected.station, injected.desk) == ("observing", "observation", None)
    assert injected.injected_at == now
    assert injected.leave_at == now + timedelta(minutes=30)
    assert injected.vaccinated
    record = injected.injection
    assert record["product"] == "coronavac"
    assert record["lot"] == "202610A127"
    assert record["expires_on"] == "2027-10-15"
    assert record["dose_number"] == 1
    assert record["site"] == "right_deltoid"
    assert record["route"] == "IM"
    assert record["vaccinator"] == log.actor.split(":", 1)[1]  # the signed-in name of whoever injected
    assert record["desk"] == "4"
    assert record["manufacturer"].startswith("Sinovac")
    assert record["checklist"] == list(CHECKLIST)
    assert record["observation_minutes"] == 30
    assert log.last_event(visit.id).data["leave_at"] == injected.leave_at.isoformat()


def test_injection_while_serving_is_allowed(log):
    visit = log.to_injection_desk("2")
    log.start(visit.id, "2")
    assert log.inject(visit.id).state == "observing"


def test_checklist_has_eleven_items():
    assert len(CHECKLIST) == 11


@pytest.mark.parametrize("item", list(CHECKLIST))
def test_every_checklist_item_is_required(log, item):
    visit = log.to_injection_desk()
    before = unchanged(log)
    with raises(ValidationFailed, None, "checklist") as caught:
        log.inject(visit.id, checklist=[code for code in CHECKLIST if code != item])
    assert item in caught.value.fields["checklist"]
    assert unchanged(log) == before


def test_unknown_checklist_item_is_refused(log):
    visit = log.to_injection_desk()
    with raises(ValidationFailed, None, "checklist"):
        log.inject(visit.id, checklist=list(CHECKLIST) + ["looked_nice"])


def test_unknown_product_is_refused(log):
    visit = log.to_injection_desk()
    with raises(ValidationFailed, None, "product"):
        log.inject(visit.id, product="snake-oil")


def test_lot_of_another_product_is_refused(log):
    visit = log.to_injection_desk()
    with raises(ValidationFailed, None, "lot"):
        log.inject(visit.id, product="zf2001", lot="202610A127")


def test_expired_lot_is_refused(log):
    visit = log.to_injection_desk()
    with raises(ValidationFailed, None, "lot") as caught:
        log.inject(visit.id, **EXPIRED_LOT)
    assert "expired" in caught.value.fields["lot"]


EXPIRY_SITE = dict(
    extra_lots=[{"lot": "EXP1124", "expires_on": date(2026, 11, 24), "vials": 10},
                {"lot": "EXP1125", "expires_on": date(2026, 11, 25), "vials": 10}]
)


@pytest.mark.parametrize(
    ("now", "lot", "usable"),
    [
        ("2026-11-24T01:00:00+00:00", "EXP1124", True),   # 09:00 in Shanghai on the expiry day
        ("2026-11-24T15:59:59+00:00", "EXP1124", True),   # 23:59:59 in Shanghai, still the expiry day
        ("2026-11-24T16:00:00+00:00", "EXP1124", False),  # midnight in Shanghai: expired yesterday
        ("2026-11-24T17:00:00+00:00", "EXP1124", False),  # still 24 Nov in UTC, but 25 Nov at the site
        ("2026-11-24T17:00:00+00:00", "EXP1125", True),   # expires today at the site
        ("2026-11-25T15:59:59+00:00", "EXP1125", True),
        ("2026-11-25T16:00:00+00:00", "EXP1125", False),
    ],
)
def test_lot_is_usable_through_its_expiry_day_in_the_site_time_zone(now, lot, usable):
    log = Log(make_site(**EXPIRY_SITE), FixedClock(at(now) - timedelta(minutes=5)))
    visit = log.to_injection_desk()
    log.clock.set(at(now))
    if usable:
        assert log.inject(visit.id, lot=lot).injection["lot"] == lot
    else:
        with raises(ValidationFailed, None, "lot"):
            log.inject(visit.id, lot=lot)


@pytest.mark.parametrize("dose", [2, 3])
def test_dose_number_must_match_the_check_in(log, dose):
    visit = log.to_injection_desk()
    with raises(ValidationFailed, None, "dose_number"):
        log.inject(visit.id, dose_number=dose)


def test_booster_dose_matching_the_check_in_is_accepted(log):
    visit = log.check_in(dose_number=3)
    log.call_next("consent", "A")
    log.consent(visit.id)
    log.call_next("injection", "1")
    assert log.inject(visit.id).injection["dose_number"] == 3


def test_wrong_route_is_refused(log):
    visit = log.to_injection_desk()
    with raises(ValidationFailed, None, "route"):
        log.inject(visit.id, route="SC")


def test_unknown_injection_site_is_refused(log):
    visit = log.to_injection_desk()
    with raises(ValidationFailed, None, "site"):
        log.inject(visit.id, site="left_thigh")


def test_all_injection_problems_are_named_together(log):
    visit = log.to_injection_desk()
    with raises(ValidationFailed, None, "checklist", "product", "dose_number", "site"):
        log.inject(visit.id, checklist=[], product="nope", dose_number=2, site="nose")


def test_injection_at_another_booth_is_refused(log):
    visit = log.to_injection_desk("1")
    with raises(Conflict, "wrong_desk"):
        log.inject(visit.id, desk="2")


def test_injection_of_someone_still_at_consent_is_refused(log):
    visit = log.to_consent_desk("A")
    with raises(Conflict, "invalid_transition"):
        log.inject(visit.id, desk="A")


def test_injection_of_someone_waiting_for_injection_is_refused(log):
    visit = log.to_injection_queue()
    with raises(Conflict, "invalid_transition"):
        log.inject(visit.id, desk="1")


def test_second_injection_is_refused(log):
    visit = log.to_observation("1")
    with raises(Conflict, "invalid_transition"):
        log.inject(visit.id, desk="1")


# === release ====================================================================================

def test_release_at_exactly_leave_at_is_allowed(log):
    visit = log.to_observation()
    log.clock.set(visit.leave_at)
    released = log.release(visit.id)
    assert released.state == "released"
    assert released.released_at == visit.leave_at
    assert (released.station, released.desk) == (None, None)
    assert released.release_override is None
    assert log.last_event(visit.id).data == {"leave_at": visit.leave_at.isoformat()}


def test_release_one_second_early_is_refused(log):
    visit = log.to_observation()
    log.clock.set(visit.leave_at - timedelta(seconds=1))
    before = unchanged(log)
    with raises(Conflict, "early_release") as caught:
        log.release(visit.id)
    assert caught.value.fields == {"remaining_seconds": "1"}
    assert unchanged(log) == before


def test_release_after_leave_at_is_allowed(log):
    visit = log.to_observation()
    log.clock.advance(hours=2)
    assert log.release(visit.id).state == "released"


def test_may_leave_follows_leave_at(log):
    visit = log.to_observation()
    assert not visit.may_leave(visit.leave_at - timedelta(seconds=1))
    assert visit.may_leave(visit.leave_at)


def test_supervisor_override_releases_early_with_the_reason_recorded(log):
    visit = log.to_observation()
    log.clock.advance(minutes=10)
    released = log.release(visit.id, override_reason="  escorted by family doctor ", may_override=True)
    assert released.state == "released"
    assert released.release_override == "escorted by family doctor"
    data = log.last_event(visit.id).data
    assert data["override_reason"] == "escorted by family doctor"
    assert data["early_by_seconds"] == 20 * 60


def test_override_by_someone_who_may_not_override_is_forbidden(log):
    visit = log.to_observation()
    log.clock.advance(minutes=10)
    with raises(Forbidden, "forbidden"):
        log.release(visit.id, override_reason="in a hurry", may_override=False)
    assert log.visit(visit.id).state == "observing"


def test_override_needs_a_non_blank_reason(log):
    visit = log.to_observation()
    with raises(ValidationFailed, None, "override_reason"):
        log.release(visit.id, override_reason="   ", may_override=True)


def test_release_is_recorded_at_the_releasing_station(log):
    visit = log.to_observation()
    log.clock.advance(minutes=30)
    log.release(visit.id, station="exit")
    assert log.last_event(visit.id).station == "exit"


@pytest.mark.parametrize("where", ["waiting", "injection desk", "released"])
def test_only_someone_observing_can_be_released(log, where):
    if where == "waiting":
        visit = log.check_in()
    elif where == "injection desk":
        visit = log.to_injection_desk()
    else:
        visit = log.to_observation()
        log.clock.advance(minutes=30)
        log.release(visit.id)
    with raises(Conflict, "invalid_transition"):
        log.release(visit.id, override_reason="x", may_override=True)


# === adverse events =============================================================================

def test_aefi_before_injection_is_refused(log):
    visit = log.to_injection_desk()
    with raises(Conflict, "invalid_transition"):
        log.aefi(visit.id)


def test_aefi_after_release_is_refused(log):
    visit = log.to_observation()
    log.clock.advance(minutes=30)
    log.release(visit.id)
    with raises(Conflict, "invalid_transition"):
        log.aefi(visit.id)


def test_aefi_moves_the_person_to_the_emergency_area(log):
    visit = log.to_observation()
    log.clock.advance(minutes=12)
    onset = log.clock.now() - timedelta(minutes=2)
    reported = log.aefi(visit.id, symptoms=[" hives ", "", "dizziness"], onset_at=onset, actions=" adrenaline ")
    assert (reported.state, reported.station, reported.desk) == ("emergency", "emergency", None)
    (report,) = reported.aefi
    assert report["symptoms"] == ["hives", "dizziness"]
    assert report["onset_at"] == onset.isoformat()
    assert report["actions"] == "adrenaline"
    assert report["outcome"] is None
    assert report["seq"] == reported.last_seq
    assert report["reported_at"] == log.clock.now().isoformat()
    assert log.last_event(visit.id).station == "observation"


def test_aefi_recovered_on_the_spot_stays_in_observation(log):
    visit = log.to_observation()
    reported = log.aefi(visit.id, outcome="recovered")
    assert (reported.state, reported.station) == ("observing", "observation")
    assert reported.aefi[0]["outcome"] == "recovered"


def test_aefi_transferred_on_the_spot_closes_the_visit(log):
    visit = log.to_observation()
    reported = log.aefi(visit.id, severity="serious", serious_criteria=["hospitalisation"], outcome="transferred")
    assert reported.state == "transferred"
    assert reported.station is None
    assert reported.closed_reason == "aefi_transferred"
    assert reported.state in TERMINAL_STATES


def test_aefi_outcome_recovered_returns_to_observation(log):
    visit = log.to_observation()
    log.aefi(visit.id)
    log.clock.advance(minutes=20)
    resolved = log.aefi_outcome(visit.id, "recovered", notes=" fine ")
    assert (resolved.state, resolved.station) == ("observing", "observation")
    assert resolved.aefi[0]["outcome"] == "recovered"
    assert resolved.aefi[0]["outcome_at"] == log.clock.now().isoformat()
    assert log.last_event(visit.id).data == {"outcome": "recovered", "notes": "fine"}


def test_aefi_outcome_transferred_is_terminal(log):
    visit = log.to_observation()
    log.aefi(visit.id, severity="severe")
    resolved = log.aefi_outcome(visit.id, "transferred")
    assert resolved.state == "transferred"
    assert (resolved.station, resolved.desk) == (None, None)
    assert resolved.closed_reason == "aefi_transferred"
    with raises(Conflict, "invalid_transition"):
        log.aefi_outcome(visit.id, "recovered")
    with raises(Conflict, "invalid_transition"):
        log.release(visit.id, override_reason="x", may_override=True)


def test_second_aefi_report_from_the_emergency_area_is_kept(log):
    visit = log.to_observation()
    log.aefi(visit.id)
    again = log.aefi(visit.id, symptoms=["wheezing"], severity="severe")
    assert again.state == "emergency"
    assert [r["symptoms"] for r in again.aefi] == [["rash"], ["wheezing"]]
    resolved = log.aefi_outcome(visit.id, "recovered")
    assert [r["outcome"] for r in resolved.aefi] == ["recovered", "recovered"]


def test_aefi_outcome_only_from_the_emergency_area(log):
    visit = log.to_observation()
    with raises(Conflict, "invalid_transition"):
        log.aefi_outcome(visit.id, "recovered")


def test_unknown_aefi_outcome_is_refused(log):
    visit = log.to_observation()
    log.aefi(visit.id)
    with raises(ValidationFailed, None, "outcome"):
        log.aefi_outcome(visit.id, "vanished")
    with raises(ValidationFailed, None, "outcome"):
        log.aefi(visit.id, outcome="vanished")


def test_release_is_refused_while_in_the_emergency_area(log):
    visit = log.to_observation()
    log.aefi(visit.id)
    log.clock.advance(hours=1)
    with raises(Conflict, "invalid_transition"):
        log.release(visit.id)
    log.aefi_outcome(visit.id, "recovered")
    assert log.release(visit.id).state == "released"


def test_serious_aefi_needs_its_criteria(log):
    visit = log.to_observation()
    with raises(ValidationFailed, None, "serious_criteria"):
        log.aefi(visit.id, severity="serious", serious_criteria=[])


def test_unknown_serious_criteria_are_refused(log):
    visit = log.to_observation()
    with raises(ValidationFailed, None, "serious_criteria"):
        log.aefi(visit.id, severity="serious", serious_criteria=["hospitalisation", "scary"])


def test_unknown_severity_is_refused(log):
    visit = log.to_observation()
    with raises(ValidationFailed, None, "severity"):
        log.aefi(visit.id, severity="mild")


def test_aefi_needs_a_symptom(log):
    visit = log.to_observation()
    with raises(ValidationFailed, None, "symptoms"):
        log.aefi(visit.id, symptoms=["  ", ""])


@pytest.mark.parametrize(
    ("severity", "criteria", "hours"),
    [("serious", ["life_threatening"], 2), ("severe", [], 48), ("minor", [], 48)],
)
def test_report_is_due_2_hours_after_a_serious_event_and_48_otherwise(log, severity, criteria, hours):
    visit = log.to_observation()
    log.clock.advance(minutes=5)
    reported = log.aefi(visit.id, severity=severity, serious_criteria=criteria, onset_at=START)
    assert reported.aefi[0]["report_due_at"] == (log.clock.now() + timedelta(hours=hours)).isoformat()


def test_onset_before_the_injection_is_refused(log):
    visit = log.to_observation()
    with raises(ValidationFailed, None, "onset_at"):
        log.aefi(visit.id, onset_at=visit.injected_at - timedelta(seconds=1))


def test_onset_at_the_injection_time_is_accepted(log):
    visit = log.to_observation()
    log.clock.advance(minutes=3)
    assert log.aefi(visit.id, onset_at=visit.injected_at).state == "emergency"


def test_onset_in_the_future_is_refused_beyond_the_clock_skew(log):
    visit = log.to_observation()
    with raises(ValidationFailed, None, "onset_at"):
        log.aefi(visit.id, onset_at=log.clock.now() + rules.CLOCK_SKEW + timedelta(seconds=1))
    assert log.aefi(visit.id, onset_at=log.clock.now() + rules.CLOCK_SKEW).state == "emergency"


# === corrections ================================================================================

def deferred_visit(log: Log):
    visit = log.to_consent_desk()
    return log.consent(visit.id, outcome="deferred", deferral_reason="fever", answers=gen_answers(fever=True), signature=None)


def test_mistaken_deferral_can_be_put_back_in_the_consent_queue(log):
    visit = deferred_visit(log)
    deferral = log.last_event(visit.id)
    corrected = log.correct(visit.id, state="waiting", station="consent", reason="  wrong person  ")
    assert (corrected.state, corrected.station, corrected.desk) == ("waiting", "consent", None)
    assert corrected.closed_reason is None and corrected.closed_at is None
    assert corrected.queue_pos == corrected.last_seq
    data = log.last_event(visit.id).data
    assert data == {
        "reason": "wrong person",
        "corrects_seq": deferral.seq,
        "corrects_type": "deferred",
        "from": {"state": "deferred", "station": None},
        "to": {"state": "waiting", "station": "consent"},
    }
    # ... and goes on through the flow.
    log.call_next("consent", "A")
    assert log.consent(visit.id).state == "waiting"


def test_injection_queue_needs_an_eligible_consent(log):
    visit = deferred_visit(log)
    with raises(ValidationFailed, None, "station"):
        log.correct(visit.id, state="waiting", station="injection")
    fresh = log.check_in()
    with raises(ValidationFailed, None, "station"):
        log.correct(fresh.id, state="waiting", station="injection")


def test_person_who_left_after_consent_can_go_back_to_the_injection_queue(log):
    visit = log.to_injection_queue()
    log.cancel(visit.id, reason="went to the toilet")
    corrected = log.correct(visit.id, state="waiting", station="injection")
    assert (corrected.state, corrected.station) == ("waiting", "injection")


@pytest.mark.parametrize("stage", ["observing", "emergency", "released", "transferred"])
@pytest.mark.parametrize("target", [("waiting", "consent"), ("waiting", "injection"), ("left", None)])
def test_vaccinated_visit_cannot_be_corrected(log, stage, target):
    visit = log.to_observation()
    if stage == "emergency":
        log.aefi(visit.id)
    elif stage == "released":
        log.clock.advance(minutes=30)
        log.release(visit.id)
    elif stage == "transferred":
        log.aefi(visit.id, outcome="transferred")
    before = unchanged(log)
    with raises(Conflict, "invalid_transition"):
        log.correct(visit.id, state=target[0], station=target[1])
    assert unchanged(log) == before


def test_turned_away_visit_cannot_be_put_back_in_a_queue(log):
    visit = log.check_in(health_code="yellow")
    with raises(Conflict, "invalid_transition"):
        log.correct(visit.id, state="waiting", station="consent")


@pytest.mark.parametrize("reason", ["", "   "])
def test_correction_needs_a_reason(log, reason):
    visit = deferred_visit(log)
    with raises(ValidationFailed, None, "reason"):
        log.correct(visit.id, state="waiting", station="consent", reason=reason)


@pytest.mark.parametrize("state", ["released", "called", "observing", "deferred"])
def test_correction_only_to_waiting_or_left(log, state):
    visit = log.check_in()
    with raises(ValidationFailed, None, "state"):
        log.correct(visit.id, state=state, station="consent")


@pytest.mark.parametrize("station", [None, "checkin", "observation", "exit", "emergency"])
def test_correction_to_waiting_needs_a_queue_station(log, station):
    visit = deferred_visit(log)
    with raises(ValidationFailed, None, "station"):
        log.correct(visit.id, state="waiting", station=station)


def test_open_visit_can_be_closed_as_left_by_correction(log):
    visit = log.to_consent_desk()
    closed = log.correct(visit.id, state="left", station=None, reason="walked out")
    assert closed.state == "left"
    assert closed.closed_reason == "walked out"
    assert (closed.station, closed.desk) == (None, None)


def test_closed_visit_cannot_be_closed_again(log):
    visit = deferred_visit(log)
    with raises(Conflict, "invalid_transition"):
        log.correct(visit.id, state="left", station=None)


def test_called_person_corrected_back_to_waiting_frees_the_desk(log):
    visit = log.to_consent_desk("A")
    corrected = log.correct(visit.id, state="waiting", station="consent")
    assert corrected.desk is None
    assert log.visit_at_desk("consent", "A") is None


# === replay =====================================================================================

def test_replay_of_a_full_journey_gives_the_same_visit(log):
    visit = log.to_observation(allergy_history=True)
    log.aefi(visit.id)
    log.aefi_outcome(visit.id, "recovered")
    log.clock.advance(hours=1)
    log.release(visit.id)
    assert replay(log.events[visit.id]) == log.visit(visit.id)
    assert log.visit(visit.id).version == len(log.events[visit.id])


def test_apply_refuses_an_event_that_does_not_fit():
    from app.domain.visit import ReplayError

    log = Log()
    visit = log.check_in()
    stray = Event(seq=99, site="demo", visit_id=visit.id, type="injected", at=START, actor="x", data={})
    with pytest.raises(ReplayError):
        apply(visit, stray)
    with pytest.raises(ReplayError):
        apply(None, Event(seq=1, site="demo", visit_id="v", type="called", at=START, actor="x"))
    with pytest.raises(ReplayError):
        apply(visit, Event(seq=99, site="demo", visit_id=visit.id, type="exploded", at=START, actor="x"))


# === privacy ====================================================================================

NAME = "欧阳娜娜"
PHONE = "13912345678"


@pytest.fixture
def private_visit(log):
    number = gen_resident_id(birth="19700101")
    visit = log.check_in(name=NAME, phone=PHONE, document_number=number)
    log.call_next("consent", "A")
    log.consent(visit.id, allergy_history=True, signature="data:image/png;base64,SECRETSIG")
    return log.visit(visit.id)


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def test_masked_view_hides_name_document_phone_and_answers(private_visit):
    view = visit_view(private_visit, "masked", now=START)
    text = dumps(view)
    assert NAME not in text
    assert private_visit.person.document_number not in text
    assert PHONE not in text
    assert PHONE[:7] not in text
    assert "1970-01-01" not in text
    assert "answers" not in view["consent"]
    assert "SECRETSIG" not in text
    assert view["person"]["name"] == "欧**娜"
    assert view["person"]["document_last4"] == private_visit.person.document_number[-4:]
    assert view["person"]["phone"] == "*******5678"
    assert view["person"]["age"] == 56


def test_full_view_shows_everything_but_the_signature_image(private_visit):
    view = visit_view(private_visit, "full", now=START)
    assert view["person"]["name"] == NAME
    assert view["person"]["document_number"] == private_visit.person.document_number
    assert view["person"]["phone"] == PHONE
    assert view["person"]["birth_date"] == "1970-01-01"
    assert view["consent"]["answers"] == gen_answers()
    assert view["consent"]["signed"] is True
    assert "SECRETSIG" not in dumps(view)


def test_display_level_gets_no_visit_view(private_visit):
    with pytest.raises(ValueError):
        visit_view(private_visit, "none", now=START)


def test_observation_part_of_the_view_counts_down(log):
    visit = log.to_observation()
    view = visit_view(visit, "masked", now=START + timedelta(minutes=10))
    assert view["observation"]["remaining_seconds"] == 20 * 60
    assert view["observation"]["may_leave"] is False
    assert view["observation"]["minutes"] == 30
    later = visit_view(visit, "masked", now=START + timedelta(minutes=31))
    assert later["observation"]["remaining_seconds"] == 0
    assert later["observation"]["may_leave"] is True
    assert "checklist" not in later["injection"]


def test_masked_event_view_has_no_data(log, private_visit):
    for event in log.events[private_visit.id]:
        view = event_view(event, "masked")
        assert "data" not in view
        text = dumps(view)
        assert NAME not in text and PHONE not in text
        assert view["seq"] == event.seq and view["type"] == event.type


def test_full_event_view_replaces_the_signature(log, private_visit):
    checked_in, _called, consented = log.events[private_visit.id]
    assert event_view(checked_in, "full")["data"]["person"]["name"] == NAME
    consent = event_view(consented, "full")["data"]["consent"]
    assert consent["signature"] == "(stored)"
    assert consented.data["consent"]["signature"].startswith("data:image/")


# === permissions ================================================================================

def station(name: str, site: str | None = "demo") -> Principal:
    return Principal(name=f"{name}-tablet", role="station", sites=None if site is None else frozenset({site}), station=name)


ADMIN = Principal("root", "admin")
CITY = Principal("city", "city_supervisor")
SUPERVISOR = Principal("boss", "site_supervisor", sites=frozenset({"demo"}))
DISPLAY = Principal("tv", "display", sites=frozenset({"demo"}))


@pytest.mark.parametrize(
    ("principal", "action", "site", "station_arg", "expected"),
    [
        (station("consent"), "visit.consent", "demo", "consent", True),
        (station("consent"), "visit.injection", "demo", "injection", False),
        (station("consent"), "visit.injection", "demo", None, False),
        (station("injection"), "visit.injection", "demo", "injection", True),
        (station("injection"), "visit.consent", "demo", None, False),
        (station("consent"), "visit.call_next", "demo", "injection", False),
        (station("checkin"), "visit.check_in", "demo", "checkin", True),
        (station("checkin"), "visit.call_next", "demo", "checkin", False),
        (station("consent"), "visit.check_in", "demo", "checkin", False),
        (station("consent"), "visit.read", "other", None, False),
        (station("consent", site=None), "visit.read", "other", None, True),
        (DISPLAY, "visit.read", "demo", None, False),
        (DISPLAY, "visit.list", "demo", None, False),
        (DISPLAY, "snapshot.read", "demo", None, True),
        (DISPLAY, "site.read", "demo", None, True),
        (DISPLAY, "visit.check_in", "demo", "checkin", False),
        (SUPERVISOR, "visit.read", "demo", None, True),
        (SUPERVISOR, "visit.read", "other", None, False),
        (SUPERVISOR, "visit.correct", "other", None, False),
        (SUPERVISOR, "visit.release_early", "other", None, False),
        (SUPERVISOR, "visit.correct", "demo", None, True),
        (CITY, "visit.correct", "anywhere", None, False),  # a city supervisor reads, does not act
        (CITY, "visit.read", "anywhere", None, True),
        (CITY, "visit.check_in", "anywhere", "checkin", False),
        (ADMIN, "visit.release_early", "anywhere", None, True),
        (SUPERVISOR, "visit.release_early", "demo", None, True),
        (station("observation"), "visit.release", "demo", "observation", True),
        (station("observation"), "visit.release_early", "demo", None, False),
        (station("exit"), "visit.release_early", "demo", None, False),
        (DISPLAY, "visit.release_early", "demo", None, False),
        (station("observation"), "visit.correct", "demo", None, False),
        (Principal("ghost", "station", sites=frozenset({"demo"}), station=None), "visit.read", "demo", None, False),
        (ADMIN, "visit.teleport", "demo", None, False),
        (Principal("x", "janitor", sites=frozenset({"demo"})), "site.read", "demo", None, False),
    ],
)
def test_allowed_table(principal, action, site, station_arg, expected):
    assert allowed(principal, action, site=site, station=station_arg) is expected


def test_release_early_is_only_for_admins_and_supervisors():
    for role in ROLES:
        for where in STATIONS:
            principal = Principal("p", role, sites=frozenset({"demo"}), station=where if role == "station" else None)
            assert allowed(principal, "visit.release_early", site="demo") is (role in ("admin", "site_supervisor"))


def test_authorize_raises_forbidden_naming_action_and_site():
    with raises(Forbidden, "forbidden") as caught:
        authorize(station("consent"), "visit.injection", site="demo", station="injection")
    assert "visit.injection" in caught.value.message and "demo" in caught.value.message
    authorize(SUPERVISOR, "visit.correct", site="demo")


def test_view_level_per_role():
    assert view_level(ADMIN) == "full"
    assert view_level(SUPERVISOR) == "full"
    assert view_level(CITY) == "full"
    assert view_level(station("consent")) == "masked"
    assert view_level(DISPLAY) == "none"


def _flow_action_names() -> set[str]:
    """Action names passed as constants to authorize/allowed/_visit_command in app/flow (and app/live)."""
    names: set[str] = set()
    for path in sorted([*(ROOT / "app" / "flow").glob("*.py"), *(ROOT / "app" / "live").glob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if called in ("authorize", "allowed") and len(node.args) >= 2:
                names.update(_action_name(node.args[1]))
            for keyword in node.keywords:
                if keyword.arg == "action":
                    names.update(_action_name(keyword.value))
    return names


def _action_name(node: ast.expr) -> set[str]:
    """The action a call names: a string constant, or a member of the Action enum."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Action":
        return {Action[node.attr].value}
    return set()


def test_every_action_the_flow_authorizes_exists_in_the_rules():
    names = _flow_action_names()
    assert len(names) >= 15, f"the source scan found too few action names: {sorted(names)}"
    assert sorted(names - set(RULES)) == []


# Where a visit is (visit.station) when each per-visit action can apply to it. app.flow checks a
# station token against the person's whereabouts with visit_station=visit.station.
VISIT_STATIONS_FOR_ACTION = {
    "visit.start": {"consent", "injection"},
    "visit.recall": {"consent", "injection"},
    "visit.no_show": {"consent", "injection"},
    "visit.cancel": {"consent", "injection"},
    "visit.consent": {"consent"},
    "visit.injection": {"injection"},
    "visit.release": {"observation"},
    "visit.aefi": {"observation", "emergency"},
    "visit.aefi_outcome": {"emergency"},
}


def test_visit_stations_for_actions_match_where_the_domain_puts_people():
    log = Log()
    where = {
        "observation": log.to_observation("2"),
        "injection": log.to_injection_desk("1"),
    }
    emergency = log.aefi(log.to_observation("3").id)
    where["consent"] = log.to_consent_desk("B")
    waiting = log.check_in()
    assert waiting.station == "consent"
    assert {name: visit.station for name, visit in where.items()} == {name: name for name in where}
    assert emergency.station == "emergency"


def test_every_station_granted_a_visit_action_can_act_on_some_visit():
    """A station listed in RULES for a per-visit action must be able to do it on at least one visit."""
    dead = []
    for action, stations_where_it_applies in VISIT_STATIONS_FOR_ACTION.items():
        for granted in RULES[action].stations:
            principal = station(granted)
            if not any(
                allowed(principal, action, site="demo", visit_station=at_) for at_ in stations_where_it_applies
            ):
                dead.append(f"{granted} staff: {action}")
    assert dead == [], "granted in RULES but refused for every visit it could apply to:\n" + "\n".join(dead)


@pytest.mark.parametrize(
    ("principal", "action", "visit_station", "expected"),
    [
        (station("exit"), "visit.release", "observation", True),
        (station("observation"), "visit.release", "observation", True),
        (station("observation"), "visit.aefi_outcome", "emergency", True),
        (station("exit"), "visit.aefi_outcome", "emergency", True),
        (station("injection"), "visit.aefi", "observation", True),
        (station("checkin"), "visit.cancel", "consent", True),
        (station("checkin"), "visit.cancel", "injection", False),
        (station("consent"), "visit.cancel", "injection", False),
        (station("injection"), "visit.cancel", "consent", False),
        (station("consent"), "visit.consent", "injection", False),
        (station("injection"), "visit.injection", "consent", False),
        (station("exit"), "visit.release", "consent", False),
        (station("observation"), "visit.read", "closed", False),
        (station("consent"), "visit.start", "closed", False),
        (SUPERVISOR, "visit.read", "closed", True),
        (SUPERVISOR, "visit.cancel", "injection", True),
        (ADMIN, "visit.aefi_outcome", "emergency", True),
    ],
)
def test_station_staff_reach_only_people_at_their_stations(principal, action, visit_station, expected):
    assert allowed(principal, action, site="demo", visit_station=visit_station) is expected


# === projections ================================================================================

def scene() -> Log:
    """A busy moment at a site with a few people in every state."""
    log = Log(make_site(seats=10))
    early = log.to_observation("1")                 # observing, may leave at START+30
    log.clock.advance(minutes=5)
    late = log.to_observation("2")                  # observing, may leave at START+35
    log.clock.advance(minutes=5)
    log.to_observation("3", allergy_history=True)   # observing, extended: START+70
    emergency = log.to_observation("4")
    log.aefi(emergency.id)                          # emergency
    log.to_injection_desk("5")                      # called at injection 5
    serving = log.to_injection_desk("6")
    log.start(serving.id, "6")                      # serving at injection 6
    log.to_injection_queue()                        # waiting at injection
    refused = log.to_consent_desk("B")
    log.consent(refused.id, outcome="refused")      # refused
    log.to_consent_desk("A")                        # called at consent A
    log.check_in(), log.check_in(priority=True)     # waiting at consent
    log.check_in(health_code="red")                 # turned away
    log.clock.set(START + timedelta(minutes=32))
    assert early.leave_at <= log.clock.now() < late.leave_at
    return log


def test_snapshot_counts_per_station_equal_the_visits_in_each_state():
    log = scene()
    snap = snapshot(log.site, OnSite(log.active()), seq=log.seq, now=log.clock.now())
    for name in STATIONS:
        for state in ("waiting", "called", "serving"):
            expected = sum(1 for v in log.visits.values() if v.station == name and v.state == state)
            assert snap["stations"][name][state] == expected, (name, state)
    assert snap["stations"]["consent"]["waiting"] == 2
    assert snap["stations"]["injection"]["called"] == 1
    assert snap["stations"]["injection"]["serving"] == 1
    assert snap["observation"]["count"] == sum(1 for v in log.visits.values() if v.state == "observing") == 3
    assert snap["observation"]["heading"] == 2
    assert snap["observation"]["capacity"] == 10
    assert snap["emergency"]["count"] == 1
    assert snap["seq"] == log.seq
    assert snap["site"] == "demo"


def test_snapshot_desks_show_who_is_called_or_served():
    log = scene()
    snap = snapshot(log.site, OnSite(log.active()), seq=log.seq, now=log.clock.now())
    desks = snap["stations"]["injection"]["desks"]
    assert desks["5"]["state"] == "called"
    assert desks["6"]["state"] == "serving"
    assert desks["1"] == {"state": "idle", "ticket": None}
    assert snap["stations"]["consent"]["desks"]["A"]["state"] == "called"
    assert {call["station"] for call in snap["calling"]} == {"consent", "injection"}


def test_snapshot_ready_list_only_has_people_whose_time_is_up():
    log = scene()
    now = log.clock.now()
    snap = snapshot(log.site, OnSite(log.active()), seq=log.seq, now=now)
    expected = sorted((v.leave_at, v.ticket) for v in log.visits.values() if v.state == "observing" and v.leave_at <= now)
    assert snap["observation"]["ready"] == [ticket for _, ticket in expected]
    assert len(snap["observation"]["ready"]) == 1
    for ticket in snap["observation"]["ready"]:
        (visit,) = [v for v in log.visits.values() if v.ticket == ticket]
        assert visit.leave_at <= now


def test_snapshot_ready_list_grows_as_time_passes_in_leave_order():
    log = scene()
    later = START + timedelta(hours=3)
    snap = snapshot(log.site, OnSite(log.active()), seq=log.seq, now=later)
    observing = sorted((v for v in log.visits.values() if v.state == "observing"), key=lambda v: v.leave_at)
    assert snap["observation"]["ready"] == [v.ticket for v in observing]


def test_snapshot_contains_no_personal_data():
    log = scene()
    snap = snapshot(log.site, OnSite(log.active()), seq=log.seq, now=log.clock.now())
    text = dumps(snap)
    for visit in log.visits.values():
        person = visit.person
        assert person.name not in text
        assert person.document_number not in text
        assert person.document_number[-6:] not in text
        if person.phone:
            assert person.phone not in text


def test_snapshot_calling_list_is_most_recent_first():
    log = Log()
    log.check_in(), log.check_in()
    first = log.call_next("consent", "A")
    log.clock.advance(seconds=30)
    second = log.call_next("consent", "B")
    snap = snapshot(log.site, OnSite(log.active()), seq=log.seq, now=log.clock.now())
    assert [c["ticket"] for c in snap["calling"]] == [second.ticket, first.ticket]
    assert snap["calling"][0]["at"] == log.clock.now().isoformat()


def test_snapshot_of_an_empty_site_is_all_zero():
    site = make_site()
    snap = snapshot(site, OnSite(), seq=0, now=START)
    assert all(snap["stations"][n][s] == 0 for n in STATIONS for s in ("waiting", "called", "serving"))
    assert snap["observation"] == {"count": 0, "capacity": 60, "heading": 0, "ready": [], "board": []}
    assert snap["calling"] == []


def test_states_are_split_into_active_and_terminal():
    assert set(ACTIVE_STATES).isdisjoint(TERMINAL_STATES)
    assert set(STATES) == set(ACTIVE_STATES) | set(TERMINAL_STATES)


def test_check_in_draft_has_no_ticket_for_a_turned_away_person():
    site = make_site()
    valid = rules.validate_check_in(site, now=START, birth_date=None, **gen_checkin(health_code="red"))
    called = []
    draft = rules.decide_check_in(site, valid, same_document_today=[], next_ticket=lambda: called.append(1) or 1)
    assert draft.type == "turned_away"
    assert "ticket" not in draft.data
    assert called == []


def test_site_day_is_the_date_in_the_site_time_zone():
    site = make_site()
    assert rules.site_day(site, datetime(2026, 11, 24, 15, 59, tzinfo=UTC)) == date(2026, 11, 24)
    assert rules.site_day(site, datetime(2026, 11, 24, 16, 0, tzinfo=UTC)) == date(2026, 11, 25)
