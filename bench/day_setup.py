"""The setup steps of bench/day.py that must run on the server's own code: bearer tokens and
seeded events. bench/day.py runs it as a subprocess with cwd and PYTHONPATH set to the code
root being measured (this checkout, or an older one given with --server-root), so `app` is
that root's; the seeding is this checkout's bench/seed.py, on that root's domain and store.

    python bench/day_setup.py REQUEST.json ANSWER.json

REQUEST: {"tokens": {"key": {"role", "site", "station"}},
          "seed": [{"site", "seed", "days": [{"start", "count", "until"}]}],
          "recent_since": "ISO time" or null}
ANSWER:  {"app": path of the app package used, "tokens": {"key": token}, "seeded": {site: events},
          "recent": {site: events at or after recent_since}}
DATABASE_URL, SITEFLOW_INSTANCE_PATH and SITEFLOW_SITES come from the environment, as for the server.
"""
from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # this checkout's seed.py, as `seed`

import app
from app import create_app
from app.flow.services import services_of


def make_tokens(services, wanted: dict) -> dict:
    from app.flow.tokens import create_token

    return {key: create_token(services, role=spec["role"], site_id=spec.get("site"), station=spec.get("station"),
                              name=f"bench-{key}"[:40])
            for key, spec in wanted.items()}


def seed_sites(store, jobs: list[dict]) -> dict:
    from seed import SeedDay, seed_days

    seeded = {}
    for job in jobs:
        days = [SeedDay(datetime.fromisoformat(day["start"]), day["count"],
                        datetime.fromisoformat(day["until"]) if day.get("until") else None) for day in job["days"]]
        seeded[job["site"]] = seed_days(store, job["site"], days, seed=job.get("seed", 1))
    return seeded


def recent_events(store, sites: list[str], since: datetime) -> dict:
    from sqlalchemy import func, select

    from app.store.tables import events

    with store.engine.connect() as conn:
        return {site: conn.execute(select(func.count()).select_from(events).where(
            events.c.site_id == site, events.c.at >= since)).scalar() for site in sites}


def main() -> None:
    request = json.loads(Path(sys.argv[1]).read_text())
    flask_app = create_app({"DATABASE_URL": os.environ["DATABASE_URL"]})
    services = services_of(flask_app)
    answer = {"app": str(Path(app.__file__).parent), "tokens": make_tokens(services, request.get("tokens", {}))}
    answer["seeded"] = seed_sites(services.store, request.get("seed", []))
    if request.get("recent_since"):
        answer["recent"] = recent_events(services.store, list(answer["seeded"]),
                                         datetime.fromisoformat(request["recent_since"]))
    services.store.engine.dispose()
    Path(sys.argv[2]).write_text(json.dumps(answer))


if __name__ == "__main__":
    main()
