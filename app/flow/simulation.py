"""Simulations from the running figures: a scenario fitted from a real day, and the rest of
today simulated (off the server's loop) from the people on site now: with the desks open now,
it is the dashboard's projection of the day's doses (`forecast`); with other desks or seats, the
dashboard's "what if". One model, so the two agree."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from app.domain import appointments as booking_rules
from app.domain.analytics import DayAnalytics
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
MAX_DESKS = 40  # a what-if may try up to this many desks at a queue station, more than the site has
MAX_SEATS = 5000  # and up to this many observation seats (a site file's limit too)
FORECAST_MAX_AGE = timedelta(minutes=1)


def fitted_scenario(services: Services, principal: Principal, *, site_id: str, day: date | None) -> Scenario:
    authorize(principal, "report.read", site=site_id)
    with analytics.day_model(services, site_id, day) as model:
        return scenario_from_day(model, name=f"{site_id} {model.day.isoformat()} as measured")


def booking_rates(services: Services, principal: Principal, *, site_id: str, day: date) -> booking_rules.ShowRates:
    """A day's no-show share and lateness, its bookings against its check-ins (for the simulator's
    booked arrivals). The lateness is to the check-in, so it includes any queue at check-in."""
    authorize(principal, "appointments.read", site=site_id)
    site = services.store.site(site_id).site
    now = services.clock.now()
    rows = services.store.appointments.day_check_ins(site_id, day)
    return booking_rules.show_rates(
        (row.slot_start, booking_rules.status_at(row.status, row.slot_start, now=now,
                                                 slot_minutes=site.appointments.slot_minutes,
                                                 grace_minutes=site.appointments.no_show_grace_minutes),
         row.checked_in_at) for row in rows)


def _figures(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "stations": {name: {"mean_wait_minutes": round(entry["mean_wait"]["mean"], 1),
                            "p95_wait_minutes": round(entry["p95_wait"]["mean"], 1),
                            "utilisation": round(entry["utilisation"]["mean"], 3)}
                     for name, entry in summary["stations"].items()},
        "served_by_closing": round(summary["doses_by_closing"]["mean"]),
        "median_minutes_in_site": round(summary["time_in_system"]["p50"] or 0, 1),
        "observation_peak": round(summary["observation"]["peak"]["mean"]),
        "cleared_at_minutes": round(summary["cleared_at"]["mean"]),
    }


def _simulate(scenario: Scenario) -> dict[str, Any]:
    """The replications of one scenario (pure computation: runs off the server's loop)."""
    return _figures(summarise(scenario, runner.run(scenario, replications=WHAT_IF_REPLICATIONS, seed=1, processes=1)))


def _starting_point(model: DayAnalytics, now: datetime) -> tuple[int, dict[str, int], dict[str, int], dict[str, int]]:
    """From the fold: doses so far, and per queue station the people waiting, the people there
    (waiting or at a desk: the simulation starts with all of them) and the desks open (1 at least)."""
    view = model.view(now)
    stations = view["stations"]
    waiting = {name: stations[name]["waiting"] for name in QUEUE}
    there = {name: stations[name]["waiting"] + stations[name]["being_served"] for name in QUEUE}
    desks = {name: max(1, stations[name]["desks_open"]) for name in QUEUE}
    return view["target"]["doses"], waiting, there, desks


def _answer(doses: int, desks: dict[str, int], seats: int, figures: dict[str, Any]) -> dict[str, Any]:
    """One column of the what-if; `doses_by_closing` counts today's doses so far too."""
    return {"servers": desks, "seats": seats, **figures, "doses_by_closing": doses + figures["served_by_closing"]}


def forecast(services: Services, site_id: str) -> dict[str, Any]:
    """Today's forecast: the rest of today simulated with the desks open now and the site's
    seats, which is also the what-if's "now" (the caller has authorized the reader). Kept while the
    doses, the desks open and the seats stay the same, for at most FORECAST_MAX_AGE: a dashboard
    refreshing twice a second runs it once per dose given or desk opened, and once a minute."""
    now = services.clock.now()
    with analytics.day_model(services, site_id) as model:
        doses, _, there, desks = _starting_point(model, now)
        seats = model.site.observation.seats
        inputs = (doses, tuple(sorted(desks.items())), seats)
        kept = services.forecasts.get(site_id)
        if kept is not None and kept[0] == model.day and kept[2] == inputs and now - kept[1] < FORECAST_MAX_AGE:
            return kept[3]
        scenario = what_if(model, now=now, waiting=there, servers=desks, seats=seats)
        day = model.day
    answer = _answer(doses, desks, seats, off_loop(_simulate, scenario))
    services.forecasts[site_id] = (day, now, inputs, answer)
    return answer


def dashboard(services: Services, principal: Principal, *, site_id: str) -> dict[str, Any]:
    """The dashboard's figures (app/flow/analytics.py), with the day's projection from `forecast`."""
    view = analytics.dashboard(services, principal, site_id=site_id)
    projected = forecast(services, site_id)["doses_by_closing"]
    target = view["target"]
    target["projected"] = projected
    target["projected_percent"] = round(100 * projected / target["daily_target"], 1) if target["daily_target"] else None
    return view


def what_if_today(services: Services, principal: Principal, *, site_id: str, servers: dict[str, int],
                  seats: int) -> dict[str, Any]:
    """The rest of today simulated with the desks open now (the forecast) and with `servers` /
    `seats`, which may be more than the site has (up to MAX_DESKS and MAX_SEATS)."""
    authorize(principal, "dashboard.read", site=site_id)
    fields = {name: f"must be 1 to {MAX_DESKS}" for name in QUEUE if not 1 <= servers.get(name, 0) <= MAX_DESKS}
    if not 1 <= seats <= MAX_SEATS:
        fields["seats"] = f"must be 1 to {MAX_SEATS}"
    if fields:
        raise ValidationFailed("Cannot simulate these desks and seats.", fields=fields)
    now_answer = forecast(services, site_id)
    proposed = {name: servers[name] for name in QUEUE}
    with analytics.day_model(services, site_id) as model:
        doses, waiting, there, _ = _starting_point(model, services.clock.now())
        same = (proposed, seats) == (now_answer["servers"], now_answer["seats"])
        scenario = None if same else what_if(model, now=services.clock.now(), waiting=there, servers=proposed,
                                               seats=seats)
    answer = now_answer if scenario is None else _answer(doses, proposed, seats, off_loop(_simulate, scenario))
    return {
        "now": now_answer, "proposed": answer, "waiting_now": waiting,
        "note": ("An estimate: the rest of today simulated from the people at the stations now and the "
                 "check-ins of the last hour, with the service times measured today. The dashboard's "
                 "projection is the first column."),
    }
