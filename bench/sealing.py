"""What sealing personal data costs: reads of a site's open visits and check-ins, sealed vs plain.

    python bench/sealing.py            # writes bench/results/sealing.json

Both are measured in the same run on the same SQLite database: site "sealed" holds visits as
the application stores them; site "plain" holds the same visits with the personal parts
opened (as before sealing). The ratio sealed/plain is the cost.
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from app import create_app  # noqa: E402
from app.clock import FixedClock  # noqa: E402
from app.domain.permissions import Principal  # noqa: E402
from app.domain.site import parse_site  # noqa: E402
from app.domain.visit import ACTIVE_STATES  # noqa: E402
from app.flow import sites as site_flow  # noqa: E402
from app.flow import visits as flow  # noqa: E402
from app.flow.services import services_of  # noqa: E402
from app.store.migrate import upgrade  # noqa: E402
from app.store.sealing import generate_lookup_key, generate_master_key, unseal_record  # noqa: E402
from app.store.tables import visits  # noqa: E402
from tests.support.factories import gen_checkin  # noqa: E402

OPEN_VISITS = 500
REPEATS = 60


def _timed(action, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="siteflow-seal-"))
    app = create_app({"DATABASE_URL": f"sqlite:///{folder / 'bench.db'}", "SECRET_KEY": "bench",
                      "DATA_KEYS": generate_master_key(), "LOOKUP_KEY": generate_lookup_key(),
                      "CLOCK": FixedClock(datetime(2026, 11, 24, 1, tzinfo=UTC))})
    services = services_of(app)
    store = services.store
    upgrade(store.engine)
    demo = site_flow.read_site_file(ROOT / "sites" / "demo.toml").model_dump(mode="json")
    for site_id in ("sealed", "plain"):
        store.upsert_site(parse_site(dict(demo, id=site_id), source=site_id), at=_now())
    admin = Principal("bench", "admin")
    check_in_times = []
    for _ in range(OPEN_VISITS):
        body = gen_checkin()
        start = time.perf_counter()
        flow.check_in(services, admin, site_id="sealed", idempotency_key=None, **body)
        check_in_times.append((time.perf_counter() - start) * 1000)
    # the same visits, opened, under site "plain"
    with store.engine.begin() as conn:
        rows = conn.execute(select(visits).where(visits.c.site_id == "sealed")).mappings().all()
        for row in rows:
            plain = dict(row, id="p" + row["id"][1:], site_id="plain",
                         data=dict(unseal_record(store.sealer, conn, row["data"]), site="plain"))
            conn.execute(visits.insert().values(**plain))
    results = {}
    times: dict[str, list[float]] = {"plain": [], "sealed": [], "sealed_cold": []}
    def read_open(site_id: str) -> None:  # a station list: the site's open visits, opened
        store.list_visits(site_id, states=ACTIVE_STATES, limit=OPEN_VISITS)

    for site_id in ("plain", "sealed"):
        read_open(site_id)  # warm the key cache and the page cache
    for _ in range(REPEATS):  # interleaved, so all see the same machine
        for name in times:
            site_id = name.removesuffix("_cold")
            if name.endswith("_cold"):
                store.sealer._opened.clear()  # every value decrypted again, as on a first read
            times[name] += _timed(lambda site_id=site_id: read_open(site_id), 1)
    for site_id, values in times.items():
        results[site_id] = {"median_ms": round(statistics.median(values), 2), "p90_ms": round(_p90(values), 2)}
    results["read_ratio"] = round(results["sealed"]["median_ms"] / results["plain"]["median_ms"], 2)
    results["cold_read_ratio"] = round(results["sealed_cold"]["median_ms"] / results["plain"]["median_ms"], 2)
    results["check_in_median_ms"] = round(statistics.median(check_in_times), 2)
    results["open_visits"] = OPEN_VISITS
    out = ROOT / "bench" / "results" / "sealing.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    store.engine.dispose()


def _p90(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.9) - 1]


def _now() -> datetime:
    return datetime(2026, 11, 24, 1, tzinfo=UTC)


if __name__ == "__main__":
    main()
