"""Simulator speed: one replication of a 10-hour day with 2,000 people through 5 stations,
single-dose and with 10-dose vials, and 100 replications of it on all cores.

    python bench/sim.py        # writes bench/results/sim.json
    python bench/sim.py --against /tmp/before    # and one replication against the app/sim of an
                                                 # older checkout, interleaved in one process
"""
from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import shutil
import statistics
import sys
import tempfile
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


def ten_dose(site, stop_opening_minutes: float = 0.0):
    """The same day with 10-dose vials usable 6 hours once open."""
    return parse_scenario({**site.model_dump(by_alias=True), "vials": {
        "doses_per_vial": 10, "open_life_minutes": 360, "stop_opening_minutes": stop_opening_minutes}})


def against(checkout: Path, rounds: int = 3) -> dict[str, dict[str, float]]:
    """One replication, interleaved seed by seed in this process: the app/sim of `checkout` (as a
    copy under another package name) on the single-dose day, and this one's on the single-dose
    day and the 10-dose days. Seconds: median, min, max."""
    work = Path(tempfile.mkdtemp(prefix="bench-sim-"))
    try:
        shutil.copytree(checkout / "app" / "sim", work / "sim_before")
        sys.path.insert(0, str(work))
        old_model = importlib.import_module("sim_before.model")
        old_scenario = importlib.import_module("sim_before.scenario")
        site = scenario()
        data = {key: value for key, value in site.model_dump(by_alias=True).items() if key != "vials"}
        variants = [("before, single-dose", old_model.run_replication, old_scenario.parse_scenario(data)),
                    ("after, single-dose", run_replication, site),
                    ("after, 10-dose", run_replication, ten_dose(site)),
                    ("after, 10-dose, stop opening 30 min before closing", run_replication, ten_dose(site, 30))]
        times: dict[str, list[float]] = {name: [] for name, _, _ in variants}
        for _ in range(rounds):
            for seed in range(1, 11):
                for name, run, chosen in variants:
                    gc.collect()
                    began = time.perf_counter()
                    run(chosen, seed)
                    times[name].append(time.perf_counter() - began)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {name: {"median": statistics.median(values), "min": min(values), "max": max(values)}
            for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--against", type=Path, help="an older checkout (its app/sim) to compare one replication with")
    options = parser.parse_args()
    site = scenario()
    single = []
    people = []
    for seed in range(1, 11):
        began = time.perf_counter()
        run = run_replication(site, seed)
        single.append(time.perf_counter() - began)
        people.append(run.arrived)
    ten = ten_dose(site)
    vials = []
    for seed in range(1, 11):
        began = time.perf_counter()
        run_replication(ten, seed)
        vials.append(time.perf_counter() - began)
    began = time.perf_counter()
    runs = runner.run(site, replications=100, seed=1)
    hundred = time.perf_counter() - began
    result = {
        "cores": os.cpu_count(),
        "people_per_replication": statistics.fmean(people),
        "one_replication_s_median": statistics.median(single),
        "one_replication_s_max": max(single),
        "one_replication_10_dose_s_median": statistics.median(vials),
        "one_replication_10_dose_s_max": max(vials),
        "hundred_replications_s": hundred,
        "served_mean": statistics.fmean(run.served for run in runs),
    }
    if options.against:
        result["against"] = {"checkout": str(options.against), "one_replication_s": against(options.against)}
    (ROOT / "bench" / "results" / "sim.json").write_text(json.dumps(result, indent=1))
    print(f"one replication ({result['people_per_replication']:.0f} people): median "
          f"{result['one_replication_s_median']:.3f} s, max {result['one_replication_s_max']:.3f} s")
    print(f"one replication with 10-dose vials: median {result['one_replication_10_dose_s_median']:.3f} s, "
          f"max {result['one_replication_10_dose_s_max']:.3f} s")
    print(f"100 replications on {result['cores']} cores: {hundred:.1f} s")
    for name, seconds in result.get("against", {}).get("one_replication_s", {}).items():
        print(f"  {name:<52} median {seconds['median']:.3f} s, min {seconds['min']:.3f} s, max {seconds['max']:.3f} s")


if __name__ == "__main__":
    main()
