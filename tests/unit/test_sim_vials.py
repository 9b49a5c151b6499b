"""Vials in the simulator (app/sim/model.py, docs/ANALYTICS.md "Vials and the closing policy"):
doses drawn from each booth's open vial, waste on expiry and at closing, the closing policy that
turns people away, conservation of doses, and single-dose runs exactly as before vials."""
from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.sim import planner
from app.sim.model import Replication, _Booths, run_replication
from app.sim.results import summarise
from app.sim.scenario import ScenarioError, Station, parse_scenario, read_scenario

ROOT = Path(__file__).resolve().parents[2]
COMMUNITY = ROOT / "sites" / "scenarios" / "community-2000.toml"


def _clockwork(every: float, *, doses: int, life: float = 360.0, stop: float = 0.0, hours: str = "12:00:00"):
    """One injection booth taking exactly 1 minute; one person exactly every `every` minutes from
    08:00 to `hours`: every vial event can be worked out by hand."""
    data = tomllib.loads(f"opens = 08:00:00\ncloses = {hours}\n")
    data.update(
        stations=[{"name": "injection", "servers": 1, "service": {"kind": "fixed", "value": 1.0}}],
        arrivals=[{"kind": "appointments", "start": "08:00:00", "end": hours, "every_minutes": every, "people": 1}],
        vials={"doses_per_vial": doses, "open_life_minutes": life, "stop_opening_minutes": stop})
    return parse_scenario(data)


def _conserved(run, doses: int) -> None:
    assert run.doses_given + run.wasted_expired + run.wasted_at_closing == run.vials_opened * doses
    assert run.arrived == run.served + run.deferred + run.turned_away


def test_an_open_vial_that_outlives_its_life_loses_its_doses_left():
    # A person every 10 minutes, 10-dose vials usable 30 minutes: each vial gives 3 doses (at 0,
    # 10 and 20 minutes after opening); the 4th person finds it expired (7 doses lost) and opens one.
    run = run_replication(_clockwork(10, doses=10, life=30), 1)
    assert run.arrived == run.served == run.doses_given == 24
    assert run.vials_opened == 8
    assert run.wasted_expired == 7 * 7  # the first seven vials, found expired
    assert run.wasted_at_closing == 7  # the last one, opened at 11:30, still usable at the last call (11:50)
    assert run.turned_away == 0
    _conserved(run, 10)


def test_a_vial_open_beyond_the_day_is_left_at_closing_not_expired():
    run = run_replication(_clockwork(10, doses=10, life=360), 1)
    assert (run.vials_opened, run.doses_given, run.wasted_expired, run.wasted_at_closing) == (3, 24, 0, 6)


@pytest.mark.parametrize(("stop", "given", "wasted", "turned_away"), [
    # A person every 2 minutes (120 from 08:00 to 12:00), 7-dose vials: vial k opens at 14k minutes.
    (0, 120, 6, 0),  # 18 vials, the last gives 1 dose: 6 left at closing
    (15, 119, 0, 1),  # vials at 11:30 and 11:44 (before 11:45) cover up to 11:56; the 11:58 person goes home
    (30, 105, 0, 15),  # the 15th vial (11:16) is the last: everyone from 11:30 goes home
])
def test_stopping_before_closing_trades_the_doses_left_at_closing_for_people_turned_away(stop, given, wasted,
                                                                                          turned_away):
    run = run_replication(_clockwork(2, doses=7, stop=stop), 1)
    assert run.doses_given == given and run.served == given
    assert run.wasted_at_closing == wasted and run.wasted_expired == 0
    assert run.turned_away == turned_away
    _conserved(run, 7)


def test_each_busy_booth_has_its_own_vial_and_the_policy_sends_home_those_left_when_all_are_empty():
    # Two booths with 5-minute injections, two people arriving together every 5 minutes, 10-dose
    # vials, nothing opened from 09:00: the second person at 08:00 finds the first booth busy and
    # opens a vial of their own; both booths run out at 08:45 and open one each at 08:50; those
    # two vials last until 09:35 and the 8 people of 09:40-09:55 go home.
    data = tomllib.loads("opens = 08:00:00\ncloses = 10:00:00\n")
    data.update(
        stations=[{"name": "injection", "servers": 2, "service": {"kind": "fixed", "value": 5.0}}],
        arrivals=[{"kind": "appointments", "start": "08:00:00", "end": "10:00:00", "every_minutes": 5, "people": 2}],
        vials={"doses_per_vial": 10, "stop_opening_minutes": 60})
    run = run_replication(parse_scenario(data), 1)
    assert (run.vials_opened, run.doses_given, run.turned_away, run.doses_wasted) == (4, 40, 8, 0)
    _conserved(run, 10)


