"""A site scenario for the simulator, read from TOML and validated (pydantic).

Times are minutes. Clock times ("08:00") are relative to the scenario's `opens`.
A scenario describes a site in general terms: stations in order, each with servers (which
may change by hour), a service-time distribution and the probability a person visits it;
walking time between stations; arrivals (Poisson by hour, appointment blocks, walk-ins, the
slots of a booking file);
branches (deferral at a station, extended observation, adverse events); observation with
a finite number of seats that the gated station (injection) must find free before it starts;
the vials the injection booths draw their doses from (doses per vial, how long an open vial
may be used, and the closing policy: no new vial in the last N minutes).
"""
from __future__ import annotations

import math
import random
from datetime import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- distributions (minutes) -----------------------------------------------------------------

class Fixed(_Model):
    kind: Literal["fixed"]
    value: float = Field(ge=0)

    def sample(self, rng: random.Random) -> float:
        return self.value

    @property
    def mean(self) -> float:
        return self.value


class Uniform(_Model):
    kind: Literal["uniform"]
    low: float = Field(ge=0)
    high: float = Field(ge=0)

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2


class Triangular(_Model):
    kind: Literal["triangular"]
    low: float = Field(ge=0)
    mode: float = Field(ge=0)
    high: float = Field(ge=0)

    def sample(self, rng: random.Random) -> float:
        return rng.triangular(self.low, self.high, self.mode)

    @property
    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3


class Normal(_Model):
    """Truncated at 0 (a negative draw is drawn again)."""

    kind: Literal["normal"]
    mean_: float = Field(alias="mean")
    sd: float = Field(ge=0)

    def sample(self, rng: random.Random) -> float:
        for _ in range(100):
            value = rng.gauss(self.mean_, self.sd)
            if value >= 0:
                return value
        return 0.0

    @property
    def mean(self) -> float:
        return self.mean_


class Offset(_Model):
    """A signed normal offset (punctuality: early is negative); not truncated."""

    kind: Literal["offset"]
    mean_: float = Field(0.0, alias="mean")
    sd: float = Field(ge=0)

    def sample(self, rng: random.Random) -> float:
        return rng.gauss(self.mean_, self.sd)

    @property
    def mean(self) -> float:
        return self.mean_


class Lognormal(_Model):
    """Given by the mean and standard deviation of the times themselves."""

    kind: Literal["lognormal"]
    mean_: float = Field(gt=0, alias="mean")
    sd: float = Field(gt=0)

    def sample(self, rng: random.Random) -> float:
        sigma2 = math.log(1 + (self.sd / self.mean_) ** 2)
        return rng.lognormvariate(math.log(self.mean_) - sigma2 / 2, math.sqrt(sigma2))

    @property
    def mean(self) -> float:
        return self.mean_


class Exponential(_Model):
    kind: Literal["exponential"]
    mean_: float = Field(gt=0, alias="mean")

    def sample(self, rng: random.Random) -> float:
        return rng.expovariate(1 / self.mean_)

    @property
    def mean(self) -> float:
        return self.mean_


class ShiftedExponential(_Model):
    """shift + Exp(mean)."""

    kind: Literal["shifted_exponential"]
    shift: float = Field(ge=0)
    mean_: float = Field(gt=0, alias="mean")

    def sample(self, rng: random.Random) -> float:
        return self.shift + rng.expovariate(1 / self.mean_)

    @property
    def mean(self) -> float:
        return self.shift + self.mean_


class Empirical(_Model):
    """Observed times, drawn with equal probability."""

    kind: Literal["empirical"]
    values: tuple[float, ...] = Field(min_length=1)

    def sample(self, rng: random.Random) -> float:
        return rng.choice(self.values)

    @property
    def mean(self) -> float:
        return sum(self.values) / len(self.values)


Distribution = Annotated[
    Fixed | Uniform | Triangular | Normal | Offset | Lognormal | Exponential | ShiftedExponential | Empirical,
    Field(discriminator="kind"),
]


# --- the site ------------------------------------------------------------------------------------

def _minutes(clock: time) -> int:
    return clock.hour * 60 + clock.minute


