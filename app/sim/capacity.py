"""A site's desks and seats as the planner sees them (app/sim/planner.py), and how many people
they take in: the demo's arrival rate, a booking slot's capacity."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .planner import Limits, capacity_per_hour
from .scenario import Exponential, Fixed, Observation, Poisson, Scenario, Station


@dataclass(frozen=True)
class Rates:
    """How long the queue stations take and how people divide, when nothing was measured."""

    consent_minutes: float = 2.0
    injection_minutes: float = 1.5
    deferral: float = 0.04  # deferred or refused at consent
    extended: float = 0.05  # an allergy history: the longer observation


DEFAULT_RATES = Rates()


def site_scenario(name: str, *, consent: int, injection: int, observation: Mapping[str, Any],
                  rates: Rates = DEFAULT_RATES) -> Scenario:
    """The site for the planner: `consent` and `injection` desks (exponential service times), its
    observation seats and times (`observation` as the site's [observation]). No arrivals."""
    return Scenario(
        name=name,
        stations=(
            Station(name="consent", servers=consent, deferral=rates.deferral,
                    service=Exponential(kind="exponential", mean=rates.consent_minutes)),
            Station(name="injection", servers=injection, needs_observation_seat=True,
                    service=Exponential(kind="exponential", mean=rates.injection_minutes)),
        ),
        arrivals=(Poisson(kind="poisson", rate_per_hour=0.0),),
        observation=Observation(
            seats=observation["seats"], duration=Fixed(kind="fixed", value=observation["minutes"]),
            extended_probability=rates.extended,
            extended_duration=Fixed(kind="fixed", value=observation["extended_minutes"]),
        ),
    )


def people_per_hour(scenario: Scenario) -> float:
    """What the scenario's desks and seats take in an hour at the planner's limits (80 % busy)."""
    return capacity_per_hour(scenario, Limits())
