"""Live push end to end: real server processes, real Socket.IO clients, real PostgreSQL and Redis.

Scale-out (two `siteflow serve` processes sharing one PostgreSQL database and one Redis
message queue) and resilience (a cut network, a killed server, a Redis outage). The
in-process protocol details are in test_live.py; here the question is whether what a
client ends up with equals what REST says, whatever happened in between.

The two-process tests share one module-scoped pair of servers (starting them is the
expensive part); each uses its own site, so their queues do not meet.
"""
from __future__ import annotations

import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timezone
from pathlib import Path

import pytest
import socketio

from tests.conftest import DEMO_SITE
from tests.support.factories import gen_checkin, gen_consent, gen_injection
from tests.support.live_servers import (
    Api,
    LiveClient,
    ServerProcess,
    close_all,
    comparable,
    create_tokens,
    free_port,
    init_database,
    model_difference,
    rest_seq,
    rest_state,
    server_env,
    wait_for_model,
    wait_until,
)
from tests.support.services import PostgresDatabaseFactory

DELIVERY = 2.0  # seconds: an action's push must reach a client on the other process within this
SCALE_SITE = "demo"  # test (a)
QUICK_SITE = "quick"  # test (b): observation of one minute, the shortest the site configuration allows
OUTAGE_SITE = "outage"  # test (e)


# ------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------

def _site_variant(text: str, site_id: str, *, observation_minutes: int | None = None) -> str:
    text = re.sub(r'(?m)^id = "demo"', f'id = "{site_id}"', text)
    if observation_minutes is not None:
        # The configuration validates minutes >= 1 (whole minutes): one minute is the floor.
        text = re.sub(r"(?m)^minutes = \d+", f"minutes = {observation_minutes}", text)
        text = re.sub(r"(?m)^extended_minutes = \d+", f"extended_minutes = {observation_minutes}", text)
    return text


@pytest.fixture(scope="module")
def site_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sites")
    text = DEMO_SITE.read_text(encoding="utf-8")
    (folder / "demo.toml").write_text(text, encoding="utf-8")
    (folder / "quick.toml").write_text(_site_variant(text, QUICK_SITE, observation_minutes=1), encoding="utf-8")
    (folder / "outage.toml").write_text(_site_variant(text, OUTAGE_SITE), encoding="utf-8")
    assert "minutes = 1  " in (folder / "quick.toml").read_text(encoding="utf-8")
    return folder


@dataclass
class Cluster:
    servers: list[ServerProcess]
    token: str  # admin: every site, every view

    def api(self, index: int) -> Api:
        return Api(self.servers[index].url, self.token)


@pytest.fixture(scope="module")
def cluster(postgres_server, redis_server, site_folder, tmp_path_factory):
    """Two server processes on one PostgreSQL database with Redis as the message queue."""
    databases = PostgresDatabaseFactory(postgres_server)
    servers: list[ServerProcess] = []
    try:
        env = server_env(database_url=databases(), message_queue=redis_server.url, sites=site_folder)
        init_database(env)  # once, for both processes
        logs = tmp_path_factory.mktemp("server-logs")
        servers = [ServerProcess(env, free_port(), log_dir=logs, name=f"process{i}").spawn() for i in (1, 2)]
        token = create_tokens(env, {"admin": {"role": "admin"}})["admin"]  # while the servers start
        for server in servers:
            server.wait_ready()
        yield Cluster(servers, token)
    finally:
        try:
            close_all(servers)
        finally:
            databases.cleanup()


@pytest.fixture
def live():
    """live(url, token, view=..., ...) -> a LiveClient (not yet connected), closed after the test."""
    clients: list[LiveClient] = []

    def make(url: str, token: str, **kwargs) -> LiveClient:
        client = LiveClient(url, token, **kwargs)
        clients.append(client)
        return client

    yield make
    # In parallel: websocket-client waits up to 3 s for the server's close frame on each.
    with ThreadPoolExecutor(max_workers=max(1, len(clients))) as pool:
        list(pool.map(LiveClient.close, clients))


