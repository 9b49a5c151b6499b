"""Simulations from the running figures: a scenario fitted from a real day, and the
dashboard's "what if" for the rest of today (simulated off the server's loop)."""
from __future__ import annotations

from datetime import date
from typing import Any

from app.domain.errors import ValidationFailed
from app.domain.permissions import Principal, authorize
from app.offload import off_loop
from app.sim import runner
from app.sim.fit import QUEUE, scenario_from_day, what_if
from app.sim.results import summarise
from app.sim.scenario import Scenario

from . import analytics
from .services import Services

WHAT_IF_REPLICATIONS = 6


def fitted_scenario(services: Services, principal: Principal, *, site_id: str, day: date | None) -> Scenario:
    authorize(principal, "report.read", site=site_id)
    with analytics.day_model(services, site_id, day) as model:
        return scenario_from_day(model, name=f"{site_id} {model.day.isoformat()} as measured")


def _figures(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "stations": {name: {"mean_wait_minutes": round(entry["mean_wait"]["mean"], 1),
                            "p95_wait_minutes": round(entry["p95_wait"]["mean"], 1),
                            "utilisation": round(entry["utilisation"]["mean"], 3)}
                     for name, entry in summary["stations"].items()},
        "served_by_closing": round(summary["served"]["mean"]),
        "median_minutes_in_site": round(summary["time_in_system"]["p50"] or 0, 1),
        "observation_peak": round(summary["observation"]["peak"]["mean"]),
        "cleared_at_minutes": round(summary["cleared_at"]["mean"]),
    }


def _simulate(scenarios: dict[str, tuple[dict[str, int], int, Scenario]]) -> dict[str, Any]:
    """The replications of each scenario (pure computation: runs off the server's loop)."""
    answers = {}
    for label, (desks, chairs, scenario) in scenarios.items():
        runs = runner.run(scenario, replications=WHAT_IF_REPLICATIONS, seed=1, processes=1)
        answers[label] = {"servers": desks, "seats": chairs, **_figures(summarise(scenario, runs))}
    return answers


def what_if_today(services: Services, principal: Principal, *, site_id: str, servers: dict[str, int],
                  seats: int) -> dict[str, Any]:
    """The rest of today simulated twice, with the desks open now and with `servers` / `seats`."""
    authorize(principal, "dashboard.read", site=site_id)
    site = services.store.site(site_id).site
    fields = {name: f"must be 1 to {len(site.stations[name].desks)} (the desks the site has)"
              for name in QUEUE if not 1 <= servers.get(name, 0) <= len(site.stations[name].desks)}
    if not 1 <= seats <= 5000:
        fields["seats"] = "must be 1 to 5000"
    if fields:
        raise ValidationFailed("Cannot simulate these desks and seats.", fields=fields)
    now = services.clock.now()
    scenarios = {}
    with analytics.day_model(services, site_id) as model:
        view = model.view(now)
        waiting = {name: view["stations"][name]["waiting"] for name in QUEUE}
        current = {name: max(1, view["stations"][name]["desks_open"]) for name in QUEUE}
        for label, desks, chairs in (("now", current, site.observation.seats), ("proposed", servers, seats)):
            scenarios[label] = (desks, chairs, what_if(model, now=now, waiting=waiting, servers=desks, seats=chairs))
    answers: dict[str, Any] = off_loop(_simulate, scenarios)
    answers["waiting_now"] = waiting
    answers["note"] = ("An estimate: the rest of today simulated from the people waiting now and the arrivals "
                       "of the last hour, with service times measured today.")
    return answers