def test_after_the_policy_time_a_free_booth_takes_a_dose_from_a_busy_booths_open_vial():
    scenario = _clockwork(10, doses=3, stop=60, hours="10:00:00")  # no vial opened from 09:00 (minute 60)
    booths = _Booths(scenario, 2)
    result = Replication(seed=0)
    assert booths.draw(0.0, result) == 0 and booths.left == [2, 0]  # booth 0 opens a vial and stays busy
    assert booths.draw(70.0, result) == 1  # booth 1 may not open one: a dose from booth 0's vial
    assert booths.left == [1, 0] and result.vials_opened == 1 and result.doses_given == 2
    booths.free.append(1)
    assert booths.draw(71.0, result) == 1 and booths.left == [0, 0]
    booths.free.append(1)
    assert booths.draw(72.0, result) is None  # no dose left on site: turned away
    booths.close(result)
    assert (result.doses_given, result.doses_wasted) == (3, 0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doses=st.integers(2, 12), life=st.floats(5, 400), stop=st.sampled_from([0, 10, 30, 90]),
       servers=st.integers(1, 4), later=st.one_of(st.none(), st.integers(1, 4)), rate=st.integers(10, 150),
       deferral=st.sampled_from([0.0, 0.1]), seed=st.integers(1, 10_000))
def test_every_dose_of_every_vial_opened_is_given_or_wasted(doses, life, stop, servers, later, rate, deferral, seed):
    data = tomllib.loads("opens = 08:00:00\ncloses = 11:00:00\n")
    injection = {"name": "injection", "servers": servers, "needs_observation_seat": True, "deferral": deferral,
                 "service": {"kind": "exponential", "mean": 1.5}}
    if later is not None:  # a rota: the booths change at 09:00 (a booth off duty keeps its vial)
        injection["servers_by_hour"] = {"9": later}
    data.update(
        stations=[{"name": "consent", "servers": 3, "service": {"kind": "exponential", "mean": 1.0}}, injection],
        observation={"seats": 40, "duration": {"kind": "fixed", "value": 15}},
        arrivals=[{"kind": "poisson", "rate_per_hour": rate}],
        vials={"doses_per_vial": doses, "open_life_minutes": life, "stop_opening_minutes": stop})
    scenario = parse_scenario(data)
    run = run_replication(scenario, seed)
    _conserved(run, doses)
    assert run.doses_given == len(run.waits["injection"])
    if stop == 0:
        assert run.turned_away == 0
    again = run_replication(scenario, seed)  # deterministic with its seed
    assert dataclasses.asdict(again) == dataclasses.asdict(run)


# Figures of the community scenario computed by the simulator before it knew vials (commit 0912c13):
# (seed, arrived, served, deferred, doses by closing, sum of times in system, seat-minutes, cleared at,
#  sum of the injection waits).
BEFORE_VIALS = [
    (1, 1686, 1631, 55, 1631, 67590.218, 53705.09, 660.0, 466.809),
    (2, 1729, 1674, 55, 1671, 77759.99, 55300.17, 660.0, 682.999),
    (3, 1753, 1700, 53, 1699, 82447.479, 56431.16, 660.0, 546.903),
]


def _figures(run):
    return (run.seed, run.arrived, run.served, run.deferred, run.doses_by_closing, round(sum(run.time_in_system), 3),
            round(run.occupancy_area, 2), round(run.cleared_at, 3), round(sum(run.waits["injection"]), 3))


def test_single_dose_vials_give_exactly_the_results_from_before_vials_and_waste_nothing():
    scenario = read_scenario(COMMUNITY)
    assert scenario.vials.doses_per_vial == 1  # the default
    explicit = parse_scenario({**tomllib.loads(COMMUNITY.read_text(encoding="utf-8")),
                               "vials": {"doses_per_vial": 1, "open_life_minutes": 30}})
    for expected in BEFORE_VIALS:
        run = run_replication(scenario, expected[0])
        assert _figures(run) == expected
        assert dataclasses.asdict(run_replication(explicit, expected[0])) == dataclasses.asdict(run)
        injected = len(run.waits["injection"])
        assert run.doses_given == run.vials_opened == injected
        assert run.wasted_expired == run.wasted_at_closing == run.turned_away == 0
    figures = summarise(scenario, [run_replication(scenario, 1)])["vials"]
    assert figures["doses_wasted"]["mean"] == 0 and figures["wastage_rate"]["mean"] == 0


