"""Plots of a simulation (matplotlib, optional: `pip install -e '.[plot]'`): queue lengths over
the day, the time-in-system histogram, observation occupancy."""
from __future__ import annotations

from pathlib import Path

from .model import Replication
from .scenario import Scenario


def plot(scenario: Scenario, summary: dict, runs: list[Replication], path: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("Plots need matplotlib: pip install -e '.[plot]'") from None
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (queues, times, seats) = pyplot.subplots(3, 1, figsize=(10, 11))
    hours = [minute / 60 for minute in summary["queue_over_time"]["minutes"]]
    for name, series in summary["queue_over_time"]["stations"].items():
        queues.plot(hours, series, label=name)
    queues.set_title(f"{scenario.name}: mean queue length ({len(runs)} replications)")
    queues.set_xlabel(f"hours after opening ({scenario.opens.strftime('%H:%M')})")
    queues.set_ylabel("people waiting")
    queues.legend()
    pooled = [t for run in runs for t in run.time_in_system]
    times.hist(pooled, bins=60, color="#0b6bcb")
    times.set_title("time in system (all people, all replications)")
    times.set_xlabel("minutes")
    times.set_ylabel("people")
    if runs and runs[0].occupancy_samples:
        longest = max(len(run.occupancy_samples) for run in runs)
        mean = [sum(run.occupancy_samples[i] if i < len(run.occupancy_samples) else 0 for run in runs) / len(runs)
                for i in range(longest)]
        seats.plot([i / 60 for i in range(longest)], mean, color="#1e7b34", label="mean seats in use")
        if scenario.observation:
            seats.axhline(scenario.observation.seats, color="#b3261e", linestyle="--", label="seats")
        seats.legend()
    seats.set_title("observation occupancy")
    seats.set_xlabel("hours after opening")
    seats.set_ylabel("seats in use")
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
