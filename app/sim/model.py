"""One replication of a scenario (app/sim/scenario.py) as a SimPy discrete-event model.

People arrive (pre-drawn arrival times), walk to each station they visit, queue first-in
first-out for a server, are served, and may be deferred (they leave). At the station that
needs an observation seat (injection), the server that takes the person holds them until a
seat is free, so with observation full the booth cannot start (our rule); the seat is held
through the injection and the observation that follows it. Servers may change by hour: the
missing servers are taken by "off duty" requests that go ahead of people.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import simpy

from .scenario import Appointments, Poisson, Scenario

OFF_DUTY = 0  # priority of the requests that stand for servers not on duty (ahead of people)
PERSON = 1


@dataclass
class Replication:
    """What one run measured. Times are minutes after opening."""

    seed: int
    arrived: int = 0
    no_shows: int = 0
    served: int = 0
    deferred: int = 0
    time_in_system: list[float] = field(default_factory=list)
    waits: dict[str, list[float]] = field(default_factory=dict)
    busy: dict[str, float] = field(default_factory=dict)  # server-minutes serving
    server_minutes: dict[str, float] = field(default_factory=dict)  # server-minutes on duty while open
    sample_times: list[float] = field(default_factory=list)
    queues: dict[str, list[int]] = field(default_factory=dict)  # queue length at each sample time
    occupancy_samples: list[int] = field(default_factory=list)  # seats in use, each minute
    occupancy_area: float = 0.0  # seat-minutes (time integral of seats in use)
    occupancy_peak: int = 0
    cleared_at: float = 0.0


def arrival_times(scenario: Scenario, rng: random.Random, result: Replication) -> list[tuple[float, int]]:
    """(time, index of the first station) of everyone who comes, in time order."""
    times: list[tuple[float, int]] = []
    index = {station.name: i for i, station in enumerate(scenario.stations)}
    window = scenario.open_minutes
    for source in scenario.arrivals:
        if isinstance(source, Poisson):
            t = 0.0
            while t < window:
                boundary = scenario.hour_start(scenario.hour_at(t) + 1)
                rate = source.rate_at(scenario.hour_at(t)) / 60.0
                if rate <= 0:
                    t = boundary
                    continue
                t += rng.expovariate(rate)
                if t >= boundary:  # memoryless: start again at the hour with its own rate
                    t = boundary
                    continue
                if t < window:
                    times.append((t, 0))
        elif isinstance(source, Appointments):
            slot, last = scenario.clock(source.start), scenario.clock(source.end)
            while slot < last:
                for _ in range(source.people):
                    if rng.random() < source.no_show:
                        result.no_shows += 1
                        continue
                    first = index[source.enter_at] if source.enter_at else 0
                    times.append((max(0.0, slot + source.punctuality.sample(rng)), first))
                slot += source.every_minutes
    times.sort()
    return times


def run_replication(scenario: Scenario, seed: int) -> Replication:
    rng = random.Random(seed)
    result = Replication(seed=seed)
    env = simpy.Environment()
    names = [station.name for station in scenario.stations]
    most = {s.name: max([s.servers, *s.servers_by_hour.values()]) for s in scenario.stations}
    rotas = [s for s in scenario.stations if s.servers_by_hour or s.servers < most[s.name]]
    # FIFO for a fixed number of servers; a priority queue (dearer: it sorts) only where a rota
    # takes servers off duty ahead of the people waiting.
    resources = {s.name: (simpy.PriorityResource if s in rotas else simpy.Resource)(env, capacity=max(1, most[s.name]))
                 for s in scenario.stations}
    waiting = dict.fromkeys(names, 0)
    result.waits = {name: [] for name in names}
    result.busy = dict.fromkeys(names, 0.0)
    result.queues = {name: [] for name in names}
    seats = simpy.Resource(env, capacity=scenario.observation.seats) if scenario.observation else None
    state = {"in_system": 0, "arrivals_done": False, "seats": 0, "changed": 0.0}
    arrivals = arrival_times(scenario, rng, result)
    result.arrived = len(arrivals)

    def seats_changed(delta: int) -> None:
        result.occupancy_area += state["seats"] * (env.now - state["changed"])
        state["changed"] = env.now
        state["seats"] += delta
        result.occupancy_peak = max(result.occupancy_peak, state["seats"])

    def observe(station_seat):
        observation = scenario.observation
        duration = observation.duration.sample(rng)
        if observation.extended_duration is not None and rng.random() < observation.extended_probability:
            duration = observation.extended_duration.sample(rng)
        if observation.aefi_extra is not None and rng.random() < observation.aefi_probability:
            duration += observation.aefi_extra.sample(rng)
        yield env.timeout(duration)
        seats.release(station_seat)
        seats_changed(-1)

    def person(arrived_at: float, first: int):
        state["in_system"] += 1
        moved = False
        for station in scenario.stations[first:]:
            if station.probability < 1 and rng.random() >= station.probability:
                continue
            if moved:
                walk = scenario.walking.sample(rng)
                if walk:
                    yield env.timeout(walk)
            moved = True
            queued = env.now
            waiting[station.name] += 1
            resource = resources[station.name]
            request = resource.request(priority=PERSON) if isinstance(resource, simpy.PriorityResource) else resource.request()
            with request as server:
                yield server
                seat = None
                if station.needs_observation_seat:
                    seat = seats.request()
                    yield seat  # the booth is free but may not start: observation is full
                    seats_changed(+1)
                waiting[station.name] -= 1
                result.waits[station.name].append(env.now - queued)
                service = station.service.sample(rng)
                result.busy[station.name] += service
                yield env.timeout(service)
            if station.deferral and rng.random() < station.deferral:
                if seat is not None:
                    seats.release(seat)
                    seats_changed(-1)
                result.deferred += 1
                break
            if seat is not None:
                yield from observe(seat)
        else:
            result.served += 1
        result.time_in_system.append(env.now - arrived_at)
        state["in_system"] -= 1

    def source():
        for at, first in arrivals:
            if at > env.now:
                yield env.timeout(at - env.now)
            env.process(person(at, first))
        state["arrivals_done"] = True

    def done() -> bool:
        return state["arrivals_done"] and state["in_system"] == 0

    def sampler():
        while not done():
            result.sample_times.append(env.now)
            for name in names:
                result.queues[name].append(waiting[name])
            yield env.timeout(scenario.sample_every)

    def occupancy():
        while not done():
            result.occupancy_samples.append(state["seats"])
            yield env.timeout(1.0)

    def rota(station):
        """Hold the servers that are off duty, hour by hour, until the site has cleared."""
        held: list = []
        resource = resources[station.name]
        hour = scenario.hour_at(0)
        while not done():
            wanted = most[station.name] - station.servers_at(hour)
            while len(held) < wanted:
                request = resource.request(priority=OFF_DUTY)
                held.append(request)
            while len(held) > wanted:
                resource.release(held.pop())
            hour += 1
            yield env.timeout(scenario.hour_start(hour) - env.now)
        for request in held:
            resource.release(request)

    env.process(source())
    env.process(sampler())
    if seats is not None:
        env.process(occupancy())
    for station in rotas:
        env.process(rota(station))
    env.run()
    result.cleared_at = max(env.now, scenario.open_minutes) if arrivals else 0.0
    seats_changed(0)
    end = result.cleared_at
    for station in scenario.stations:
        minutes, moment = 0.0, 0.0
        while moment < end:
            hour = scenario.hour_at(moment)
            following = scenario.hour_start(hour + 1)
            minutes += station.servers_at(hour) * (min(following, end) - moment)
            moment = following
        result.server_minutes[station.name] = minutes
    return result
