"""Figures of replications: per replication, and across them with 95 % confidence intervals
(Student t); time in system pooled over all people of all replications."""
from __future__ import annotations

import math
import statistics
from typing import Any

from app.domain.analytics import percentile

from .model import Replication
from .scenario import Scenario

# Two-sided 95 % Student t quantiles by degrees of freedom (1.96 beyond 120).
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        12: 2.179, 15: 2.131, 20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}


def t95(degrees: int) -> float:
    if degrees <= 0:
        return float("nan")
    known = [d for d in _T95 if d <= degrees]
    return 1.96 if degrees > 120 else _T95[max(known)]


def interval(values: list[float]) -> dict[str, float | None]:
    """Mean and half-width of its 95 % confidence interval."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return {"mean": None, "ci95": None}
    mean = statistics.fmean(values)
    if len(values) < 2:
        return {"mean": mean, "ci95": None}
    return {"mean": mean, "ci95": t95(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))}


def replication_figures(scenario: Scenario, run: Replication) -> dict[str, Any]:
    stations = {}
    for station in scenario.stations:
        waits = run.waits[station.name]
        capacity = run.server_minutes[station.name]
        stations[station.name] = {
            "served": len(waits),
            "mean_wait": statistics.fmean(waits) if waits else 0.0,
            "p95_wait": percentile(waits, 95) or 0.0,
            "utilisation": run.busy[station.name] / capacity if capacity else 0.0,
            "max_queue": max(run.queues[station.name], default=0),
        }
    occupancy = run.occupancy_samples
    times = run.time_in_system
    return {
        "seed": run.seed,
        "arrived": run.arrived,
        "no_shows": run.no_shows,
        "served": run.served,
        "doses_by_closing": run.doses_by_closing,
        "deferred": run.deferred,
        "time_in_system_mean": statistics.fmean(times) if times else None,
        "time_in_system_median": percentile(times, 50),
        "stations": stations,
        "observation": {
            "time_average": run.occupancy_area / run.cleared_at if run.cleared_at else 0.0,
            "p95": percentile(occupancy, 95) or 0,
            "p99": percentile(occupancy, 99) or 0,
            "peak": run.occupancy_peak,
        },
        "cleared_at": run.cleared_at,
        "vials": vial_figures(run),
    }


VIAL_KEYS = ("doses_given", "doses_wasted", "wasted_expired", "wasted_at_closing", "wastage_rate", "vials_opened",
             "turned_away")


def vial_figures(run: Replication) -> dict[str, Any]:
    """Doses given and wasted (by reason), vials opened, the wastage rate (wasted / (given +
    wasted); 0 when no dose was drawn) and the people the closing policy turned away."""
    wasted = run.doses_wasted
    drawn = run.doses_given + wasted
    return {"doses_given": run.doses_given, "doses_wasted": wasted, "wasted_expired": run.wasted_expired,
            "wasted_at_closing": run.wasted_at_closing, "wastage_rate": wasted / drawn if drawn else 0.0,
            "vials_opened": run.vials_opened, "turned_away": run.turned_away}


def summarise(scenario: Scenario, runs: list[Replication]) -> dict[str, Any]:
    per_run = [replication_figures(scenario, run) for run in runs]
    pooled = sorted(t for run in runs for t in run.time_in_system)  # sorted once: sorting it again is then linear
    stations = {
        station.name: {key: interval([row["stations"][station.name][key] for row in per_run])
                       for key in ("served", "mean_wait", "p95_wait", "utilisation", "max_queue")}
        for station in scenario.stations
    }
    return {
        "scenario": scenario.name,
        "replications": len(runs),
        "served": interval([row["served"] for row in per_run]),
        "doses_by_closing": interval([row["doses_by_closing"] for row in per_run]),
        "arrived": interval([row["arrived"] for row in per_run]),
        "deferred": interval([row["deferred"] for row in per_run]),
        "time_in_system": {
            "mean": interval([row["time_in_system_mean"] for row in per_run]),
            **{f"p{q}": percentile(pooled, q) for q in (5, 25, 50, 75, 90, 95)},
        },
        "stations": stations,
        "observation": {key: interval([row["observation"][key] for row in per_run])
                        for key in ("time_average", "p95", "p99", "peak")},
        "cleared_at": interval([row["cleared_at"] for row in per_run]),
        "vials": {"doses_per_vial": scenario.vials.doses_per_vial,
                  "open_life_minutes": scenario.vials.open_life_minutes,
                  "stop_opening_minutes": scenario.vials.stop_opening_minutes,
                  **{key: interval([row["vials"][key] for row in per_run]) for key in VIAL_KEYS}},
        "queue_over_time": _mean_queues(scenario, runs),
        "by_hour": by_hour(scenario, runs),
        "per_replication": per_run,
    }


def _mean_queues(scenario: Scenario, runs: list[Replication]) -> dict[str, Any]:
    """Mean queue length at each sample time across replications (for the plot)."""
    longest = max((len(run.sample_times) for run in runs), default=0)
    times = [i * scenario.sample_every for i in range(longest)]
    queues = {}
    for station in scenario.stations:
        series = []
        for i in range(longest):
            values = [run.queues[station.name][i] if i < len(run.queues[station.name]) else 0 for run in runs]
            series.append(statistics.fmean(values) if values else 0.0)
        queues[station.name] = series
    return {"minutes": times, "stations": queues}


def by_hour(scenario: Scenario, runs: list[Replication]) -> list[dict[str, Any]]:
    """Clock hour by clock hour, from the opening until the last replication's site cleared (means
    across replications): the people who came in the hour; per station the queue (people waiting)
    at the hour's first sample, on average over the hour and at its longest, and the mean wait of
    those who joined the queue in that hour (pooled over the replications; None if nobody did)."""
    if not runs:
        return []
    last = max(max(run.sample_times, default=0.0) for run in runs)
    hours = range(scenario.hour_at(0), scenario.hour_at(max(last, scenario.open_minutes - 1)) + 1)
    names = [station.name for station in scenario.stations]
    # samples[name][hour]: per replication, the queue lengths sampled in that hour; waits pooled
    samples: dict[str, dict[int, list[list[int]]]] = {name: {hour: [] for hour in hours} for name in names}
    waits: dict[str, dict[int, list[float]]] = {name: {hour: [] for hour in hours} for name in names}
    for run in runs:
        for name in names:
            mine: dict[int, list[int]] = {hour: [] for hour in hours}
            for moment, length in zip(run.sample_times, run.queues[name], strict=True):
                mine.setdefault(scenario.hour_at(moment), []).append(length)
            for hour in hours:
                samples[name][hour].append(mine[hour])
            for moment, wait in zip(run.queued_at[name], run.waits[name], strict=True):
                waits[name].setdefault(scenario.hour_at(moment), []).append(wait)
    table = []
    for hour in hours:
        stations = {}
        for name in names:
            per_run = samples[name][hour]
            pooled = waits[name][hour]
            stations[name] = {
                "queue_at_start": statistics.fmean(lengths[0] if lengths else 0 for lengths in per_run),
                "mean_queue": statistics.fmean(statistics.fmean(lengths) if lengths else 0.0 for lengths in per_run),
                "max_queue": statistics.fmean(max(lengths, default=0) for lengths in per_run),
                "mean_wait": statistics.fmean(pooled) if pooled else None,
                "joined": len(pooled) / len(runs),
            }
        table.append({"hour": hour, "arrived": statistics.fmean(run.arrivals_by_hour.get(hour, 0) for run in runs),
                      "stations": stations})
    return table