def test_on_the_community_site_stopping_an_hour_before_closing_wastes_less_and_turns_people_away():
    base = read_scenario(COMMUNITY)
    ten = base.model_copy(update={"vials": base.vials.model_copy(update={"doses_per_vial": 10})})
    rows = planner.vial_policies(ten, (60, 0), replications=4, seed=1, processes=1)
    assert [row.stop_opening_minutes for row in rows] == [0, 60]
    none, hour = rows[0].figures, rows[1].figures
    assert none["turned_away"]["mean"] == 0 and hour["turned_away"]["mean"] > 0
    assert hour["wasted_at_closing"]["mean"] < none["wasted_at_closing"]["mean"]
    assert 0 < none["wastage_rate"]["mean"] < 0.05
    # The recommendation: nobody turned away allowed -> no policy; a few allowed -> the hour
    assert planner.chosen_policy(rows, 0).stop_opening_minutes == 0
    assert planner.chosen_policy(rows, hour["turned_away"]["mean"]).stop_opening_minutes == 60
    text = planner.describe_vial_policies(ten, rows, 0, replications=4, desks="the scenario's desks")
    assert "0 (no policy)" in text and "60 min" in text and "Recommended: vials opened as needed" in text


def test_the_policy_chosen_wastes_least_within_the_people_turned_away_allowed():
    def row(minutes, wasted, away):
        return planner.VialPolicy(minutes, {"doses_wasted": {"mean": wasted}, "turned_away": {"mean": away}}, {})

    rows = [row(0, 20, 0), row(15, 8, 2), row(30, 8, 1), row(60, 0, 30)]
    assert planner.chosen_policy(rows, 0).stop_opening_minutes == 0
    assert planner.chosen_policy(rows, 2).stop_opening_minutes == 30  # a tie on waste: fewer turned away
    assert planner.chosen_policy(rows, 100).stop_opening_minutes == 60
    assert planner.chosen_policy([row(30, 1, 5)], 1) is None


@pytest.mark.parametrize(("vials", "message"), [
    ({"doses_per_vial": 0}, "vials.doses_per_vial"),
    ({"doses_per_vial": 5, "open_life_minutes": 0}, "vials.open_life_minutes"),
    ({"doses_per_vial": 5, "stop_opening_minutes": -5}, "vials.stop_opening_minutes"),
    ({"stop_opening_minutes": 30}, "stop_opening_minutes needs doses_per_vial > 1"),
    ({"doses_per_vial": 5, "stop_opening_minutes": 240}, "must be shorter than the opening hours (240 minutes)"),
    ({"doses_per_vial": 5, "station": "booth"}, "vials.station 'booth' is not a station"),
    ({"doses_per_vial": 5, "dose": 1}, "vials.dose: Extra inputs are not permitted"),
])
def test_a_bad_vial_rule_is_named(vials, message):
    data = tomllib.loads("opens = 08:00:00\ncloses = 12:00:00\n")
    data.update(stations=[{"name": "injection", "service": {"kind": "fixed", "value": 1.0}}],
                arrivals=[{"kind": "poisson", "rate_per_hour": 10}], vials=vials)
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_scenario(data, source="site.toml")


def test_multi_dose_vials_need_a_station_that_injects():
    data = tomllib.loads("opens = 08:00:00\ncloses = 12:00:00\n")
    data.update(stations=[{"name": "desk", "service": {"kind": "fixed", "value": 1.0}}],
                arrivals=[{"kind": "poisson", "rate_per_hour": 10}], vials={"doses_per_vial": 5})
    with pytest.raises(ScenarioError, match="needs the station that injects"):
        parse_scenario(data)
    named = parse_scenario({**data, "vials": {"doses_per_vial": 5, "station": "desk"}})
    assert named.vial_station == "desk"
    with pytest.raises(ScenarioError, match="not shorter than the opening hours"):
        named.with_vial_policy(240)


def test_a_rota_that_ends_with_nobody_serving_is_refused_not_simulated_for_ever():
    """People still waiting when the last server goes off duty would wait for ever: the
    replication never ended (and its samples grew until the machine ran out of memory)."""
    station = {"name": "consent", "servers": 2, "servers_by_hour": {"9": 2, "17": 0},
               "service": {"kind": "fixed", "value": 2.0}}
    with pytest.raises(ValueError, match=r"servers_by_hour\['17'\]"):
        Station.model_validate(station)
    Station.model_validate(dict(station, servers_by_hour={"9": 0, "10": 3}))  # closed a while, then open
