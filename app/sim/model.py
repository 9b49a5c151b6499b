"""One replication of a scenario (app/sim/scenario.py) as a SimPy discrete-event model.

People arrive (pre-drawn arrival times), walk to each station they visit, queue first-in
first-out for a server, are served, and may be deferred (they leave). At the station that
needs an observation seat (injection), the server that takes the person holds them until a
seat is free, so with observation full the booth cannot start (our rule); the seat is held
through the injection and the observation that follows it. Servers may change by hour: the
missing servers are taken by "off duty" requests that go ahead of people.

Vials (`scenario.vials`, multi-dose only): the vial station (injection) has one booth per
server; a person whose service starts there takes a free booth and a dose from the booth's open
vial. Booths are not named in the queue: the person goes to a free booth with an open vial with a
dose left if there is one (the one expiring first), else to a free booth that opens a new vial.
After the policy's time (`stop_opening_at`) no vial is opened: the dose comes from any open vial
on site with a dose left, or the person is turned away (leaves unvaccinated). A vial found
expired at a booth loses its doses left ("expired"); at the end of the day, the vials still
open lose theirs, as "expired" if they had expired by the day's last call to a booth, else as
"left at closing". Single-dose vials are only counted (a dose given is a vial opened).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import simpy

from .scenario import Appointments, Booked, Poisson, Scenario, Station

OFF_DUTY = 0  # priority of the requests that stand for servers not on duty (ahead of people)
PERSON = 1
TURNED_AWAY = object()  # what served_at returns for someone the vial policy sends home


@dataclass
class Replication:
    """What one run measured. Times are minutes after opening."""

    seed: int
    arrived: int = 0
    no_shows: int = 0
    served: int = 0
    deferred: int = 0
    doses_by_closing: int = 0  # services at the seat station (injections) ended by closing time
    time_in_system: list[float] = field(default_factory=list)
    waits: dict[str, list[float]] = field(default_factory=dict)
    queued_at: dict[str, list[float]] = field(default_factory=dict)  # when each of `waits` began
    arrivals_by_hour: dict[int, int] = field(default_factory=dict)  # clock hour: people who came
    busy: dict[str, float] = field(default_factory=dict)  # server-minutes serving
    server_minutes: dict[str, float] = field(default_factory=dict)  # server-minutes on duty while open
    sample_times: list[float] = field(default_factory=list)
    queues: dict[str, list[int]] = field(default_factory=dict)  # queue length at each sample time
    occupancy_samples: list[int] = field(default_factory=list)  # seats in use, each minute
    occupancy_area: float = 0.0  # seat-minutes (time integral of seats in use)
    occupancy_peak: int = 0
    cleared_at: float = 0.0
    doses_given: int = 0  # doses drawn at the vial station (injections started)
    vials_opened: int = 0
    wasted_expired: int = 0  # doses left in an open vial when it expired
    wasted_at_closing: int = 0  # doses left in vials still usable at the day's last call to a booth
    turned_away: int = 0  # people called to a booth after the policy's time with no dose on site

    @property
    def doses_wasted(self) -> int:
        return self.wasted_expired + self.wasted_at_closing


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
        elif isinstance(source, Booked):
            for start, people in source.slots:
                slot = scenario.clock(start)
                for _ in range(people):
                    if rng.random() < source.no_show:
                        result.no_shows += 1
                        continue
                    times.append((max(0.0, slot + source.lateness(rng)), 0))
    times.sort()
    return times


def run_replication(scenario: Scenario, seed: int) -> Replication:
    """One run of `scenario` with its random numbers drawn from `seed`."""
    run = _Run(scenario, seed)
    run.start()
    run.env.run()
    return run.finish()


class _Run:
    """One replication in progress: the SimPy environment, its servers and seats, the people
    on site, and what is measured. The SimPy processes are its generator methods."""

    def __init__(self, scenario: Scenario, seed: int):
        self.scenario = scenario
        self.rng = random.Random(seed)
        self.result = result = Replication(seed=seed)
        self.env = env = simpy.Environment()
        self.names = names = [station.name for station in scenario.stations]
        self.most = most = {s.name: max([s.servers, *s.servers_by_hour.values()]) for s in scenario.stations}
        self.rotas = rotas = [s for s in scenario.stations if s.servers_by_hour or s.servers < most[s.name]]
        # FIFO for a fixed number of servers; a priority queue (dearer: it sorts) only where a rota
        # takes servers off duty ahead of the people waiting.
        self.resources = {
            s.name: (simpy.PriorityResource if s in rotas else simpy.Resource)(env, capacity=max(1, most[s.name]))
            for s in scenario.stations}
        self.waiting = dict.fromkeys(names, 0)
        result.waits = {name: [] for name in names}
        result.queued_at = {name: [] for name in names}
        result.busy = dict.fromkeys(names, 0.0)
        result.queues = {name: [] for name in names}
        self.seats = simpy.Resource(env, capacity=scenario.observation.seats) if scenario.observation else None
        self.in_system = 0
        self.arrivals_done = False
        self.seats_in_use = 0
        self.seats_changed_at = 0.0
        self.vial_station = next((s for s in scenario.stations if s.name == scenario.vial_station), None)
        self.booths = _Booths(scenario, max(1, most[self.vial_station.name])) if (
            self.vial_station is not None and not scenario.vials.single_dose) else None
        self.arrivals = arrival_times(scenario, self.rng, result)
        result.arrived = len(self.arrivals)
        for at, _ in self.arrivals:
            hour = scenario.hour_at(at)
            result.arrivals_by_hour[hour] = result.arrivals_by_hour.get(hour, 0) + 1

    def start(self) -> None:
        """The arrivals, the queue sampler, the seat sampler (with observation) and the rotas."""
        env = self.env
        env.process(self.source())
        env.process(self.sampler())
        if self.seats is not None:
            env.process(self.occupancy())
        for station in self.rotas:
            env.process(self.rota(station))

    def finish(self) -> Replication:
        """After the run: when the site cleared, the last seat-minutes, the server-minutes on duty."""
        result = self.result
        result.cleared_at = max(self.env.now, self.scenario.open_minutes) if self.arrivals else 0.0
        self.seats_changed(0)
        if self.booths is not None:
            self.booths.close(result)
        for station in self.scenario.stations:
            result.server_minutes[station.name] = server_minutes(self.scenario, station, result.cleared_at)
        return result

    def seats_changed(self, delta: int) -> None:
        result = self.result
        result.occupancy_area += self.seats_in_use * (self.env.now - self.seats_changed_at)
        self.seats_changed_at = self.env.now
        self.seats_in_use += delta
        result.occupancy_peak = max(result.occupancy_peak, self.seats_in_use)

    def done(self) -> bool:
        return self.arrivals_done and self.in_system == 0

    def source(self):
        env = self.env
        for at, first in self.arrivals:
            if at > env.now:
                yield env.timeout(at - env.now)
            env.process(self.person(at, first))
        self.arrivals_done = True

    def person(self, arrived_at: float, first: int):
        """One person through the stations from `first`: walk, be served, maybe be deferred
        (and leave), be observed after the station that holds a seat."""
        scenario, rng, env, result = self.scenario, self.rng, self.env, self.result
        self.in_system += 1
        moved = False
        for station in scenario.stations[first:]:
            if station.probability < 1 and rng.random() >= station.probability:
                continue
            if moved:
                walk = scenario.walking.sample(rng)
                if walk:
                    yield env.timeout(walk)
            moved = True
            seat = yield from self.served_at(station)
            if seat is TURNED_AWAY:
                result.turned_away += 1
                break
            if station.deferral and rng.random() < station.deferral:
                if seat is not None:
                    self.seats.release(seat)
                    self.seats_changed(-1)
                result.deferred += 1
                break
            if station.needs_observation_seat and env.now <= scenario.open_minutes:
                result.doses_by_closing += 1
            if seat is not None:
                yield from self.observe(seat)
        else:
            result.served += 1
        result.time_in_system.append(env.now - arrived_at)
        self.in_system -= 1

    def served_at(self, station):
        """Queue for a server (and, where the station needs one, an observation seat) and be
        served; the server is free again at the end. Returns the seat held, or None, or
        TURNED_AWAY (the vial station with no dose for them: they were not served)."""
        env, result = self.env, self.result
        queued = env.now
        self.waiting[station.name] += 1
        resource = self.resources[station.name]
        has_rota = isinstance(resource, simpy.PriorityResource)
        request = resource.request(priority=PERSON) if has_rota else resource.request()
        with request as server:
            yield server
            seat = None
            if station.needs_observation_seat:
                seat = self.seats.request()
                yield seat  # the booth is free but may not start: observation is full
                self.seats_changed(+1)
            self.waiting[station.name] -= 1
            booth = None
            if station is self.vial_station:
                if self.booths is None:  # single-dose: a vial opened for this dose
                    result.doses_given += 1
                    result.vials_opened += 1
                else:
                    booth = self.booths.draw(env.now, result)
                    if booth is None:
                        if seat is not None:
                            self.seats.release(seat)
                            self.seats_changed(-1)
                        return TURNED_AWAY
            result.waits[station.name].append(env.now - queued)
            result.queued_at[station.name].append(queued)
            service = station.service.sample(self.rng)
            result.busy[station.name] += service
            yield env.timeout(service)
            if booth is not None:
                self.booths.free.append(booth)
        return seat

    def observe(self, station_seat):
        observation, rng = self.scenario.observation, self.rng
        duration = observation.duration.sample(rng)
        if observation.extended_duration is not None and rng.random() < observation.extended_probability:
            duration = observation.extended_duration.sample(rng)
        if observation.aefi_extra is not None and rng.random() < observation.aefi_probability:
            duration += observation.aefi_extra.sample(rng)
        yield self.env.timeout(duration)
        self.seats.release(station_seat)
        self.seats_changed(-1)

    def sampler(self):
        result, waiting = self.result, self.waiting
        while not self.done():
            result.sample_times.append(self.env.now)
            for name in self.names:
                result.queues[name].append(waiting[name])
            yield self.env.timeout(self.scenario.sample_every)

    def occupancy(self):
        while not self.done():
            self.result.occupancy_samples.append(self.seats_in_use)
            yield self.env.timeout(1.0)

    def rota(self, station):
        """Hold the servers that are off duty, hour by hour, until the site has cleared."""
        held: list = []
        resource = self.resources[station.name]
        hour = self.scenario.hour_at(0)
        while not self.done():
            wanted = self.most[station.name] - station.servers_at(hour)
            while len(held) < wanted:
                request = resource.request(priority=OFF_DUTY)
                held.append(request)
            while len(held) > wanted:
                resource.release(held.pop())
            hour += 1
            yield self.env.timeout(self.scenario.hour_start(hour) - self.env.now)
        for request in held:
            resource.release(request)


class _Booths:
    """The booths of the vial station and their open vials (multi-dose): per booth, the doses left
    in its open vial (0: none) and when that vial expires; the booths free now."""

    def __init__(self, scenario: Scenario, count: int):
        vials = scenario.vials
        self.doses = vials.doses_per_vial
        self.life = vials.open_life_minutes
        self.stop_at = scenario.stop_opening_at  # None: a vial may be opened at any time
        self.left = [0] * count
        self.expires = [0.0] * count
        self.free = list(range(count - 1, -1, -1))  # popped from the end: booth 0 first
        self.last_call = 0.0

    def _usable(self, booths, now: float, result: Replication) -> int | None:
        """Of `booths`, the one whose vial has a dose left and expires first; an expired vial
        found on the way loses its doses left."""
        left, expires = self.left, self.expires
        best = None
        for booth in booths:
            if left[booth]:
                if expires[booth] <= now:
                    result.wasted_expired += left[booth]
                    left[booth] = 0
                elif best is None or expires[booth] < expires[best]:
                    best = booth
        return best

    def draw(self, now: float, result: Replication) -> int | None:
        """A dose for the person called now: the booth they take (no longer free), or None (turned
        away: no vial may be opened and no open vial on site has a dose left)."""
        self.last_call = now
        free = self.free
        source = self._usable(free, now, result)
        if source is not None:
            booth = source
            free.remove(booth)
        elif self.stop_at is None or now < self.stop_at:
            booth = source = free.pop()  # its vial, if any, is empty or expired (just counted)
            self.left[booth] = self.doses
            self.expires[booth] = now + self.life
            result.vials_opened += 1
        else:
            busy = [booth for booth in range(len(self.left)) if booth not in free]
            source = self._usable(busy, now, result)
            if source is None:
                return None
            booth = free.pop()
        self.left[source] -= 1
        result.doses_given += 1
        return booth

    def close(self, result: Replication) -> None:
        """The end of the day: the doses left in the vials still open are wasted."""
        for booth, left in enumerate(self.left):
            if left:
                if self.expires[booth] <= self.last_call:
                    result.wasted_expired += left
                else:
                    result.wasted_at_closing += left
                self.left[booth] = 0


def server_minutes(scenario: Scenario, station: Station, end: float) -> float:
    """Server-minutes on duty at `station` from opening to `end`, hour by hour of its rota."""
    minutes, moment = 0.0, 0.0
    while moment < end:
        hour = scenario.hour_at(moment)
        following = scenario.hour_start(hour + 1)
        minutes += station.servers_at(hour) * (min(following, end) - moment)
        moment = following
    return minutes
