"""One in-process timing script run against this checkout and, optionally, another, in child
processes (two code trees cannot share one `app` package), three times each, alternating, so
that both see the same machine. Used by bench/actions.py and bench/sessions.py.

The child script prints, as its last line, JSON with `ms_per_UNIT` (a list of round medians)
and `statements_per_UNIT`.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(child: str, root: Path, args: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-c", child, *args], cwd=root, env=dict(os.environ, PYTHONPATH=str(root)),
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{root}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(doc: str, child: str, *, unit: str, result: str, decimals: int,
            child_args=lambda root: []) -> None:
    """Parse --against, run, print and write bench/results/RESULT."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", help="another checkout to measure in the same run")
    options = parser.parse_args()
    roots = {"this": ROOT} | ({"against": Path(options.against).resolve()} if options.against else {})
    samples: dict[str, list[float]] = {name: [] for name in roots}
    statements: dict[str, float] = {}
    for _ in range(3):
        for name, root in roots.items():
            answer = _run(child, root, child_args(root))
            samples[name] += answer[f"ms_per_{unit}"]
            statements[name] = answer[f"statements_per_{unit}"]
    results: dict = {
        name: {"root": str(roots[name]), f"ms_per_{unit}_median": round(statistics.median(values), decimals),
               f"ms_per_{unit}_min": round(min(values), decimals),
               f"statements_per_{unit}": round(statements[name], 2)}
        for name, values in samples.items()}
    if "against" in results:
        results["ratio_this_over_against"] = round(
            results["this"][f"ms_per_{unit}_median"] / results["against"][f"ms_per_{unit}_median"], 2)
    (ROOT / "bench" / "results" / result).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
