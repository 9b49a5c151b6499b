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

from interleaved import compare

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


if __name__ == "__main__":
    compare(__doc__, CHILD, unit="request", result="sessions.json", decimals=3)
