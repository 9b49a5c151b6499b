"""Expected waits on the waiting-area screens: from the services of the last half hour and the
desks that worked in it, kept by the day's fold as the events come (never by re-reading)."""
from __future__ import annotations

from datetime import timedelta

from app.domain.analytics import DayAnalytics
from app.domain.waits import MIN_SAMPLES, WINDOW, expected_wait
from tests.unit.domain_helpers import Log, make_site


def fold(log: Log) -> DayAnalytics:
    model = DayAnalytics(log.site, log.clock.now().astimezone(log.site.tz).date())
    for event in log.all_events:
        model.apply(event)
    return model


def serve_consent(log: Log, desk: str, minutes: float, *, arrive_after: float | None = None) -> None:
    """Someone called to `desk` and consented `minutes` after the service began (the call, or
    the arrival at the desk when `arrive_after` is given)."""
    visit = log.to_consent_desk(desk)
    if arrive_after is not None:
        log.clock.advance(minutes=arrive_after)
        log.start(visit.id, desk)
    log.clock.advance(minutes=minutes)
    log.consent(visit.id)


def test_the_wait_is_the_queue_times_the_mean_service_over_the_open_desks():
    # Two desks open, 3-minute services, 10 waiting: about 15 minutes.
    log = Log()
    for n in range(6):
        serve_consent(log, "AB"[n % 2], 3)
    for _ in range(10):
        log.check_in()
    assert fold(log).expected_waits(log.clock.now())["consent"] == {"minutes": 15, "desks_open": 2}


def test_a_service_runs_from_the_arrival_at_the_desk_when_recorded():
    # 4-minute services timed from the arrival (the call came a minute earlier), one desk: 4 waiting -> 16.
    log = Log()
    for _ in range(3):
        serve_consent(log, "A", 4, arrive_after=1)
    for _ in range(4):
        log.check_in()
    assert fold(log).expected_waits(log.clock.now())["consent"] == {"minutes": 16, "desks_open": 1}


def test_desks_that_did_nothing_recently_are_not_counted_as_open():
    log = Log(make_site(seats=100))
    for _ in range(4):
        visit = log.to_injection_desk("1")
        log.clock.advance(minutes=2)
        log.inject(visit.id)
    for _ in range(3):
        log.to_injection_queue()
    waits = fold(log).expected_waits(log.clock.now())
    assert waits["injection"] == {"minutes": 6, "desks_open": 1}


def test_no_estimate_until_enough_services_were_seen():
    log = Log()
    for _ in range(MIN_SAMPLES - 1):
        serve_consent(log, "A", 3)
    log.check_in()
    assert fold(log).expected_waits(log.clock.now())["consent"]["minutes"] is None


def test_services_older_than_the_window_drop_out_as_time_passes():
    log = Log()
    for _ in range(MIN_SAMPLES):
        serve_consent(log, "A", 3)
    log.check_in()
    model = fold(log)
    assert model.expected_waits(log.clock.now())["consent"]["minutes"] == 3
    later = log.clock.now() + WINDOW + timedelta(minutes=1)
    assert model.expected_waits(later)["consent"] == {"minutes": None, "desks_open": 2}  # none seen: all of them


def test_an_undone_outcome_counts_for_nothing_and_the_service_goes_on_from_the_call():
    log = Log()
    for _ in range(MIN_SAMPLES - 1):
        serve_consent(log, "A", 2)
    visit = log.to_consent_desk("A")
    log.clock.advance(minutes=4)
    log.consent(visit.id)
    log.undo(visit.id)
    log.check_in()
    assert fold(log).expected_waits(log.clock.now())["consent"]["minutes"] is None  # 2 services only
    log.clock.advance(minutes=6)
    log.consent(visit.id)  # the real outcome: 10 minutes from the call
    # (2 + 2 + 10) / 3 minutes per service, one waiting, one desk.
    assert fold(log).expected_waits(log.clock.now())["consent"]["minutes"] == 5


def test_the_estimate_rounds_up_and_never_divides_by_more_desks_than_the_station_has():
    assert expected_wait(waiting=1, services=3, service_seconds=90, desks_open=1, desks=2)["minutes"] == 1
    assert expected_wait(waiting=10, services=3, service_seconds=540, desks_open=5, desks=2) == {
        "minutes": 15, "desks_open": 2}
    assert expected_wait(waiting=0, services=3, service_seconds=540, desks_open=0, desks=2) == {
        "minutes": 0, "desks_open": 2}
