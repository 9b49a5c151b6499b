"""What the stock costs to read: the day's stock sheet (GET /stock) and the lots held now
(GET /stock/lots), on SQLite, for a site with a 5,000-dose day, and after 30 days of history.

    python bench/stock.py [--days 30] [--doses 2000]

The days are seeded through the domain (bench/seed.py): every injection draws from the demo's
coronavac lot. Prints the median of 5 reads; writes bench/results/stock.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from seed import SeedDay, seed_days  # noqa: E402

from app import create_app  # noqa: E402
from app.clock import FixedClock  # noqa: E402
from app.domain.permissions import Principal  # noqa: E402
from app.flow import sites as site_flow  # noqa: E402
from app.flow import stock  # noqa: E402
from app.store.migrate import upgrade  # noqa: E402
from app.store.sealing import generate_lookup_key, generate_master_key  # noqa: E402

BOSS = Principal(name="bench", role="admin")


def timed(read, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        read()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def measure(days: int, doses: int) -> dict[str, float]:
    folder = tempfile.mkdtemp(prefix="siteflow-stock-")
    first = datetime(2026, 11, 1, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
    clock = FixedClock(first)
    app = create_app({"DATABASE_URL": f"sqlite:///{folder}/bench.db", "SECRET_KEY": "bench",
                      "DATA_KEYS": generate_master_key(), "LOOKUP_KEY": generate_lookup_key(), "CLOCK": clock})
    services = app.extensions["siteflow"]
    upgrade(services.store.engine)
    site_flow.load_site_file(services, ROOT / "sites" / "demo.toml")
    plan = [SeedDay(first + timedelta(days=n, minutes=5), doses * 6, first + timedelta(days=n, hours=8))
            for n in range(days)]
    seeded = seed_days(services.store, "demo", plan)
    clock.set(first + timedelta(days=days - 1, hours=9))
    return {"days": days, "doses_per_day": doses, "events": seeded,
            "sheet_ms": timed(lambda: stock.sheet(services, BOSS, site_id="demo")),
            "lots_now_ms": timed(lambda: stock.lots_now(services, BOSS, site_id="demo"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--doses", type=int, default=2000)
    args = parser.parse_args()
    results = {"one_big_day": measure(1, 5000), "history": measure(args.days, args.doses)}
    print(json.dumps(results, indent=2))
    out = ROOT / "bench" / "results" / "stock.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
