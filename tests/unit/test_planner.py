"""The capacity planner: the queueing-theory start, and a simulated plan that meets its limits
with the fewest desks."""
from __future__ import annotations

import math

from app.sim import planner
from app.sim.scenario import parse_scenario

SCENARIO = {
    "name": "small site", "opens": "08:00:00", "closes": "12:00:00",
    "stations": [
        {"name": "consent", "servers": 1, "service": {"kind": "fixed", "value": 3.0}},
        {"name": "injection", "servers": 1, "service": {"kind": "fixed", "value": 1.0}, "needs_observation_seat": True},
    ],
    "observation": {"seats": 1, "duration": {"kind": "fixed", "value": 30}},
    "arrivals": [{"kind": "poisson", "rate_per_hour": 60}],
}


def _scenario():
    import tomllib

    data = dict(SCENARIO)
    data.update(tomllib.loads('opens = 08:00:00\ncloses = 12:00:00'))
    return parse_scenario(data)


def test_the_start_is_the_fewest_desks_under_the_utilisation_limit_and_seats_for_the_poisson_load():
    servers, seats, waits = planner.starting_point(_scenario(), planner.Limits(max_utilisation=0.8))
    # 1 a minute x 3 minutes = 3 Erlangs: 4 desks (75 %); injection 1 Erlang: 2 desks (50 %).
    assert servers == {"consent": 4, "injection": 2}
    assert waits["consent"] is not None and waits["consent"] > 0
    # Seats: Poisson with mean 1 a minute x 31 minutes, covered 99 % of the time.
    assert seats == planner._poisson_cover(31.0, 0.99)
    assert 40 <= seats <= 46 and planner._poisson_cover(31.0, 0.5) in (30, 31)


def test_the_plan_meets_its_limits_and_no_desk_can_be_taken_away():
    limits = planner.Limits(max_median_minutes=45, max_utilisation=0.8)
    result = planner.plan(_scenario(), limits, replications=4)
    assert result.meets, result.reasons
    assert result.summary["time_in_system"]["p50"] <= 45
    for name, entry in result.summary["stations"].items():
        assert entry["utilisation"]["mean"] <= 0.8, name
    assert result.servers["consent"] >= math.ceil(3 / 0.8) - 1
    text = planner.describe(_scenario(), result, limits)
    assert "meets the limits" in text and "observation seats" in text


def test_the_capacity_is_the_highest_rate_the_desks_and_seats_carry_at_the_limits():
    limits = planner.Limits(max_utilisation=0.8)
    data = dict(SCENARIO, stations=[
        {"name": "consent", "servers": 4, "service": {"kind": "fixed", "value": 3.0}},
        {"name": "injection", "servers": 2, "service": {"kind": "fixed", "value": 1.0}, "needs_observation_seat": True},
    ], observation={"seats": 200, "duration": {"kind": "fixed", "value": 30}})
    # Consent binds: 4 desks x 80 % / 3 minutes = 64 an hour (injection would take 96).
    assert math.isclose(planner.capacity_per_hour(parse_scenario(data), limits), 64, rel_tol=1e-6)
    # Fewer seats bind instead: the observation load at the rate (1 + 30 minutes a person) is covered 99 % of the time.
    seated = parse_scenario(dict(data, observation={"seats": 30, "duration": {"kind": "fixed", "value": 30}}))
    rate = planner.capacity_per_hour(seated, limits)
    assert 20 < rate < 64
    assert planner._poisson_cover(rate / 60 * 31, 0.99) <= 30 < planner._poisson_cover((rate + 0.1) / 60 * 31, 0.99)
    # No desks at a station: nothing gets through.
    closed = dict(data, stations=[dict(data["stations"][0], servers=0), data["stations"][1]])
    assert planner.capacity_per_hour(parse_scenario(closed), limits) == 0
