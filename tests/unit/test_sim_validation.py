"""The simulator against theory where theory is exact (docs/VALIDATION.md): M/M/c waits
(Erlang C), Little's law for observation, no waiting with fixed arrivals and service, and an
overloaded station whose queue grows linearly. Seeded runs of bounded length."""
from __future__ import annotations

import statistics

import pytest

from app.domain.analytics import erlang_c_wait
from app.sim.model import run_replication
from app.sim.results import interval
from app.sim.scenario import parse_scenario

DAY = {"opens": "00:00:00", "closes": "23:59:00"}


def _scenario(**parts):
    import tomllib

    data = tomllib.loads("opens = 00:00:00\ncloses = 23:59:00\n")
    data.update(parts)
    return parse_scenario(data)


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_an_mmc_station_waits_as_erlang_c_says(rho):
    servers, service = 3, 1.0
    arrivals = rho * servers / service  # per minute
    scenario = _scenario(
        stations=[{"name": "desk", "servers": servers, "service": {"kind": "exponential", "mean": service}}],
        arrivals=[{"kind": "poisson", "rate_per_hour": arrivals * 60}], sample_every=60)
    runs = [run_replication(scenario, seed) for seed in range(1, 13)]
    # Leave out the first two hours (the site opens empty) and the last hour (no arrivals).
    means = []
    for run in runs:
        waits = run.waits["desk"]
        means.append(statistics.fmean(waits[int(len(waits) * 0.1):int(len(waits) * 0.95)]))
    measured = interval(means)
    theory = erlang_c_wait(arrivals, service, servers)
    assert abs(measured["mean"] - theory) <= measured["ci95"], (measured, theory)


def test_observation_occupancy_follows_littles_law():
    # One arrival a minute, each observed 30 minutes on average: about 30 seats in use.
    scenario = _scenario(
        stations=[{"name": "injection", "servers": 50, "service": {"kind": "fixed", "value": 0},
                   "needs_observation_seat": True}],
        observation={"seats": 1000, "duration": {"kind": "exponential", "mean": 30}},
        arrivals=[{"kind": "poisson", "rate_per_hour": 60}])
    runs = [run_replication(scenario, seed) for seed in range(1, 9)]
    steady = interval([statistics.fmean(run.occupancy_samples[120:1380]) for run in runs])
    assert abs(steady["mean"] - 60 / 60 * 30) <= steady["ci95"], steady


def test_fixed_arrivals_at_a_fixed_server_that_keeps_up_never_wait():
    scenario = _scenario(
        stations=[{"name": "desk", "servers": 1, "service": {"kind": "fixed", "value": 1.5}}],
        arrivals=[{"kind": "appointments", "start": "08:00:00", "end": "12:00:00", "every_minutes": 2,
                   "people": 1}])
    run = run_replication(scenario, 1)
    assert run.arrived == 120 and run.served == 120
    assert max(run.waits["desk"]) == 0.0
    assert run.busy["desk"] == pytest.approx(120 * 1.5)


def test_an_overloaded_station_grows_its_queue_linearly():
    # 1.5 arrivals a minute, one server doing 1 a minute: the queue grows by about 0.5 a minute.
    scenario = _scenario(
        stations=[{"name": "desk", "servers": 1, "service": {"kind": "fixed", "value": 1.0}}],
        arrivals=[{"kind": "poisson", "rate_per_hour": 90}], sample_every=10)
    slopes = []
    for seed in range(1, 6):
        run = run_replication(scenario, seed)
        points = [(t, q) for t, q in zip(run.sample_times, run.queues["desk"], strict=True) if 60 <= t <= 1380]
        times, queues = zip(*points, strict=True)
        slope = statistics.linear_regression(times, queues).slope
        fit = statistics.correlation(times, queues)
        assert fit > 0.99  # a straight line
        slopes.append(slope)
    assert statistics.fmean(slopes) == pytest.approx(0.5, abs=0.05)
