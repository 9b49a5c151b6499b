"""The capacity planner: the fewest desks per station and the observation seats that meet a
target, started from queueing theory and confirmed (and adjusted) by simulation.

1. Peak arrival rate of each station from the scenario's arrivals, hour by hour.
2. Desks: the fewest with utilisation at the peak hour under the limit (Erlang C gives the
   wait that goes with it). Seats: the observation load at the peak (M/G/∞: Poisson with
   mean λ × time holding a seat) covered 99 % of the time.
3. Simulate; while a limit is broken, add a desk where people wait longest (or seats when
   injection waits for them); then take away any desk whose removal still meets the limits.

With multi-dose vials, `vial_policies` simulates each closing policy (no new vial in the last
N minutes) with the same seeds and reports the doses wasted and the people turned away, and
`chosen_policy` picks the one wasting fewest doses within a limit of people turned away.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from app.domain.analytics import erlang_c_wait

from . import runner
from .results import summarise
from .scenario import Appointments, Booked, Poisson, Scenario
from .table import _ci, hourly, policy

DEFAULT_VIAL_POLICIES = (0.0, 15.0, 30.0, 45.0, 60.0)

MAX_ROUNDS = 30


@dataclass(frozen=True)
class Limits:
    max_median_minutes: float = 60.0  # median time in the site
    max_utilisation: float = 0.8  # per station, at the simulated day's level
    seat_cover: float = 0.99  # the share of time the seats must suffice (the starting estimate)


@dataclass
class Plan:
    servers: dict[str, int]
    seats: int | None
    start_servers: dict[str, int]
    start_seats: int | None
    erlang_waits: dict[str, float | None]
    summary: dict
    meets: bool
    reasons: list[str] = field(default_factory=list)
    rounds: int = 0


def hourly_arrivals(scenario: Scenario) -> dict[int, float]:
    """Expected arrivals per clock hour (Poisson rates plus appointments and bookings that show
    up, in the hour of their slot)."""
    hours: dict[int, float] = {}
    first, last = scenario.hour_at(0), scenario.hour_at(scenario.open_minutes - 1)
    for source in scenario.arrivals:
        if isinstance(source, Poisson):
            for hour in range(first, last + 1):
                hours[hour] = hours.get(hour, 0.0) + source.rate_at(hour)
        elif isinstance(source, Appointments):
            slot, end = scenario.clock(source.start), scenario.clock(source.end)
            while slot < end:
                hour = scenario.hour_at(slot)
                hours[hour] = hours.get(hour, 0.0) + source.people * (1 - source.no_show)
                slot += source.every_minutes
        elif isinstance(source, Booked):
            for start, people in source.slots:
                hour = scenario.hour_at(scenario.clock(start))
                hours[hour] = hours.get(hour, 0.0) + people * (1 - source.no_show)
    return hours


def starting_point(scenario: Scenario, limits: Limits) -> tuple[dict[str, int], int | None, dict[str, float | None]]:
    peak = max(hourly_arrivals(scenario).values(), default=0.0) / 60  # per minute
    servers, waits = {}, {}
    reaching = 1.0  # the share of arrivals that get this far (deferrals leave)
    injection_rate = 0.0
    for station in scenario.stations:
        rate = peak * reaching * station.probability
        mean = station.service.mean
        count = max(1, math.ceil(rate * mean / limits.max_utilisation)) if rate * mean > 0 else 1
        servers[station.name] = count
        waits[station.name] = erlang_c_wait(rate, mean, count)
        if station.needs_observation_seat:
            injection_rate = rate
        reaching *= 1 - station.deferral
    seats = None
    if scenario.observation is not None:
        observation = scenario.observation
        duration = observation.duration.mean
        if observation.extended_duration is not None:
            duration += observation.extended_probability * (observation.extended_duration.mean - duration)
        if observation.aefi_extra is not None:
            duration += observation.aefi_probability * observation.aefi_extra.mean
        gated = next(s for s in scenario.stations if s.needs_observation_seat) if injection_rate else None
        load = injection_rate * (duration + (gated.service.mean if gated else 0))
        seats = _poisson_cover(load, limits.seat_cover)
    return servers, seats, waits


def capacity_per_hour(scenario: Scenario, limits: Limits) -> float:
    """The most people an hour that the scenario's desks and observation seats take in at the
    limits: the highest steady arrival rate at which the starting point (the desks each
    station needs to stay at or under the utilisation limit, and the seats that cover the
    observation load) asks for no more desks at any station, and no more seats, than the
    scenario has. The scenario's own arrivals are not used."""

    def fits(rate: float) -> bool:
        trial = scenario.model_copy(update={"arrivals": (Poisson(kind="poisson", rate_per_hour=rate),)})
        servers, seats, _ = starting_point(trial, limits)
        enough_seats = seats is None or scenario.observation is None or seats <= scenario.observation.seats
        return enough_seats and all(servers[station.name] <= station.servers for station in scenario.stations)

    low, high = 0.0, 1.0
    while fits(high):
        low, high = high, high * 2
        if high > 1e7:
            return low
    for _ in range(40):  # bisection: within a millionth of a person an hour
        middle = (low + high) / 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def _poisson_cover(mean: float, cover: float) -> int:
    """The smallest n with P(Poisson(mean) <= n) >= cover."""
    if mean <= 0:
        return 1
    term = total = math.exp(-mean) if mean < 700 else 0.0
    n = 0
    if term == 0.0:  # large means: the normal approximation
        return math.ceil(mean + 2.33 * math.sqrt(mean))
    while total < cover:
        n += 1
        term *= mean / n
        total += term
    return max(1, n)