class Station(_Model):
    name: str = Field(min_length=1, max_length=40)
    servers: int = Field(1, ge=0, le=500)
    # Servers from a given hour on ("10" = from 10:00), overriding `servers`.
    servers_by_hour: dict[str, int] = Field(default_factory=dict)
    service: Distribution
    probability: float = Field(1.0, ge=0, le=1)
    deferral: float = Field(0.0, ge=0, le=1)  # leaves the site after this station's service
    needs_observation_seat: bool = False  # service starts only with an observation seat free

    @model_validator(mode="after")
    def _served_in_the_end(self) -> Station:
        """Somebody serves from the rota's last hour on: people still waiting then would wait for
        ever (and the replication would never end)."""
        if self.servers_by_hour and self.servers_at(10**6) < 1:
            last = max(int(hour) for hour in self.servers_by_hour)
            raise ValueError(f"servers_by_hour[{str(last)!r}]: at least 1 server from the rota's last hour on, or "
                             "nobody could be served after it")
        return self

    def servers_at(self, hour: int) -> int:
        chosen = self.servers
        for start, count in sorted(((int(h), c) for h, c in self.servers_by_hour.items())):
            if hour >= start:
                chosen = count
        return chosen


class Observation(_Model):
    seats: int = Field(ge=1, le=100_000)
    duration: Distribution
    extended_probability: float = Field(0.0, ge=0, le=1)
    extended_duration: Distribution | None = None
    aefi_probability: float = Field(0.0, ge=0, le=1)
    aefi_extra: Distribution | None = None


class Poisson(_Model):
    kind: Literal["poisson"]
    rate_per_hour: float = Field(0.0, ge=0)
    rate_by_hour: dict[str, float] = Field(default_factory=dict)  # "9" = 250 per hour from 9:00

    def rate_at(self, hour: int) -> float:
        return self.rate_by_hour.get(str(hour), self.rate_per_hour)


class Appointments(_Model):
    kind: Literal["appointments"]
    start: time
    end: time
    every_minutes: float = Field(gt=0)
    people: int = Field(ge=1)
    punctuality: Distribution = Offset(kind="offset", sd=0.0)
    no_show: float = Field(0.0, ge=0, le=1)
    enter_at: str | None = None  # the station they start at (people already waiting there: what-if)


class Booked(_Model):
    """People booked into slots, as a booking file has them (app/sim/bookings.py reads one with the
    import's reader): each comes at the slot's start plus a lateness drawn from a normal with
    `late_mean` and `late_sd` minutes (early is negative), truncated at 3 sd either side; or, with
    probability `no_show`, not at all. Someone early for the first slot waits for the opening."""

    kind: Literal["booked"]
    slots: tuple[tuple[time, int], ...] = Field(min_length=1)  # (slot start, people booked), clock times
    no_show: float = Field(0.08, ge=0, le=1)
    late_mean: float = Field(0.0, ge=-240, le=240)
    late_sd: float = Field(10.0, ge=0, le=240)
    source: str = ""  # where the bookings came from (the file's name, its day), for the tables

    @property
    def people(self) -> int:
        return sum(count for _, count in self.slots)

    def lateness(self, rng: random.Random) -> float:
        if self.late_sd == 0:
            return self.late_mean
        for _ in range(100):
            value = rng.gauss(0.0, self.late_sd)
            if abs(value) <= 3 * self.late_sd:
                return self.late_mean + value
        return self.late_mean


Arrivals = Annotated[Poisson | Appointments | Booked, Field(discriminator="kind")]


class Vials(_Model):
    """The vaccine's vials (开瓶后限时使用). Each booth of the injection station draws a dose from its
    own open vial and opens a new one when it has none with a dose left, or its vial has been open
    `open_life_minutes`; the doses left in an open vial are wasted when it expires, or at the end
    of the day. `stop_opening_minutes` before closing no new vial is opened (0: no such policy, a
    vial is opened whenever one is needed, after closing too for the people still queued); the
    people called to a booth after that time get a dose from an open vial on site if one has a
    dose left, or leave unvaccinated ("turned away by the policy"). With one dose per vial
    (the default) nothing is wasted and the policy has nothing to save, so it must be 0.
    See docs/ANALYTICS.md, "Vials and the closing policy"."""

    doses_per_vial: int = Field(1, ge=1, le=100)
    open_life_minutes: float = Field(360.0, gt=0, le=7 * 24 * 60)
    stop_opening_minutes: float = Field(0.0, ge=0)
    # The station whose services draw the doses; default: the one needing an observation seat,
    # else the one named "injection".
    station: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Vials:
        if self.doses_per_vial == 1 and self.stop_opening_minutes:
            raise ValueError("stop_opening_minutes needs doses_per_vial > 1: a single-dose vial is opened for the "
                             "person being injected and cannot be wasted, so the policy would only turn people away")
        return self

    @property
    def single_dose(self) -> bool:
        return self.doses_per_vial == 1


