"""The write path alone: what one action costs in process (flow command -> store -> commit),
without HTTP or WebSockets, and how many SQL statements it sends.

    python bench/actions.py                                  # this checkout
    python bench/actions.py --against /tmp/siteflow-before   # and another, interleaved

Each code tree runs in its own child process (they cannot share one `app` package), three
times, alternating, on a fresh SQLite database: 100 person cycles (check-in, call, consent,
call, injection, release) to warm up, then 5 rounds of 100 cycles. Prints the median time per
action and the statements per action; writes bench/results/actions.json.
"""
from __future__ import annotations

from interleaved import compare

CHILD = r"""
import json, random, sys, tempfile, time
from datetime import datetime, timezone
from sqlalchemy import event
from app import create_app
from app.domain.permissions import Principal
from app.flow import sites as site_flow
from app.flow import visits as flow
from app.sim.day import DayPlan, consent_body, injection_body
from app.sim.people import person
from app.store.migrate import upgrade
from app.store.sealing import generate_lookup_key, generate_master_key

folder = tempfile.mkdtemp(prefix="siteflow-actions-")
app = create_app({"DATABASE_URL": f"sqlite:///{folder}/bench.db", "SECRET_KEY": "bench",
                  "DATA_KEYS": generate_master_key(), "LOOKUP_KEY": generate_lookup_key()})
services = app.extensions["siteflow"]  # by the key: the other checkout may predate services_of
upgrade(services.store.engine)
site_flow.load_site_file(services, sys.argv[1])
admin, rng, plan = Principal(name="bench", role="admin"), random.Random(1), DayPlan(p_defer=0, p_refuse=0, p_allergy=0)
today = datetime.now(timezone.utc).date()
statements = [0]
event.listen(services.store.engine, "before_cursor_execute", lambda *args: statements.__setitem__(0, statements[0] + 1))

def fields(body):
    # A request model (dict() gives its fields by name), or a dict of the JSON body in older checkouts.
    values = dict(body)
    if "site" in values:
        values["injection_site"] = values.pop("site")
    return values

def cycle():
    visit = flow.check_in(services, admin, site_id="demo", **dict(person(rng, today=today), health_code="green")).visit
    called = flow.call_next(services, admin, site_id="demo", station="consent", desk="A").visit
    flow.record_consent(services, admin, site_id="demo", visit_id=called.id, **fields(consent_body(rng, plan, "A")))
    called = flow.call_next(services, admin, site_id="demo", station="injection", desk="1").visit
    body = fields(injection_body("1", "coronavac", "202610A127", called.dose_number))
    flow.record_injection(services, admin, site_id="demo", visit_id=called.id, **body)
    flow.release(services, admin, site_id="demo", visit_id=called.id, override_reason="bench")

for _ in range(100):
    cycle()
rounds = []
statements[0] = 0
for _ in range(5):
    started = time.perf_counter()
    for _ in range(100):
        cycle()
    rounds.append((time.perf_counter() - started) / 600 * 1000)
print(json.dumps({"ms_per_action": rounds, "statements_per_action": statements[0] / 3000}))
"""


if __name__ == "__main__":
    compare(__doc__, CHILD, unit="action", result="actions.json", decimals=2, child_args=lambda root: [str(root / "sites" / "demo.toml")])