def _with(scenario: Scenario, servers: dict[str, int], seats: int | None) -> Scenario:
    stations = tuple(s.model_copy(update={"servers": servers[s.name], "servers_by_hour": {}})
                     for s in scenario.stations)
    update: dict = {"stations": stations}
    if seats is not None and scenario.observation is not None:
        update["observation"] = scenario.observation.model_copy(update={"seats": seats})
    return scenario.model_copy(update=update)


def _problems(scenario: Scenario, summary: dict, limits: Limits) -> list[str]:
    problems = []
    median = summary["time_in_system"]["p50"]
    if median is not None and median > limits.max_median_minutes:
        problems.append(f"median time in the site {median:.0f} min > {limits.max_median_minutes:.0f}")
    for name, entry in summary["stations"].items():
        if entry["utilisation"]["mean"] > limits.max_utilisation:
            problems.append(f"{name} utilisation {entry['utilisation']['mean']:.0%} > {limits.max_utilisation:.0%}")
    return problems


def plan(scenario: Scenario, limits: Limits, *, replications: int = 10, seed: int = 1,
         progress: Callable[[str], None] | None = None) -> Plan:
    start_servers, start_seats, waits = starting_point(scenario, limits)
    servers, seats = dict(start_servers), start_seats
    say = progress or (lambda text: None)

    def simulate(servers, seats):
        candidate = _with(scenario, servers, seats)
        return summarise(candidate, runner.run(candidate, replications=replications, seed=seed))

    summary = simulate(servers, seats)
    problems = _problems(scenario, summary, limits)
    rounds = 0
    while problems and rounds < MAX_ROUNDS:
        rounds += 1
        gated = next((s.name for s in scenario.stations if s.needs_observation_seat), None)
        observation = summary["observation"]
        if gated and seats is not None and observation["peak"]["mean"] >= seats - 0.5 and (
                summary["stations"][gated]["utilisation"]["mean"] <= limits.max_utilisation):
            seats = math.ceil(seats * 1.1)
            say(f"round {rounds}: observation full, {seats} seats")
        else:
            worst = max(summary["stations"].items(),
                        key=lambda item: (item[1]["utilisation"]["mean"] > limits.max_utilisation,
                                          item[1]["mean_wait"]["mean"]))[0]
            servers[worst] += 1
            say(f"round {rounds}: one more at {worst} ({servers[worst]})")
        summary = simulate(servers, seats)
        problems = _problems(scenario, summary, limits)
    if not problems:  # the fewest: take away what is not needed
        for name in [s.name for s in scenario.stations]:
            while servers[name] > 1:
                fewer = dict(servers, **{name: servers[name] - 1})
                trial = simulate(fewer, seats)
                if _problems(scenario, trial, limits):
                    break
                servers, summary = fewer, trial
                say(f"{name}: {servers[name]} are enough")
    return Plan(servers=servers, seats=seats, start_servers=start_servers, start_seats=start_seats,
                erlang_waits=waits, summary=summary, meets=not problems, reasons=problems, rounds=rounds)