@pytest.fixture
def sqlite_server(tmp_path):
    """One server on a SQLite file (the embedded mode, no message queue); tokens admin and consent station."""
    env = server_env(database_url=f"sqlite:///{tmp_path / 'siteflow.db'}")
    init_database(env)
    server = ServerProcess(env, free_port(), log_dir=tmp_path, name="embedded").spawn()
    try:
        tokens = create_tokens(env, {
            "admin": {"role": "admin"},
            "consent": {"role": "station", "site": "demo", "station": "consent"},
        })
        server.wait_ready()
        yield server, tokens
    finally:
        server.stop()


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------

def ok(response, what: str = "request"):
    assert response.ok, f"{what}: HTTP {response.status} {response.json}"
    return response.json


def check_in(api: Api, site: str = "demo", **overrides) -> dict:
    return ok(api.post(f"/sites/{site}/visits", gen_checkin(**overrides)), "check-in")["visit"]


def call_next(api: Api, station: str, desk: str, site: str = "demo") -> dict | None:
    response = api.post(f"/sites/{site}/stations/{station}/call-next", {"desk": desk})
    ok(response, f"call-next {station} {desk}")
    return response.json["visit"] if response.status == 200 else None


def act(api: Api, visit_id: str, action: str, body: dict | None = None, site: str = "demo") -> dict:
    return ok(api.post(f"/sites/{site}/visits/{visit_id}/{action}", body or {}), action)["visit"]


def to_observation(api: Api, site: str) -> dict:
    """Check a person in and take them through consent and injection: they are observing."""
    visit = check_in(api, site)
    assert call_next(api, "consent", "A", site)["id"] == visit["id"]
    act(api, visit["id"], "consent", gen_consent("A"), site)
    assert call_next(api, "injection", "1", site)["id"] == visit["id"]
    return act(api, visit["id"], "injection", gen_injection("1"), site)


def wait_for_queue(api: Api, client: LiveClient, site: str, timeout: float = 30.0) -> bool:
    """After a Redis outage: check someone in through `api` once a second until the delta
    reaches `client` (on another process). The servers' Redis listeners reconnect with a
    back-off of 1, 2, 4... seconds."""
    def probe_delivered() -> bool:
        probe = check_in(api, site)
        return bool(client.wait_for("delta", timeout=1.0, where=lambda d: d["visit"]["id"] == probe["id"]))

    return wait_until(probe_delivered, timeout, interval=0)


