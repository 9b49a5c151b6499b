"""static/js/live.js in a real Chromium against a real `siteflow serve`: join, snapshot,
deltas in sequence, calls, and a resync after the connection drops.

The server's Content-Security-Policy forbids eval, so page predicates are functions."""
from __future__ import annotations

import json
import urllib.request

import pytest

from tests.support.factories import gen_checkin
from tests.support.live_servers import ServerProcess, create_tokens, free_port, init_database, server_env


@pytest.fixture
def server(tmp_path):
    env = server_env(database_url=f"sqlite:///{tmp_path / 'siteflow.db'}")
    init_database(env)
    tokens = create_tokens(env, {"admin": {"role": "admin"},
                                 "consent": {"role": "station", "site": "demo", "station": "consent"}})
    process = ServerProcess(env, free_port()).spawn()
    process.wait_ready()
    yield process, tokens
    process.stop()


def post(url: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


CONNECT = """async ([token, view, station]) => {
  const { connectLive } = await import("/static/js/live.js");
  window.live = { snapshots: [], deltas: [], calls: [], statuses: [], errors: [] };
  window.handle = connectLive({
    token, site: "demo", view, station,
    onSnapshot: (s) => window.live.snapshots.push(s.seq),
    onDelta: (d) => window.live.deltas.push(d.seq),
    onCall: (c) => window.live.calls.push(c.ticket),
    onStatus: (s) => window.live.statuses.push(s),
    onError: (e) => window.live.errors.push(e.code),
  });
}"""


def test_live_js_follows_the_site_and_resyncs_after_a_drop(server, page):
    process, tokens = server
    page.goto(process.url + "/healthz")
    page.evaluate(CONNECT, [tokens["consent"], "station", "consent"])
    page.wait_for_function("() => window.live.snapshots.length === 1")
    base = f"{process.url}/api/v1/sites/demo"
    first = post(f"{base}/visits", tokens["admin"], gen_checkin())
    post(f"{base}/stations/consent/call-next", tokens["admin"], {"desk": "A"})
    page.wait_for_function("() => window.live.deltas.length === 2")
    assert page.evaluate("window.live.deltas") == [first["seq"], first["seq"] + 1]
    assert page.evaluate("window.handle.seq") == first["seq"] + 1

    # The connection drops; actions happen meanwhile; the client comes back and resyncs.
    page.evaluate("window.handle.socket.io.engine.close()")
    page.wait_for_function("() => window.live.statuses.includes('offline')")
    third = post(f"{base}/visits", tokens["admin"], gen_checkin())
    page.wait_for_function("(seq) => window.handle.seq === seq", arg=third["seq"], timeout=10_000)
    assert page.evaluate("window.live.snapshots") == [first["seq"] - 1, third["seq"]]
    assert page.evaluate("window.live.errors") == []


def test_live_js_reports_a_refused_token_and_stops_retrying(server, page):
    process, _tokens = server
    page.goto(process.url + "/healthz")
    page.evaluate(CONNECT, ["sf_revoked-or-wrong", "display", None])
    page.wait_for_function("() => window.live.errors.length === 1")
    assert page.evaluate("window.live.errors") == ["invalid_token"]
    page.wait_for_timeout(1500)
    assert page.evaluate("window.live.errors.length") == 1  # no reconnect loop