def describe(scenario: Scenario, result: Plan, limits: Limits) -> str:
    summary = result.summary
    lines = [
        f"Plan for {scenario.name}: {sum(hourly_arrivals(scenario).values()):.0f} expected arrivals, "
        f"limits: median time in site <= {limits.max_median_minutes:.0f} min, utilisation <= "
        f"{limits.max_utilisation:.0%}",
        "",
        f"  {'station':<14}{'Erlang C start':>16}{'recommended':>13}{'utilisation':>14}{'mean wait':>12}{'p95 wait':>10}",
    ]
    for name, count in result.servers.items():
        entry = summary["stations"][name]
        lines.append(f"  {name:<14}{result.start_servers[name]:>16}{count:>13}"
                     f"{entry['utilisation']['mean']:>13.0%} {entry['mean_wait']['mean']:>11.1f}"
                     f"{entry['p95_wait']['mean']:>10.1f}")
    if result.seats is not None:
        observation = summary["observation"]
        lines += ["", f"  observation seats: {result.seats} (Poisson 99 % start: {result.start_seats}); simulated "
                      f"peak {observation['peak']['mean']:.0f}, p99 {observation['p99']['mean']:.0f}"]
    tis = summary["time_in_system"]
    times = f"median time in site {tis['p50']:.0f} min, p90 {tis['p90']:.0f} min" if tis["p50"] is not None else "nobody came"
    lines += ["", f"  simulated ({summary['replications']} replications): {times}; served {summary['served']['mean']:.0f}",
              "  " + ("meets the limits." if result.meets else "DOES NOT meet the limits: " + "; ".join(result.reasons))]
    if summary.get("by_hour"):
        lines += ["", "  With the recommended desks and seats:", *hourly(summary)]
    return "\n".join(lines)


@dataclass
class VialPolicy:
    """One closing policy simulated: its minutes and the vial figures (mean and 95 % CI)."""

    stop_opening_minutes: float
    figures: dict  # results.summarise(...)["vials"]
    served: dict  # people who left vaccinated


def vial_policies(scenario: Scenario, policies: tuple[float, ...] = DEFAULT_VIAL_POLICIES, *,
                  replications: int = 10, seed: int = 1, processes: int | None = None) -> list[VialPolicy]:
    """Each policy simulated with the same seeds (the same arrivals), on the scenario's desks and
    seats. A bad policy (not shorter than the opening hours) raises ScenarioError."""
    rows = []
    for minutes in sorted(set(policies)):
        candidate = scenario.with_vial_policy(minutes)
        summary = summarise(candidate, runner.run(candidate, replications=replications, seed=seed,
                                                  processes=processes))
        rows.append(VialPolicy(stop_opening_minutes=minutes, figures=summary["vials"], served=summary["served"]))
    return rows


def chosen_policy(rows: list[VialPolicy], max_turned_away: float) -> VialPolicy | None:
    """The policy with the fewest doses wasted (mean) among those turning away at most
    `max_turned_away` people (mean); on a tie, the one turning away fewer, then the shorter.
    None if every policy turns away more."""
    allowed = [row for row in rows if row.figures["turned_away"]["mean"] <= max_turned_away + 1e-9]
    if not allowed:
        return None
    return min(allowed, key=lambda row: (round(row.figures["doses_wasted"]["mean"], 6),
                                         row.figures["turned_away"]["mean"], row.stop_opening_minutes))


def describe_vial_policies(scenario: Scenario, rows: list[VialPolicy], max_turned_away: float, *,
                           replications: int, desks: str) -> str:
    rule = scenario.vials
    lines = [f"Vials: {rule.doses_per_vial} doses, usable {rule.open_life_minutes:g} min once open; each "
             f"closing policy simulated {replications} times with the same seeds ({desks}); mean ± 95 % CI",
             "",
             f"  {'stop opening':<14}{'vials opened':>16}{'doses given':>18}{'wasted':>14}{'expired':>14}"
             f"{'at closing':>14}{'wastage %':>13}{'turned away':>14}"]
    for row in rows:
        figures = row.figures
        label = f"{row.stop_opening_minutes:g} min" if row.stop_opening_minutes else "0 (no policy)"
        lines.append(f"  {label:<14}{_ci(figures['vials_opened']):>16}{_ci(figures['doses_given']):>18}"
                     f"{_ci(figures['doses_wasted']):>14}{_ci(figures['wasted_expired']):>14}"
                     f"{_ci(figures['wasted_at_closing']):>14}{_ci(figures['wastage_rate'], 1, 100):>13}"
                     f"{_ci(figures['turned_away']):>14}")
    chosen = chosen_policy(rows, max_turned_away)
    lines.append("")
    if chosen is None:
        lines.append(f"  No policy turns away at most {max_turned_away:g} people on average; the fewest turned away: "
                     f"{min(row.figures['turned_away']['mean'] for row in rows):.1f}.")
    else:
        figures = chosen.figures
        lines.append(f"  Recommended: {policy(scenario, chosen.stop_opening_minutes)}: "
                     f"{figures['doses_wasted']['mean']:.1f} doses "
                     f"wasted, {figures['turned_away']['mean']:.1f} people turned away on average "
                     f"(the fewest wasted with at most {max_turned_away:g} turned away).")
    lines.append("  Turned away: called to a booth after the policy's time with no open vial on site holding a dose; "
                 "they leave unvaccinated (to come another day).")
    return "\n".join(lines)
