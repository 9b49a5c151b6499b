"""Expected waits on the waiting-area screens: from recent service times and open desks."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from app.domain.waits import MIN_SAMPLES, ServiceEvent, expected_waits, service_times

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)


def _service(visit: str, station: str, desk: str, start_min: float, minutes: float, *, arrived: float | None = None):
    """A call (and optionally an arrival) then the outcome `minutes` after the service began."""
    outcome = {"consent": "consented", "injection": "injected"}[station]
    events = [ServiceEvent(visit, "called", station, desk, T0 + timedelta(minutes=start_min))]
    begin = start_min
    if arrived is not None:
        begin = start_min + arrived
        events.append(ServiceEvent(visit, "started", station, desk, T0 + timedelta(minutes=begin)))
    events.append(ServiceEvent(visit, outcome, station, desk, T0 + timedelta(minutes=begin + minutes)))
    return events


def test_a_service_runs_from_arrival_at_the_desk_or_the_call_to_the_outcome():
    recent = _service("a", "consent", "A", 0, 4) + _service("b", "consent", "B", 1, 2, arrived=1.5)
    assert service_times(recent) == {"consent": [240.0, 120.0], "injection": []}


def test_a_service_whose_call_is_outside_the_window_is_not_counted():
    recent = _service("a", "injection", "1", 0, 3)[1:]  # only the outcome
    assert service_times(recent)["injection"] == []


def test_the_wait_is_the_queue_times_the_mean_service_over_the_open_desks():
    # Two desks open, 3-minute services, 10 waiting: about 15 minutes.
    recent = []
    for n in range(6):
        recent += _service(f"v{n}", "consent", "AB"[n % 2], n * 3, 3)
    waits = expected_waits({"consent": 10, "injection": 0}, {"consent": 2, "injection": 6}, recent)
    assert waits["consent"] == {"minutes": 15, "desks_open": 2}


def test_desks_that_did_nothing_recently_are_not_counted_as_open():
    recent = []
    for n in range(4):
        recent += _service(f"v{n}", "injection", "1", n * 2, 2)
    waits = expected_waits({"injection": 3}, {"consent": 2, "injection": 6}, recent)
    assert waits["injection"] == {"minutes": 6, "desks_open": 1}


def test_no_estimate_until_enough_services_were_seen():
    recent = []
    for n in range(MIN_SAMPLES - 1):
        recent += _service(f"v{n}", "consent", "A", n * 3, 3)
    assert expected_waits({"consent": 5}, {"consent": 2, "injection": 6}, recent)["consent"]["minutes"] is None


def test_an_undone_outcome_or_call_counts_for_nothing():
    consent = _service("a", "consent", "A", 0, 4)
    undone_outcome = consent + [ServiceEvent("a", "reverted", "consent", "A", T0 + timedelta(minutes=4.1))]
    assert service_times(undone_outcome)["consent"] == []
    # ... and the person's service goes on from the call: the real outcome later counts in full.
    again = undone_outcome + [ServiceEvent("a", "consented", "consent", "A", T0 + timedelta(minutes=5))]
    assert service_times(again)["consent"] == [300.0]
    undone_call = [ServiceEvent("b", "called", "consent", "B", T0), ServiceEvent("b", "reverted", "consent", "B", T0),
                   ServiceEvent("b", "consented", "consent", "B", T0 + timedelta(minutes=2))]
    assert service_times(undone_call)["consent"] == []