class Scenario(_Model):
    name: str = "scenario"
    opens: time = time(8, 0)
    closes: time = time(18, 0)  # the arrival window closes; the site then clears
    stations: tuple[Station, ...] = Field(min_length=1)
    walking: Distribution = Fixed(kind="fixed", value=0.0)
    arrivals: tuple[Arrivals, ...] = Field(min_length=1)
    observation: Observation | None = None
    sample_every: float = Field(5.0, gt=0)  # minutes between queue-length samples
    vials: Vials = Vials()

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        if _minutes(self.closes) <= _minutes(self.opens):
            raise ValueError("closes must be after opens")
        names = [station.name for station in self.stations]
        if len(set(names)) != len(names):
            raise ValueError("station names must be different")
        for source in self.arrivals:
            if isinstance(source, Appointments) and source.enter_at is not None and source.enter_at not in names:
                raise ValueError(f"enter_at {source.enter_at!r} is not a station")
        if any(station.needs_observation_seat for station in self.stations) and self.observation is None:
            raise ValueError("a station needs an observation seat but there is no [observation]")
        self._check_vials(names)
        return self

    def _check_vials(self, names: list[str]) -> None:
        vials = self.vials
        if vials.station is not None and vials.station not in names:
            raise ValueError(f"vials.station {vials.station!r} is not a station (the stations: {', '.join(names)})")
        if not vials.single_dose and self.vial_station is None:
            raise ValueError("vials.doses_per_vial > 1 needs the station that injects: name it with vials.station, "
                             "or mark it needs_observation_seat, or call it \"injection\"")
        if vials.stop_opening_minutes >= self.open_minutes:
            raise ValueError(f"vials.stop_opening_minutes ({vials.stop_opening_minutes:g}) must be shorter than the "
                             f"opening hours ({self.open_minutes:g} minutes)")

    @property
    def vial_station(self) -> str | None:
        """The station whose services draw a dose from a vial (None: there is none)."""
        if self.vials.station is not None:
            return self.vials.station
        seated = [station.name for station in self.stations if station.needs_observation_seat]
        if seated:
            return seated[0]
        return "injection" if any(station.name == "injection" for station in self.stations) else None

    @property
    def stop_opening_at(self) -> float | None:
        """The simulation time from which no new vial is opened (None: no such time)."""
        minutes = self.vials.stop_opening_minutes
        return self.open_minutes - minutes if minutes else None

    def with_vial_policy(self, stop_opening_minutes: float) -> Scenario:
        """The scenario with another closing policy, validated (ScenarioError names the problem)."""
        data = self.vials.model_dump()
        data["stop_opening_minutes"] = stop_opening_minutes
        try:
            vials = Vials.model_validate(data)
        except ValidationError as exc:
            raise ScenarioError("; ".join(f"vials: {error['msg']}" for error in exc.errors())) from None
        if stop_opening_minutes >= self.open_minutes:
            raise ScenarioError(f"a policy of {stop_opening_minutes:g} minutes is not shorter than the opening hours "
                                f"({self.open_minutes:g} minutes)")
        return self.model_copy(update={"vials": vials})

    @property
    def open_minutes(self) -> float:
        return _minutes(self.closes) - _minutes(self.opens)

    def clock(self, at: time) -> float:
        """A clock time as minutes after opening."""
        return _minutes(at) - _minutes(self.opens)

    def hour_at(self, minute: float) -> int:
        """The clock hour (8 for 08:xx) at a simulation time."""
        return int((_minutes(self.opens) + minute) // 60)

    def hour_start(self, hour: int) -> float:
        """The simulation time at which a clock hour begins."""
        return hour * 60.0 - _minutes(self.opens)


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names each problem."""


def parse_scenario(data: dict, *, source: str = "<scenario>") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = [f"{source}: {'.'.join(str(p) for p in error['loc']) or '(top)'}: {error['msg']}"
                    for error in exc.errors()]
        raise ScenarioError("\n".join(problems)) from None


def read_scenario(path) -> Scenario:
    import tomllib
    from pathlib import Path

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    return parse_scenario(data, source=str(path))
