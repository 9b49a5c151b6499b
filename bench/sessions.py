"""What a signed-in page request costs in process: `GET /api/v1/me` with a staff session's
cookie, and the SQL statements it sends (the server-side session of issue 14 reads its row on
every request, and writes its last-seen time at most every 30 s).

    python bench/sessions.py                                  # this checkout
    python bench/sessions.py --against /tmp/siteflow-before   # and another, interleaved

Each code tree runs in its own child process, three times, alternating, on a fresh SQLite
database: 200 requests to warm up, then 5 rounds of 500. Prints the median time per request and
the statements per request; writes bench/results/sessions.json.
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

CHILD = r"""
import json, re, sys, tempfile, time
from sqlalchemy import event
from app import create_app
from app.flow import accounts
from app.store.migrate import upgrade
from app.store.sealing import generate_lookup_key, generate_master_key

folder = tempfile.mkdtemp(prefix="siteflow-sessions-")
app = create_app({"DATABASE_URL": f"sqlite:///{folder}/bench.db", "SECRET_KEY": "bench",
                  "DATA_KEYS": generate_master_key(), "LOOKUP_KEY": generate_lookup_key()})
services = app.extensions["siteflow"]  # by the key: the other checkout may predate services_of
upgrade(services.store.engine)
with app.app_context():
    account, _ = accounts.create_user(services, actor="bench", username="chen", display_name="chen",
                                      role="admin", sites=[], password="lantern-orchard-river-7")
    services.store.staff.update_user(account.id, at=services.clock.now(), must_change_password=False)
browser = app.test_client()
page = browser.get("/login", headers={"Accept": "text/html"}).get_data(as_text=True)
csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
signed_in = browser.post("/login", data={"username": "chen", "password": "lantern-orchard-river-7", "csrf_token": csrf})
assert signed_in.status_code == 302, signed_in.status_code
statements = [0]
event.listen(services.store.engine, "before_cursor_execute",
             lambda *args: statements.__setitem__(0, statements[0] + 1))

def request():
    answer = browser.get("/api/v1/me")
    assert answer.status_code == 200, answer.status_code

for _ in range(200):
    request()
rounds = []
statements[0] = 0
for _ in range(5):
    started = time.perf_counter()
    for _ in range(500):
        request()
    rounds.append((time.perf_counter() - started) / 500 * 1000)
print(json.dumps({"ms_per_request": rounds, "statements_per_request": statements[0] / 2500}))
"""


def run(root: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=root, env=dict(os.environ, PYTHONPATH=str(root)),
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{root}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", help="another checkout to measure in the same run")
    args = parser.parse_args()
    roots = {"this": ROOT} | ({"against": Path(args.against).resolve()} if args.against else {})
    samples: dict[str, list[float]] = {name: [] for name in roots}
    statements: dict[str, float] = {}
    for _ in range(3):  # alternating, so both see the same machine
        for name, root in roots.items():
            answer = run(root)
            samples[name] += answer["ms_per_request"]
            statements[name] = answer["statements_per_request"]
    results = {name: {"root": str(roots[name]), "ms_per_request_median": round(statistics.median(values), 3),
                      "ms_per_request_min": round(min(values), 3),
                      "statements_per_request": round(statements[name], 2)}
               for name, values in samples.items()}
    if "against" in results:
        results["ratio_this_over_against"] = round(
            results["this"]["ms_per_request_median"] / results["against"]["ms_per_request_median"], 2)
    out = ROOT / "bench" / "results" / "sessions.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
