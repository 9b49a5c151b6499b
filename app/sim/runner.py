"""Replications in parallel processes: replication r uses seed + r, so a run is repeatable
whatever the number of processes."""
from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from .model import Replication, run_replication
from .scenario import Scenario


def _one(args: tuple[Scenario, int]) -> Replication:
    scenario, seed = args
    return run_replication(scenario, seed)


def run(scenario: Scenario, *, replications: int, seed: int = 1, processes: int | None = None,
        progress: Callable[[int], None] | None = None) -> list[Replication]:
    """Run the replications; `progress(n)` is called as each one finishes."""
    seeds = [seed + r for r in range(replications)]
    workers = min(processes or os.cpu_count() or 1, replications)
    results: list[Replication] = []
    if workers <= 1:
        for one in seeds:
            results.append(run_replication(scenario, one))
            if progress:
                progress(1)
        return results
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(_one, [(scenario, one) for one in seeds], chunksize=max(1, replications // (4 * workers))):
            results.append(result)
            if progress:
                progress(1)
    return sorted(results, key=lambda result: result.seed)
