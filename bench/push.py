"""Live push benchmark: SiteFlow against a bare Flask-SocketIO app, measured in the same run.

    npm install --prefix bench && python bench/push.py   # the full run (about 8 minutes on 2 cores,
                                                          # and 2.5 more for the tickets phase)
    python bench/push.py --quick                          # shorter phases, for a smoke run
    python bench/push.py --only tickets --merge           # the phone tickets alone (2.5 minutes), into push.json

Server and load run in separate processes on 127.0.0.1; the clients are raw WebSocket
Socket.IO clients in one Node.js process (bench/wsclients.mjs, the `ws` package), which
stays lighter than the server it loads. Prints the tables and writes
bench/results/push.json. See docs/PERFORMANCE.md for the numbers and what limits them.

The tickets phase (issue 17) checks in --tickets people (2,000) at one site through the API,
connects one phone-ticket page per person (auth {"ticket": code}, as /t/<code> does) and
measures, on one server, the usual 200 clients' push latency and the server's CPU without
the phones, with them, and without them again, plus the phones' own delivery (bench/phones.py).
With BENCH_PROFILE_TICKETS=/tmp/tickets, py-spy records each of its phases into
/tmp/tickets-PHASE.txt.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import gevent.pool  # noqa: E402
import httpx  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.client import SiteFlowClient  # noqa: E402
from app.clock import SystemClock  # noqa: E402
from app.domain.errors import Conflict  # noqa: E402
from app.domain.permissions import Action  # noqa: E402
from app.flow.requests import CheckInBody, DeskBody, ReleaseBody  # noqa: E402
from app.live.hub import TICKET_INTERVAL  # noqa: E402 - the phones' coalesced place updates: a pass per site per this
from app.sim.bots import HttpActions  # noqa: E402
from app.sim.day import DayPlan, consent_body, injection_body  # noqa: E402
from app.sim.people import person  # noqa: E402
from bench.phones import percentile, ticket_latencies  # noqa: E402 - percentile: bench/day.py imports it from here

SITES = ("bench1", "bench2", "bench3", "bench4")
PHASES = ("latency", "throughput", "tickets", "history", "redis")  # --only
STATIONS = ("checkin", "consent", "injection", "observation", "exit")
PAYLOAD_BYTES = 1500  # about the size of one SiteFlow delta
CALL_STEPS = {1, 3}  # the call-next steps of a cycle: announced on displays too


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# No limit on connections: the open-loop load never waits for a free one. They stay open between
# requests, as a browser's do (a new one per request, as with urllib before, costs httpx ~1 ms more).
ANY_NUMBER_OF_CONNECTIONS = httpx.Limits(max_connections=None, max_keepalive_connections=None)


def api_client(url: str, token: str | None = None, timeout: float = 30) -> SiteFlowClient:
    """The bench's HTTP client (app/client.py) of a server, SiteFlow or the baseline."""
    return SiteFlowClient(url, token, timeout=timeout, limits=ANY_NUMBER_OF_CONNECTIONS)


def serve_command(port: int) -> list[str]:
    """`siteflow serve` on a port; with BENCH_PROFILE=/tmp/server (a path prefix), py-spy records
    each server into /tmp/server-PORT.txt as collapsed stacks (flame graph input)."""
    command = [sys.executable, "-m", "app.entry", "serve", "--port", str(port)]
    if os.environ.get("BENCH_PROFILE"):
        output = f"{os.environ['BENCH_PROFILE']}-{port}.txt"
        command = ["py-spy", "record", "--format", "raw", "-o", output, "--nonblocking", "--"] + command
    return command


