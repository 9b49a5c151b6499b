"""Simulator speed: one replication of a 10-hour day with 2,000 people through 5 stations,
and 100 replications of it on all cores.

    python bench/sim.py        # writes bench/results/sim.json
"""
from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

from app.sim import runner
from app.sim.model import run_replication
from app.sim.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[1]


def scenario():
    """2,000 people in 10 hours (200 an hour, Poisson), five stations, observation seats."""
    import tomllib

    data = tomllib.loads("""
name = "bench: 2,000 people, 5 stations"
opens = 08:00:00
closes = 18:00:00
walking = { kind = "uniform", low = 0.3, high = 1.0 }
[[stations]]
name = "checkin"
servers = 5
service = { kind = "lognormal", mean = 1.2, sd = 0.5 }
[[stations]]
name = "consent"
servers = 9
service = { kind = "triangular", low = 1.0, mode = 1.8, high = 4.0 }
deferral = 0.03
[[stations]]
name = "injection"
servers = 6
service = { kind = "shifted_exponential", shift = 0.6, mean = 0.8 }
needs_observation_seat = true
[[stations]]
name = "observation_desk"
servers = 2
service = { kind = "fixed", value = 0.3 }
[[stations]]
name = "exit"
servers = 2
service = { kind = "fixed", value = 0.2 }
[observation]
seats = 130
duration = { kind = "fixed", value = 30 }
[[arrivals]]
kind = "poisson"
rate_per_hour = 200
""")
    return parse_scenario(data)


def main() -> None:
    site = scenario()
    single = []
    people = []
    for seed in range(1, 11):
        began = time.perf_counter()
        run = run_replication(site, seed)
        single.append(time.perf_counter() - began)
        people.append(run.arrived)
    began = time.perf_counter()
    runs = runner.run(site, replications=100, seed=1)
    hundred = time.perf_counter() - began
    result = {
        "cores": os.cpu_count(),
        "people_per_replication": statistics.fmean(people),
        "one_replication_s_median": statistics.median(single),
        "one_replication_s_max": max(single),
        "hundred_replications_s": hundred,
        "served_mean": statistics.fmean(run.served for run in runs),
    }
    (ROOT / "bench" / "results" / "sim.json").write_text(json.dumps(result, indent=1))
    print(f"one replication ({result['people_per_replication']:.0f} people): median "
          f"{result['one_replication_s_median']:.3f} s, max {result['one_replication_s_max']:.3f} s")
    print(f"100 replications on {result['cores']} cores: {hundred:.1f} s")


if __name__ == "__main__":
    main()