class TcpProxy:
    """A TCP relay on 127.0.0.1 with a switch: cut() drops every connection and refuses new
    ones (accepted and closed at once), restore() lets them through again."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._threads: list[threading.Thread] = []
        self._cut = False
        self._closing = False
        self.refused = 0
        self._acceptor = threading.Thread(target=self._accept_loop, name="proxy-accept", daemon=True)
        self._acceptor.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        while not self._closing:
            try:
                downstream, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                refuse = self._cut or self._closing
                if refuse:
                    self.refused += 1
            if refuse:
                downstream.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                downstream.close()
                continue
            upstream.settimeout(None)
            downstream.settimeout(None)
            pair = (downstream, upstream)
            with self._lock:
                self._pairs.add(pair)
            done = threading.Barrier(2, action=lambda: self._finish(pair))
            for src, dst in ((downstream, upstream), (upstream, downstream)):
                thread = threading.Thread(target=self._pump, args=(src, dst, pair, done), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _pump(self, src: socket.socket, dst: socket.socket, pair, done: threading.Barrier) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        self._shutdown(pair)  # one direction ended: end the other too
        done.wait()  # the last of the two closes the sockets (see _finish)

    def _finish(self, pair) -> None:
        with self._lock:
            self._pairs.discard(pair)
        for sock in pair:
            sock.close()

    @staticmethod
    def _shutdown(pair) -> None:
        for sock in pair:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            pairs = list(self._pairs)
        for pair in pairs:
            self._shutdown(pair)

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self._closing = True
        self.cut()
        self._acceptor.join(timeout=5)
        self.listener.close()
        for thread in self._threads:
            thread.join(timeout=5)


# ------------------------------------------------------------------------------------------
# authentication against a real server
# ------------------------------------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.parametrize("token,code", [("sf_not-a-real-token", "invalid_token"), ("", "missing_token")])
def test_a_bad_token_gets_a_connect_error_with_a_code(cluster, live, token, code):
    client = live(cluster.servers[1].url, token, view="display")
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect()
    # python-socketio raises ConnectionError("One or more namespaces failed to connect: /") and
    # hands the CONNECT_ERROR packet's payload, {"message": ..., "data": ...}, to connect_error.
    # socket.io-client (live.js) sees the same payload as error.message and error.data, and
    # live.js stops reconnecting only when error.data.code is there.
    assert client.connect_errors, f"no connect_error event; messages: {client.names()}"
    payload = client.connect_errors[-1]
    assert isinstance(payload, dict) and payload.get("message"), payload
    data = payload.get("data")
    assert isinstance(data, dict) and data.get("code") == code, f"connect error payload without data.code: {payload}"
    assert data.get("message")
    assert not client.connected and client.connects == 0


# ------------------------------------------------------------------------------------------
# (a) scale-out: an action on process 1 reaches clients on process 2
# ------------------------------------------------------------------------------------------

@pytest.mark.postgres
def test_an_action_on_one_process_reaches_clients_of_the_other_and_a_move_resyncs(cluster, live):
    api1, api2 = cluster.api(0), cluster.api(1)
    process1, process2 = cluster.servers
    supervisor = live(process2.url, cluster.token, view="supervisor", site=SCALE_SITE).connect_and_sync()
    display = live(process2.url, cluster.token, view="display", site=SCALE_SITE).connect_and_sync()
    start_seq = rest_seq(api1, SCALE_SITE)
    assert supervisor.seq == start_seq == display.seq

    posted = time.monotonic()
    checked_in = ok(api1.post(f"/sites/{SCALE_SITE}/visits", gen_checkin()), "check-in")
    checked_in_at = time.monotonic()
    call = ok(api1.post(f"/sites/{SCALE_SITE}/stations/consent/call-next", {"desk": "A"}), "call-next")
    called_at = time.monotonic()
    visit, called = checked_in["visit"], call["visit"]
    assert called["id"] == visit["id"]
    assert (checked_in["seq"], call["seq"]) == (start_seq + 1, start_seq + 2)

    deltas = supervisor.wait_for("delta", count=2, since=posted, timeout=DELIVERY)
    assert [(m.payload["seq"], m.payload["type"]) for m in deltas] == [
        (checked_in["seq"], "checked_in"), (call["seq"], "called")
    ], supervisor.names()
    assert deltas[0].at - checked_in_at < DELIVERY and deltas[1].at - called_at < DELIVERY
    assert deltas[1].payload["visit"]["id"] == visit["id"] and deltas[1].payload["desk"] == "A"
    assert supervisor.gaps == [] and supervisor.seq == start_seq + 2

    calls = display.wait_for("call", since=posted, timeout=DELIVERY)
    assert [(m.payload["ticket"], m.payload["desk"], m.payload["seq"]) for m in calls] == [
        (called["ticket"], "A", start_seq + 2)
    ], display.names()
    assert calls[0].at - called_at < DELIVERY
    # The coalesced display snapshot catches up too.
    assert display.wait_for("snapshot", since=posted, timeout=DELIVERY, where=lambda s: s["seq"] == start_seq + 2)

    assert model_difference(supervisor, api2, level="full", site=SCALE_SITE) is None

    # The supervisor's tablet moves to process 1: its join snapshot equals REST, from either process.
    supervisor.disconnect()
    moved = time.monotonic()
    supervisor.connect_and_sync(process1.url)
    snapshot = supervisor.payloads("snapshot", since=moved)[-1]
    seq1, visits1 = rest_state(api1, SCALE_SITE)
    seq2, visits2 = rest_state(api2, SCALE_SITE)
    assert snapshot["seq"] == seq1 == seq2 == start_seq + 2
    assert {v["id"]: comparable(v) for v in snapshot["visits"]} == visits1 == visits2
    assert model_difference(supervisor, api1, level="full", site=SCALE_SITE) is None


# ------------------------------------------------------------------------------------------
# (b) "OK to leave" is announced once, by one of the two processes
# ------------------------------------------------------------------------------------------

def _seconds_until(iso: str) -> float:
    return (datetime.fromisoformat(iso) - datetime.now(UTC)).total_seconds()


@pytest.mark.postgres
def test_the_end_of_an_observation_is_announced_once_to_each_display_even_after_a_redis_outage(cluster, live, redis_server):
    """Both processes hold a timer for every observation; exactly one of them announces it.

    A second person's observation ends while Redis (the lease and the message queue) is
    down: nobody can announce it then; once Redis is back every display shows it ready."""
    api1 = cluster.api(0)
    process1, process2 = cluster.servers
    displays = [
        live(server.url, cluster.token, view="display", site=QUICK_SITE, name=f"display@{server.name}").connect_and_sync()
        for server in (process1, process2)
    ]
    observers = [
        live(server.url, cluster.token, view="supervisor", site=QUICK_SITE, name=f"supervisor@{server.name}").connect_and_sync()
        for server in (process1, process2)
    ]
    clients = (*displays, *observers)

    first = to_observation(api1, QUICK_SITE)  # one minute of observation starts now
    assert first["state"] == "observing" and first["observation"]["minutes"] == 1
    time.sleep(3.0)
    second = to_observation(api1, QUICK_SITE)  # ends three seconds after the first

    # 1. The first person: one "ready" per client, from whichever process got the lease.
    timeout = _seconds_until(first["observation"]["leave_at"]) + 5
    for client in clients:
        assert client.wait_for("ready", timeout=timeout), (
            f"{client.name}: no ready within {timeout:.0f} s; messages: {client.names()}"
        )
    announced = [client.messages("ready")[0].at for client in clients]
    assert max(announced) - min(announced) < 1.0

    # 2. Redis goes down a second before the second person's time is up and comes back after it.
    time.sleep(max(0.0, _seconds_until(second["observation"]["leave_at"]) - 1.0))
    for client in clients:  # the other process had three seconds to announce the first one again
        assert [r["ticket"] for r in client.payloads("ready")] == [first["ticket"]], f"{client.name}: {client.payloads('ready')}"
        assert client.payloads("ready")[0]["leave_at"] == first["observation"]["leave_at"]
    with redis_server.outage():
        time.sleep(max(0.0, _seconds_until(second["observation"]["leave_at"]) + 1.5))
    # The message queue works again: a push from each process reached a client of the other.
    assert wait_for_queue(api1, observers[1], QUICK_SITE), "pushes from process 1 did not resume after the outage"
    assert wait_for_queue(cluster.api(1), observers[0], QUICK_SITE), "pushes from process 2 did not resume"
    back = time.monotonic()
    # Every display shows the second person as ready: by the retried `ready` announcement or,
    # where its server was still reconnecting to Redis when that went out, by the display
    # snapshots (sent after any action, and re-sent every 10 s by one of the processes).
    # Exactly-once delivery is not promised across an outage: python-socketio's listeners
    # reconnect one by one and may briefly hold two subscriptions.
    def shows_ready(client) -> bool:
        readies = [r for r in client.payloads("ready") if r["ticket"] == second["ticket"]]
        boards = [s_ for s_ in client.payloads("snapshot", since=back) if second["ticket"] in s_["observation"]["ready"]]
        return bool(readies or boards)

    for client in displays:
        assert wait_until(lambda: shows_ready(client), max(1.0, 25 - (time.monotonic() - back))), (
            f"{client.name}: the observation of {second['ticket']} ended during a Redis outage and the display "
            f"never showed it ready ({time.monotonic() - back:.0f} s after pushes worked again); readies: "
            f"{client.payloads('ready')}"
        )


# ------------------------------------------------------------------------------------------
# (c) a cut network: the client reconnects by itself and catches up
# ------------------------------------------------------------------------------------------

def test_after_a_network_cut_the_client_reconnects_and_equals_rest(sqlite_server, live):
    server, tokens = sqlite_server
    api = Api(server.url, tokens["admin"])
    proxy = TcpProxy(server.port)
    try:
        client = live(proxy.url, tokens["consent"], view="station", station="consent").connect_and_sync()
        first = check_in(api)
        second = check_in(api)
        assert client.wait_for("delta", count=2)
        assert wait_for_model(client, api, level="masked") is None

        proxy.cut()
        cut_at = time.monotonic()
        assert wait_until(lambda: not client.connected, 5), "the client did not notice the cut"
        # Actions while the client is away: new people, calls, consent, a cancellation.
        third = check_in(api)
        assert call_next(api, "consent", "A")["id"] == first["id"]
        act(api, first["id"], "consent", gen_consent("A"))
        assert call_next(api, "consent", "B")["id"] == second["id"]
        act(api, second["id"], "cancel", {"reason": "left_queue"})
        fourth = check_in(api, priority=True)
        assert call_next(api, "injection", "2")["id"] == first["id"]
        time.sleep(max(0.0, 30.0 - (time.monotonic() - cut_at)))
        assert client.messages("snapshot", since=cut_at) == [] and client.messages("delta", since=cut_at) == []
        assert proxy.refused > 0, "the client did not try to reconnect during the cut"

        proxy.restore()
        restored = time.monotonic()
        assert wait_until(lambda: client.count("snapshot", since=restored) >= 1, 10), (
            f"no reconnection within 10 s of the restore; messages since: "
            f"{[m.name for m in client.messages(since=restored)]}"
        )
        assert client.connected and client.connects == 2
        assert wait_for_model(client, api, level="masked") is None
        seq, visits = client.state()
        assert seq == rest_seq(api)
        assert set(visits) == {first["id"], third["id"], fourth["id"]}
    finally:
        proxy.close()


# ------------------------------------------------------------------------------------------
# (d) kill -9 and restart: nothing acknowledged is lost, clients come back by themselves
# ------------------------------------------------------------------------------------------

def test_a_killed_server_loses_no_acknowledged_action_and_its_clients_resync(sqlite_server, live):
    server, tokens = sqlite_server
    api = Api(server.url, tokens["admin"], timeout=10)
    client = live(server.url, tokens["admin"], view="supervisor").connect_and_sync()

    acknowledged: list[tuple[str, int, str]] = []  # (visit id, seq, event type) of every 2xx
    body = ok(api.post("/sites/demo/visits", gen_checkin()), "check-in")
    visit = body["visit"]
    acknowledged.append((visit["id"], body["seq"], "checked_in"))
    body = ok(api.post("/sites/demo/stations/consent/call-next", {"desk": "A"}), "call-next")
    assert body["visit"]["id"] == visit["id"]
    acknowledged.append((visit["id"], body["seq"], "called"))
    body = ok(api.post(f"/sites/demo/visits/{visit['id']}/consent", gen_consent("A")), "consent")
    acknowledged.append((visit["id"], body["seq"], "consented"))

    # Check-ins keep coming while the server is killed; those answered 2xx must survive.
    stop = threading.Event()
    lock = threading.Lock()
    failures: list[str] = []

    def burst() -> None:
        while not stop.is_set():
            try:
                response = api.post("/sites/demo/visits", gen_checkin())
            except Exception as exc:  # noqa: BLE001 - connection refused or reset: not acknowledged
                with lock:
                    failures.append(type(exc).__name__)
                time.sleep(0.01)
                continue
            if response.ok:
                with lock:
                    acknowledged.append((response.json["visit"]["id"], response.json["seq"], "checked_in"))

    sender = threading.Thread(target=burst, name="check-in-burst")
    sender.start()
    try:
        assert wait_until(lambda: len(acknowledged) >= 10, 10), "the burst got no answers"
        server.kill9()
        time.sleep(0.3)  # a few requests meet the dead server
    finally:
        stop.set()
        sender.join(timeout=15)
    assert not sender.is_alive()
    assert wait_until(lambda: not client.connected, 5)

    killed = time.monotonic()
    restarted = ServerProcess(server.env, server.port, log_dir=server.log_dir, name="embedded-restarted").start()
    try:
        for visit_id, seq, event_type in acknowledged:
            detail = ok(api.get(f"/sites/demo/visits/{visit_id}"), f"GET visit {visit_id}")
            history = [(e["seq"], e["type"]) for e in detail["events"]]
            assert (seq, event_type) in history, f"acknowledged #{seq} {event_type} of {visit_id} lost: {history}"
        assert rest_seq(api) >= max(seq for _, seq, _ in acknowledged)

        assert wait_until(lambda: client.count("snapshot", since=killed) >= 1, 10), (
            f"the client did not come back; messages since the kill: {[m.name for m in client.messages(since=killed)]}"
        )
        assert client.connects == 2
        assert wait_for_model(client, api, level="full") is None
        assert client.seq == rest_seq(api)

        before = client.seq
        sent = time.monotonic()
        last = check_in(api)
        deltas = client.wait_for("delta", since=sent, timeout=DELIVERY)
        assert [(d.payload["seq"], d.payload["visit"]["id"]) for d in deltas] == [(before + 1, last["id"])]
        assert client.seq == before + 1 == rest_seq(api)
    finally:
        restarted.stop()


# ------------------------------------------------------------------------------------------
# (e) Redis outage: actions keep working; pushes come back with Redis
# ------------------------------------------------------------------------------------------

@pytest.mark.postgres
def test_a_redis_outage_does_not_fail_actions_and_pushes_resume_after_it(cluster, live, redis_server):
    api1, api2 = cluster.api(0), cluster.api(1)
    process2 = cluster.servers[1]
    client = live(process2.url, cluster.token, view="supervisor", site=OUTAGE_SITE).connect_and_sync()
    sent = time.monotonic()
    check_in(api1, OUTAGE_SITE)
    assert client.wait_for("delta", since=sent, timeout=DELIVERY), "no push before the outage"
    before = rest_seq(api1, OUTAGE_SITE)

    redis_server.stop()
    try:
        durations = []
        for action in ("check-in", "check-in", "call"):
            began = time.monotonic()
            if action == "call":
                assert call_next(api1, "consent", "A", OUTAGE_SITE) is not None
            else:
                check_in(api1, OUTAGE_SITE)
            durations.append(round(time.monotonic() - began, 2))
        assert rest_seq(api1, OUTAGE_SITE) == rest_seq(api2, OUTAGE_SITE) == before + 3, durations
    finally:
        redis_server.start()

    assert wait_for_queue(api1, client, OUTAGE_SITE), (
        f"no push reached process 2 within 30 s after Redis came back; tail of its log:\n{process2.log_tail()}"
    )
    assert wait_for_model(client, api1, level="full", site=OUTAGE_SITE) is None
    assert client.seq == rest_seq(api2, OUTAGE_SITE)
    # Process 2 reads what it missed from the shared log (the announcement names only the
    # sequence number), so the actions of the outage arrive as deltas, in order, without a gap.
    outage = [seq for seq in (d["seq"] for d in client.payloads("delta")) if before < seq <= before + 3]
    assert outage == [before + 1, before + 2, before + 3]
    assert not client.gaps