class Process:
    def __init__(self, args: list[str], env: dict, log: Path, ready: str, cwd: Path = ROOT, timeout: float = 120):
        self.args = args
        self.log = open(log, "w")  # noqa: SIM115 - the process writes to it until stop() closes it
        self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        self.lines = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                self.stop()
                raise RuntimeError(f"{args} exited: {''.join(self.lines)[-1000:]}{log.read_text()[-2000:]}")
            self.lines.append(line)
            if ready in line:
                return
        self.stop()
        raise RuntimeError(f"{args} not ready: {''.join(self.lines)[-2000:]}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None and self.args[0] == "py-spy":  # Ctrl+C: py-spy writes its profile
            os.kill(self.proc.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=20)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()


class Clients:
    """N load clients in one or more processes."""

    def __init__(self, url: str, spec: list[dict], work: Path, per_process: int = 1000, timeout: float = 120):
        """Returns once every client has joined; fails after `timeout` seconds."""
        self.parts = []
        self.tickets: list[list] = []  # phones' `ticket` messages, filled by collect()
        for index in range(0, len(spec), per_process):
            chunk = spec[index:index + per_process]
            spec_path, out_path = work / f"spec{index}.json", work / f"out{index}.json"
            spec_path.write_text(json.dumps(chunk))
            proc = Process(["node", str(ROOT / "bench" / "wsclients.mjs"), url, str(spec_path), str(out_path)],
                           dict(os.environ, WSCLIENTS_TIMEOUT_S=str(timeout)), work / f"clients{index}.log", "READY",
                           timeout=timeout + 10)
            self.parts.append((index, proc, out_path))

    def collect(self) -> list[tuple[str, int, int, float]]:
        """[(group, seq, clients of the group that got it, latest arrival time)], over all parts;
        the phones' messages (ticket mode) go to self.tickets. The clients disconnect."""
        arrivals: dict[tuple[str, int], list] = {}
        for _offset, proc, _out_path in self.parts:
            os.kill(proc.pid, signal.SIGUSR1)
        for offset, proc, out_path in self.parts:
            proc.proc.wait(timeout=60)
            proc.stop()
            tickets_path = Path(f"{out_path}.tickets.json")
            if tickets_path.exists():  # [client index, arrival, ticket, step, station, ahead, view's at]
                self.tickets += [[offset + row[0], *row[1:]] for row in json.loads(tickets_path.read_text())]
            for group, seq, count, at in json.loads(Path(out_path).read_text()):
                seen = arrivals.setdefault((group, seq), [0, at])
                seen[0] += count
                seen[1] = max(seen[1], at)
        return [(group, seq, count, at) for (group, seq), (count, at) in arrivals.items()]


def group_of(site: str, view: str) -> str:
    """The clients whose arrivals are counted together: a site's displays, or its staff."""
    return f"{site}:{'display' if view == 'display' else 'staff'}"


def client_spec(n: int, tokens: dict, sites: tuple[str, ...] = SITES) -> tuple[list[dict], list[tuple[str, str]]]:
    """Spread n clients over sites and rooms: 20% displays, 60% stations, 20% supervisors."""
    spec, kinds = [], []
    for i in range(n):
        site = sites[i % len(sites)]
        slot = (i // len(sites)) % 10
        if slot < 2:
            view, station, token = "display", None, tokens[site]["display"]
        elif slot < 8:
            view, station = "station", STATIONS[slot % len(STATIONS)]
            token = tokens[site][station]
        else:
            view, station, token = "supervisor", None, tokens[site]["supervisor"]
        spec.append({"auth": {"token": token}, "join": {"site": site, "view": view, "station": station},
                     "group": group_of(site, view)})
        kinds.append((site, view))
    return spec, kinds


def baseline_spec(kinds: list[tuple[str, str]]) -> list[dict]:
    return [{"auth": {}, "join": {"room": f"{site}:{'display' if view == 'display' else 'staff'}"},
             "group": group_of(site, view)} for site, view in kinds]


# The steps of a person's cycle, by the API path the bots call.
STEPS = (("/visits", 0), ("/stations/consent/call-next", 1), ("/consent", 2), ("/stations/injection/call-next", 3),
         ("/injection", 4), ("/release", 5))
EVERYONE_ELIGIBLE = DayPlan(p_defer=0, p_refuse=0, p_allergy=0)


class Driver:
    """Open-loop load: person cycles started at rate/6 per second, each 6 actions in a row.

    Against SiteFlow the actions are the demo bots' (app/sim/bots.py: HttpActions, with the
    bodies of app/sim/day.py); the bench only paces them and times every call."""

    def __init__(self, kind: str, url: str, token: str | None = None, sites: tuple[str, ...] = SITES):
        """`sites` each have consent and injection desks named "1" to "30"."""
        self.kind, self.url, self.token, self.sites = kind, url, token, sites
        self.actions: list[dict] = []  # {"site", "seq", "step", "t0", "t1", "status"}
        self.desks = {site: (itertools.cycle(range(1, 31)), itertools.cycle(range(1, 31))) for site in sites}
        self.errors = 0
        import random

        self.rng = random.Random(7)
        self.client = api_client(url, token)
        self.bots = {site: HttpActions(self.client, site, SystemClock(),
                                       observe=lambda path, status, answer, t0, t1, site=site:
                                       self._record(site, path, status, answer, t0, t1))
                     for site in sites} if kind != "baseline" else {}

    def close(self) -> None:
        self.client.close()

    def _record(self, site: str, path: str, status: int, answer, t0: float, t1: float) -> None:
        step = next(number for suffix, number in STEPS if path.endswith(suffix))
        seq = answer.get("seq") if isinstance(answer, dict) else None
        visit = answer.get("visit") if isinstance(answer, dict) else None
        self.actions.append({"site": "all" if self.kind == "baseline" else site, "seq": seq, "step": step,
                             "t0": t0, "t1": t1, "status": status, "display": step in CALL_STEPS, "real_site": site,
                             "ticket": visit.get("ticket") if isinstance(visit, dict) else None})
        if status >= 300 and status != 204:
            self.errors += 1

    def cycle(self, site: str) -> None:
        if self.kind == "baseline":  # the same six requests, each one broadcast
            for step in range(6):
                rooms = [f"{site}:staff"] + ([f"{site}:display"] if step in CALL_STEPS else [])
                t0 = time.time()
                answer = self.client.request("POST", "/act", json={"rooms": rooms, "size": PAYLOAD_BYTES})
                self._record(site, STEPS[step][0], answer.status, answer.json, t0, time.time())
            return
        bot = self.bots[site]
        consent_desk = str(next(self.desks[site][0]))
        injection_desk = str(next(self.desks[site][1]))
        today = datetime.now(UTC).date()
        try:
            bot.run(Action.CHECK_IN, CheckInBody(**{**person(self.rng, today=today), "health_code": "green"}))
            called = bot.run(Action.CALL_NEXT, DeskBody(desk=consent_desk), station="consent")
            if not called:
                return
            consent = consent_body(self.rng, EVERYONE_ELIGIBLE, consent_desk)
            bot.run(Action.CONSENT, consent, visit_id=called["id"])
            called = bot.run(Action.CALL_NEXT, DeskBody(desk=injection_desk), station="injection")
            if not called:
                return
            injection = injection_body(injection_desk, "coronavac", "202610A127", called["dose_number"])
            bot.run(Action.INJECTION, injection, visit_id=called["id"])
            bot.run(Action.RELEASE, ReleaseBody(override_reason="benchmark"), visit_id=called["id"])
        except Conflict:
            return  # counted by _record; the cycle ends like a refused person

    def run(self, rate: float, seconds: float) -> float:
        """Drive `rate` actions/s for `seconds`; returns the achieved actions/s."""
        pool = gevent.pool.Pool(400)
        interval = 6 / rate
        start = time.monotonic()
        sites = itertools.cycle(self.sites)
        n = 0
        first = len(self.actions)
        while time.monotonic() - start < seconds:
            pool.spawn(self.cycle, next(sites))
            n += 1
            gevent.sleep(max(0.0, start + n * interval - time.monotonic()))
        pool.join(timeout=60)
        elapsed = time.monotonic() - start
        return (len(self.actions) - first) / elapsed


def arrival_times(records) -> dict[tuple[str, int], tuple[int, float]]:
    """(group, seq) -> (clients of the group that got a push with that seq, the latest arrival)."""
    return {(group, seq): (count, at) for group, seq, count, at in records}


def latencies(driver: Driver, records, kinds, since: int = 0, until: int | None = None, *,
              actions: list[dict] | None = None, arrivals: dict | None = None) -> dict:
    """Per action: from its request to its message at the last interested client (its site's
    staff, and for a call its displays too); an action some interested client never heard of
    counts as missing.

    The actions are driver.actions[since:until], or `actions` (of the same shape); `arrivals`
    (from arrival_times) saves indexing the records again for every slice."""
    if arrivals is None:
        arrivals = arrival_times(records)
    if actions is None:
        actions = driver.actions[since:until]
    clients = Counter(group_of(site, view) for site, view in kinds)
    values, missing = [], 0
    for action in actions:
        if action["seq"] is None:
            continue
        site = action["real_site"]
        groups = [group_of(site, "staff")] + ([group_of(site, "display")] if action["display"] else [])
        groups = [group for group in groups if clients[group]]
        if not groups:
            continue
        got = [arrivals.get((group, action["seq"]), (0, 0.0)) for group in groups]
        if any(count < clients[group] for group, (count, _) in zip(groups, got, strict=True)):
            missing += 1
            continue
        values.append((max(at for _, at in got) - action["t0"]) * 1000)
    http_ms = [(a["t1"] - a["t0"]) * 1000 for a in actions]
    return {
        "actions": len(values), "missing": missing,
        "p50_ms": round(percentile(values, 50), 1), "p95_ms": round(percentile(values, 95), 1),
        "p99_ms": round(percentile(values, 99), 1), "http_p50_ms": round(percentile(http_ms, 50), 1),
        "http_p99_ms": round(percentile(http_ms, 99), 1),
    }


class Bench:
    def __init__(self, quick: bool):
        self.quick = quick
        self.work = Path(tempfile.mkdtemp(prefix="siteflow-bench-"))
        self.sites_dir = self.work / "sites"
        self.sites_dir.mkdir()
        demo = (ROOT / "sites" / "demo.toml").read_text()
        desks = ", ".join(f'"{n}"' for n in range(1, 31))
        for site in SITES:
            text = demo.replace('id = "demo"', f'id = "{site}"').replace("seats = 60", "seats = 5000")
            text = text.replace('desks = ["A", "B"]', f"desks = [{desks}]")
            text = text.replace('desks = ["1", "2", "3", "4", "5", "6"]', f"desks = [{desks}]")
            (self.sites_dir / f"{site}.toml").write_text(text)
        self.template = self.work / "template.db"
        env = self.env(f"sqlite:///{self.template}")
        subprocess.run([sys.executable, "-m", "app.entry", "init"], cwd=ROOT, env=env, check=True, capture_output=True)
        self.tokens = self.make_tokens(f"sqlite:///{self.template}")
        self.results: dict = {"machine": {"cores": os.cpu_count()}, "started": datetime.now(UTC).isoformat()}

    def env(self, database_url: str, queue: str | None = None) -> dict:
        env = dict(os.environ, DATABASE_URL=database_url, SITEFLOW_SITES=str(self.sites_dir))
        env.pop("SOCKETIO_MESSAGE_QUEUE", None)
        if queue:
            env["SOCKETIO_MESSAGE_QUEUE"] = queue
        return env

    def make_tokens(self, database_url: str) -> dict:
        from app import create_app
        from app.flow.services import services_of
        from app.flow.tokens import create_token

        app = create_app({"DATABASE_URL": database_url})
        services = services_of(app)
        tokens = {"admin": create_token(services, role="admin", site_id=None, station=None, name="bench")}
        for site in SITES:
            tokens[site] = {"display": create_token(services, role="display", site_id=site, station=None, name="tv"),
                            "supervisor": create_token(services, role="site_supervisor", site_id=site, station=None,
                                                       name="sup")}
            for station in STATIONS:
                tokens[site][station] = create_token(services, role="station", site_id=site, station=station,
                                                     name=station)
        services.store.engine.dispose()
        return tokens

    def fresh_db(self, name: str) -> str:
        path = self.work / f"{name}.db"
        shutil.copy(self.template, path)
        return f"sqlite:///{path}"

    def siteflow(self, database_url: str, queue: str | None = None, port: int | None = None) -> tuple[Process, str]:
        port = port or free_port()
        proc = Process(serve_command(port), self.env(database_url, queue), self.work / f"server{port}.log", "running at")
        return proc, f"http://127.0.0.1:{port}"

    def baseline(self) -> tuple[Process, str]:
        port = free_port()
        proc = Process([sys.executable, str(ROOT / "bench" / "baseline_server.py"), str(port)], dict(os.environ),
                       self.work / "baseline.log", "running at")
        return proc, f"http://127.0.0.1:{port}"

    def measure(self, kind: str, n: int, rates: list[float], seconds: float, database_url: str | None = None,
                rss: bool = False, url_for_clients: str | None = None, servers=None) -> list[dict]:
        if kind == "baseline":
            server, url = self.baseline()
            servers = [server]
        elif servers is None:
            server, url = self.siteflow(database_url or self.fresh_db(f"run-{n}-{time.monotonic_ns()}"))
            servers = [server]
        else:
            server, url = servers[0]
            servers = [s for s, _ in servers]
        spec, kinds = client_spec(n, self.tokens)
        if kind == "baseline":
            spec = baseline_spec(kinds)
        before = rss_kb(server.pid)
        clients = Clients(url_for_clients or url, spec, self.work)
        gevent.sleep(1.0)
        after = rss_kb(server.pid)
        driver = Driver(kind, url, self.tokens["admin"])
        rows = []
        try:
            for rate in rates:
                since = len(driver.actions)
                achieved = driver.run(rate, seconds)
                gevent.sleep(1.0)
                rows.append({"kind": kind, "clients": n, "target_rate": rate, "achieved_rate": round(achieved, 1),
                             "errors": driver.errors, "_since": since, "_until": len(driver.actions)})
            records = clients.collect()
            for row in rows:
                row.update(latencies(driver, records, kinds, since=row.pop("_since"), until=row.pop("_until")))
                if rss:
                    row["rss_per_client_kb"] = round((after - before) / n, 1)
        finally:
            driver.close()
            for proc in servers:
                proc.stop()
        return rows


# --- phone tickets (issue 17): N people's phones following their own ticket on one site -------

TICKET_SITE = "bench1"


def git_commit() -> str:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pid(proc: Process) -> int:
    """The server's own process (with BENCH_PROFILE it runs as py-spy's child)."""
    if proc.args[0] != "py-spy":
        return proc.pid
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    return int(children[0]) if children else proc.pid


def settle(pid: int, *, below: float = 0.05, longest: float = 20.0) -> None:
    """Wait until the server uses less than `below` of a core over a second (at most `longest` s)."""
    deadline = time.monotonic() + longest
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        gevent.sleep(1.0)
        if cpu_seconds(pid) - before < below:
            return


@contextlib.contextmanager
def profiled(pid: int, name: str, seconds: float):
    """With BENCH_PROFILE_TICKETS=/tmp/tickets (a path prefix), py-spy samples the server for
    `seconds` into /tmp/tickets-NAME.txt (collapsed stacks: flame graph input)."""
    prefix = os.environ.get("BENCH_PROFILE_TICKETS")
    if not prefix:
        yield
        return
    beside = Path(sys.executable).parent / "py-spy"  # the venv's, when it is not on PATH
    command = [str(beside) if beside.exists() else "py-spy", "record", "--pid", str(pid),
               "--duration", str(math.ceil(seconds)), "--rate", "200", "--format", "raw", "--nonblocking",
               "-o", f"{prefix}-{name}.txt"]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gevent.sleep(0.5)  # py-spy attaches
    try:
        yield
    finally:
        spy.wait(timeout=seconds + 30)


def check_in_phones(url: str, token: str, site: str, n: int, *, concurrency: int = 8) -> list[dict]:
    """N people checked in through the API, as the check-in tablet does: each answer carries
    the person's phone-ticket page (the only place its code ever appears).
    [{"code", "ticket", "visit"}] in check-in order."""
    import random

    rng = random.Random(17)  # not the driver's seed: other documents than the load's people
    today = datetime.now(UTC).date()
    bodies = [CheckInBody(**{**person(rng, today=today), "health_code": "green"}) for _ in range(n)]
    phones: list[dict | None] = [None] * n
    client = api_client(url, token)

    def one(index: int) -> None:
        answer = client.run(Action.CHECK_IN, bodies[index], site=site).expect(201).json
        phones[index] = {"code": answer["ticket_page"]["url"].rsplit("/t/", 1)[1],
                         "ticket": answer["visit"]["ticket"], "visit": answer["visit"]["id"]}

    try:
        gevent.pool.Pool(concurrency).map(one, range(n))
    finally:
        client.close()
    return phones  # type: ignore[return-value]


def phone_spec(phones: list[dict]) -> list[dict]:
    """The Node fleet's ticket mode: auth {"ticket": code}, as /t/<code>'s script connects."""
    return [{"auth": {"ticket": phone["code"]}, "ticket": True} for phone in phones]


def event_times(database_url: str, site: str) -> dict[int, float]:
    """seq -> when the server recorded the event (its own clock, the one phones' views carry)."""
    from sqlalchemy import create_engine, select

    from app.store.tables import events

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return {row.seq: row.at.timestamp() for row in conn.execute(
                select(events.c.seq, events.c.at).where(events.c.site_id == site))}
    finally:
        engine.dispose()


def tickets_run(bench: Bench, n_phones: int, seconds: float, idle_seconds: float, clients: int = 200,
                rate: float = 60.0) -> dict:
    """One server, one database: N people checked in at TICKET_SITE (waiting at consent), the
    usual 200 staff/display clients, and the usual open-loop load at `rate`; measured without
    the phones, with N phones connected (one per person), and without them again (the drift of
    the run). Each phase: server CPU while idle and under load, push latency of the staff and
    display clients; the phones' own delivery in the phase with them."""
    database_url = bench.fresh_db("tickets")
    server, url = bench.siteflow(database_url)
    pid = server_pid(server)
    driver, fleets = None, []
    try:
        started = time.monotonic()
        phones = check_in_phones(url, bench.tokens["admin"], TICKET_SITE, n_phones)
        check_in_seconds = time.monotonic() - started
        print(f"\n{n_phones} people checked in at {TICKET_SITE} in {check_in_seconds:.1f} s")
        spec, kinds = client_spec(clients, bench.tokens)
        (bench.work / "staff").mkdir()
        staff = Clients(url, spec, bench.work / "staff")
        fleets.append(staff)
        driver = Driver("siteflow", url, bench.tokens["admin"])
        phases, phone_messages, with_actions = [], [], []
        for name in ("without", "with", "without_again"):
            row: dict = {"phase": name, "ticket_pages": n_phones if name == "with" else 0, "clients": clients,
                         "target_rate": rate}
            fleet = None
            if name == "with":
                folder = bench.work / "phones"
                folder.mkdir()
                rss_before, connect_started = rss_kb(pid), time.monotonic()
                fleet = Clients(url, phone_spec(phones), folder, timeout=180)
                fleets.append(fleet)
                row["connect_seconds"] = round(time.monotonic() - connect_started, 1)
                gevent.sleep(2.0)
                row["rss_connected_delta_kb"] = rss_kb(pid) - rss_before
                row["rss_per_ticket_page_kb"] = round(row["rss_connected_delta_kb"] / n_phones, 1)
            if fleet is None:
                settle(pid)  # the check-ins, the joins, or the phones hanging up are over
            cpu_before = cpu_seconds(pid)
            with profiled(pid, f"{name}-idle", idle_seconds):
                gevent.sleep(idle_seconds)
            row["idle_seconds"] = idle_seconds
            row["idle_cpu_percent"] = round((cpu_seconds(pid) - cpu_before) / idle_seconds * 100, 1)
            since, cpu_before, wall_before = len(driver.actions), cpu_seconds(pid), time.monotonic()
            with profiled(pid, f"{name}-load", seconds + 1):
                row["achieved_rate"] = round(driver.run(rate, seconds), 1)
                gevent.sleep(1.0)
            wall = time.monotonic() - wall_before
            row["load_cpu_percent"] = round((cpu_seconds(pid) - cpu_before) / wall * 100, 1)
            row["rss_kb"] = rss_kb(pid)
            row["_since"], row["_until"] = since, len(driver.actions)
            if fleet is not None:
                with_actions = driver.actions[since:]
                gevent.sleep(TICKET_INTERVAL + 0.5)  # the last coalesced pass of the phase
                row["rss_loaded_delta_kb"] = rss_kb(pid) - rss_before
                fleet.collect()  # the phones hang up
                phone_messages = fleet.tickets
            phases.append(row)
            print(f"  {name}: idle CPU {row['idle_cpu_percent']} %, under load {row['load_cpu_percent']} %"
                  + (f", {row['rss_per_ticket_page_kb']} KB per phone" if fleet else ""))
        records = staff.collect()
        arrivals = arrival_times(records)
        for row in phases:
            row.update(latencies(driver, records, kinds, since=row.pop("_since"), until=row.pop("_until"),
                                 arrivals=arrivals))
        phones_seen = ticket_latencies(with_actions, phone_messages, phones, event_times(database_url, TICKET_SITE),
                                       TICKET_SITE)
        return {"site": TICKET_SITE, "ticket_pages": n_phones, "check_in_seconds": round(check_in_seconds, 1),
                "seconds": seconds, "phases": phases, "phones": phones_seen, **tickets_summary(phases, n_phones)}
    finally:
        if driver is not None:
            driver.close()
        for fleet in fleets:  # left running only by a failure
            for _offset, proc, _out in fleet.parts:
                proc.stop()
        server.stop()


def tickets_summary(phases: list[dict], n: int) -> dict:
    """The ticket pages' cost against the mean of the two phases without them, measured in the same run."""
    without = [row for row in phases if row["ticket_pages"] == 0]
    with_ = next(row for row in phases if row["ticket_pages"])

    def base(key: str) -> float:
        return sum(row[key] for row in without) / len(without)

    def ratio(key: str) -> float:
        return round(with_[key] / base(key), 2) if base(key) else float("nan")

    def per_page(key: str) -> dict:
        """The phones' share of the server's CPU: % of one core per 1,000 pages, CPU ms per page per minute."""
        extra = with_[key] - base(key)
        return {"percent_of_a_core_per_1000": round(extra / n * 1000, 2),
                "cpu_ms_per_page_per_minute": round(extra / 100 * 60_000 / n, 2)}

    return {"summary": {
        "push_p50_ratio": ratio("p50_ms"), "push_p95_ratio": ratio("p95_ms"), "push_p99_ratio": ratio("p99_ms"),
        "http_p50_ratio": ratio("http_p50_ms"), "rss_per_ticket_page_kb": with_["rss_per_ticket_page_kb"],
        "cpu_idle": per_page("idle_cpu_percent"), "cpu_under_load": per_page("load_cpu_percent"),
    }}


def print_tickets(result: dict) -> None:
    print(f"\n{result['ticket_pages']} phone-ticket pages on {result['site']}, 200 staff/display clients, 60 actions/s")
    columns = ["phase", "ticket_pages", "achieved_rate", "p50_ms", "p95_ms", "p99_ms", "http_p50_ms", "missing",
               "idle_cpu_percent", "load_cpu_percent", "rss_kb"]
    print("  ".join(f"{c:>16}" for c in columns))
    for row in result["phases"]:
        print("  ".join(f"{row.get(c, '')!s:>16}" for c in columns))
    print(json.dumps(result["summary"], indent=1))
    print(json.dumps(result["phones"], indent=1))


def print_rows(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    columns = ["kind", "clients", "target_rate", "achieved_rate", "p50_ms", "p95_ms", "p99_ms", "http_p50_ms",
               "missing", "errors", "rss_per_client_kb"]
    columns = [c for c in columns if any(c in row for row in rows)]
    print("  ".join(f"{c:>13}" for c in columns))
    for row in rows:
        print("  ".join(f"{row.get(c, '')!s:>13}" for c in columns))


def ensure_node_clients() -> None:
    """The load clients need Node.js, and its `ws` package (installed with npm if missing)."""
    installed = (ROOT / "bench" / "node_modules" / "ws").is_dir()
    missing = [tool for tool in ("node",) + (() if installed else ("npm",)) if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"{' and '.join(missing)} not found on PATH: the load clients (bench/wsclients.mjs) "
                         "need Node.js 18+ (and npm once, for `npm install --prefix bench`)")
    if not installed:
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(ROOT / "bench")], check=True)


def history_run(bench: Bench, seconds: float, steady: float) -> list[dict]:
    """200 clients at a steady rate, with 0 and with 100,000 events already recorded today."""
    from app import create_app
    from app.flow.services import services_of
    from bench.seed import seed_events

    url = bench.fresh_db("seeded")
    app = create_app({"DATABASE_URL": url})
    store = services_of(app).store
    started = time.monotonic()
    seeded = sum(seed_events(store, site, count=25_000, start=datetime.now(UTC).replace(hour=0, minute=1))
                 for site in SITES)
    store.engine.dispose()
    print(f"\nseeded {seeded} events in {time.monotonic() - started:.1f} s")
    history = bench.measure("siteflow", 200, [steady], seconds) + bench.measure("siteflow", 200, [steady], seconds,
                                                                             database_url=url)
    history[0]["events_before"], history[1]["events_before"] = 0, seeded
    return history


def redis_run(bench: Bench, redis_bin: str, seconds: float, steady: float) -> list[dict]:
    """Two processes through Redis: actions on process 1, clients on process 2."""
    redis_port = free_port()
    redis_proc = subprocess.Popen([redis_bin, "--port", str(redis_port), "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(0.5)
    queue = f"redis://127.0.0.1:{redis_port}/0"
    database_url = bench.fresh_db("redis")
    first = bench.siteflow(database_url, queue)
    second = bench.siteflow(database_url, queue)
    try:
        return bench.measure("siteflow", 200, [steady], seconds, servers=[first, second], url_for_clients=second[1])
    finally:
        os.killpg(redis_proc.pid, signal.SIGTERM)
        redis_proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--clients", default="50,200,1000", help="client counts for the latency phase")
    parser.add_argument("--only", default=",".join(PHASES), help=f"phases to run (of {','.join(PHASES)})")
    parser.add_argument("--tickets", type=int, default=2000,
                        help="phone-ticket pages connected to one site in the tickets phase")
    parser.add_argument("--merge", action="store_true",
                        help="write the phases run into bench/results/push.json, keeping its other sections")
    args = parser.parse_args()
    phases = set(args.only.split(","))
    if phases - set(PHASES):
        parser.error(f"unknown phase {', '.join(sorted(phases - set(PHASES)))}")
    ensure_node_clients()
    bench = Bench(args.quick)
    seconds = 4 if args.quick else 10
    steady = 60.0
    results = bench.results
    try:
        # 1. Latency at a steady rate for N = 50, 200, 1000, baseline and SiteFlow in the same run.
        if "latency" in phases:
            latency = []
            for n in [int(n) for n in args.clients.split(",")]:
                for kind in ("baseline", "siteflow"):
                    latency += bench.measure(kind, n, [steady], seconds, rss=True)
                    print_rows("latency", latency[-1:])
            results["latency"] = latency
        # 2. Throughput: increasing rates with 200 clients.
        rates = [60, 120, 180, 240] if args.quick else [60, 100, 150, 200, 250, 300]
        if "throughput" in phases:
            throughput = bench.measure("baseline", 200, rates, seconds) + bench.measure("siteflow", 200, rates, seconds)
            results["throughput"] = throughput
            print_rows("throughput, 200 clients", throughput)
        # 3. Phone tickets: N phones following their own ticket on one site, and the same run without them.
        if "tickets" in phases:
            results["tickets"] = {"started": datetime.now(UTC).isoformat(), "commit": git_commit(),
                                  "quick": args.quick,
                                  **tickets_run(bench, args.tickets, 6 if args.quick else 20, 4 if args.quick else 10)}
            print_tickets(results["tickets"])
        # 4. The same steady load with 100,000 events already recorded today.
        if "history" in phases:
            results["history"] = history_run(bench, seconds, steady)
            print_rows("200 clients, 0 vs 100,000 events already recorded", results["history"])
        # 5. Two processes through Redis: actions on process 1, clients on process 2.
        redis_bin = shutil.which("redis-server")
        if redis_bin and "redis" in phases:
            results["redis_two_processes"] = redis_run(bench, redis_bin, seconds, steady)
            print_rows("two processes through Redis (actions on 1, clients on 2), 200 clients",
                       results["redis_two_processes"])
    finally:
        out = ROOT / "bench" / "results"
        out.mkdir(exist_ok=True)
        name = "push.json" if phases == set(PHASES) or args.merge else "push-partial.json"
        if args.merge and (out / name).exists():  # the earlier run's other sections stay as they were
            results = dict(json.loads((out / name).read_text()), **{key: value for key, value in results.items()
                                                                    if key not in ("machine", "started")})
        (out / name).write_text(json.dumps(results, indent=2))
        print(f"\nwritten {out / name}")
        shutil.rmtree(bench.work, ignore_errors=True)


if __name__ == "__main__":
    main()
