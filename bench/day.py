"""A whole busy day replayed through the HTTP API on the demo clock, a stressed day, and the
city view over 200 sites with 14 days of history; against a bare baseline in the same run.

    pip install -e '.[test]' && npm install --prefix bench
    python bench/day.py             # the full run: about 45 minutes on 2 cores
    python bench/day.py --quick     # a smoke run: about 10 minutes
    python bench/day.py --report bench/results/day.json   # print a saved run's Markdown tables

Phases (`--phases day,stress,load,city`; every phase starts its own server on a fresh database):

- baseline: bench/baseline_server.py (a bare Flask-SocketIO app) with the same 200 WebSocket
  clients and bench/push.py's request pattern at 60 actions/s: its p50/p99 is the yardstick.
  Run before the day and stress phases.
- day: one site ("day": 4 check-in desks, 8 consent desks, 8 injection booths, 200 observation
  seats, target 2,000) and 2,000 people (`--people`) arriving with a real day's morning peak
  (ARRIVAL_WEIGHTS, 08:00-18:00), played by the demo bots (app/sim/day.py: run_day with
  app/sim/bots.py: HttpActions) through the HTTP API, with the server's clock `--speed` times
  faster (SITEFLOW_CLOCK_SPEED; the bots read the server's clock and pace their steps on it).
  200 WebSocket clients stay connected all day (displays, tablets of every station and
  supervisors: 20/60/20 %, as bench/push.py) plus a `city` view client; a city supervisor polls
  GET /reports/city/daily every 5 s. Per action: HTTP latency and action -> push latency
  (request sent -> its `delta` at the last interested staff client; for call-next also the
  `call` at every display; bench/push.py: latencies), by hour of the site's day, with the
  events recorded by then and the late-day / early-day ratio. At the end of the day:
  snapshot and dashboard read 50 times by the site's supervisor. Server RSS per idle connection
  (growth once the 200 clients have joined; on the stressed day it also holds the day the first
  joins load, so read it on the day phase or the fresh day).
- stress: a site whose day already holds 100,000 events (bench/seed.py), spread from the
  opening to now so that the last 30 minutes hold about 20,000, then push.py's open-loop person
  cycles at 60 actions/s for `--seconds` with 200 clients; the same load on a fresh day in the
  same run; snapshot and dashboard times on both.
- load: `--sustain-rate` actions/s (150) for `--sustain-seconds` (600) with 200 clients of 4 sites
  (as bench/push.py's throughput runs), with the p99 of each minute, and the baseline at the same
  rate; then 1,000 clients of 10 sites at 60 actions/s, SiteFlow and the baseline.
- city: 200 sites (`--city-sites`), each with 14 past days and today (20-40 people a day),
  read by a city supervisor: GET /reports/city/daily and the 14-day trend of every site
  (GET /reports/city/trend?days=14 if the server has it, else GET /sites/<site>/trend?days=14
  for each site), the first (cold) call and the median of later (warm) calls.

Options: --database sqlite|postgres and --queue none|redis start a throwaway PostgreSQL cluster
and redis-server (tests/support/services.py); --server-root PATH serves from another checkout
(e.g. `git worktree add /tmp/siteflow-before HEAD`) with init, tokens and seeding done by that
checkout's code (bench/day_setup.py), the load and the bots being this checkout's; --label L
writes bench/results/day-L.json and day-L.png (--quick defaults to the label "quick").

Prints a table per phase and Markdown ready for docs/PERFORMANCE.md; writes the JSON and a PNG
(push latency p50/p99 and HTTP p50 over the hours of the day, baseline p99, events recorded).
Numbers are reported, never asserted. Servers, clients, PostgreSQL and Redis are stopped and
the temp folder removed whatever happens (also on Ctrl+C or SIGTERM).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import gevent
import gevent.event
import greenlet

from app.client import SiteFlowClient
from app.sim.bots import HttpActions
from app.sim.day import DayPlan, run_day
from bench.push import (
    ROOT,
    STATIONS,
    Clients,
    Driver,
    Process,
    api_client,
    arrival_times,
    baseline_spec,
    client_spec,
    ensure_node_clients,
    free_port,
    latencies,
    percentile,
    rss_kb,
    serve_command,
)

# Arrivals per hour from 08:00 (relative): a morning peak, a lunch dip, an afternoon bump.
ARRIVAL_WEIGHTS = (6, 12, 14, 11, 8, 9, 11, 10, 7, 4)
OPENS = 8  # the day phase starts at the first full hour of the site's clock, 08:00 when on time
CLIENTS = 200
STEADY_RATE = 60.0
CITY_POLL_SECONDS = 5.0
READS = 50  # snapshot / dashboard reads timed at the end of a day
MANY_CLIENTS = 1000  # a city's screens and tablets: spread over CITY_SITES, as many as one process serves
CITY_SITES = tuple(f"site{n}" for n in range(1, 11))
JOIN_TIMEOUT = 300  # seconds for the 200 clients to connect and join (slow on a stressed day)
SITEFLOW = SimpleNamespace(kind="siteflow")  # what push.py's latencies() needs of a driver


# ---------------------------------------------------------------------------------------------
# Sites, time zones and the server's clock
# ---------------------------------------------------------------------------------------------

def zone_with_local_hour(hour: int, at: datetime) -> str:
    """A fixed-offset zone in which `at` falls in the hour `hour` (so the site's day is where we want it)."""
    offset = (hour - at.astimezone(UTC).hour) % 24
    offset = offset - 24 if offset > 11 else offset  # Etc zones go from UTC-12 to UTC+14
    if offset == 0:
        return "Etc/UTC"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # Etc/GMT-8 is UTC+8


def site_toml(template: str, site_id: str, *, zone: str, desks: dict[str, int], seats: int, target: int,
              opens: str = "08:00:00", closes: str = "18:00:00") -> str:
    """A site file derived from sites/demo.toml: its id, time zone, desks, seats, target and hours."""
    text = template.replace('id = "demo"', f'id = "{site_id}"')
    text = re.sub(r'^timezone = ".*"', f'timezone = "{zone}"', text, flags=re.M)
    text = re.sub(r"^daily_target = \d+", f"daily_target = {target}", text, flags=re.M)
    text = re.sub(r"^seats = \d+", f"seats = {seats}", text, flags=re.M)
    text = re.sub(r"^opens = \S+", f"opens = {opens}", text, flags=re.M)
    text = re.sub(r"^closes = \S+", f"closes = {closes}", text, flags=re.M)
    for station, count in desks.items():
        names = ", ".join(f'"{n}"' for n in range(1, count + 1))
        text, found = re.subn(rf"(\[stations\.{station}\]\ndesks = )\[[^\]]*\]", rf"\g<1>[{names}]", text)
        if not found:
            raise RuntimeError(f"sites/demo.toml has no [stations.{station}] desks line to change")
    return text


class ServerClock:
    """The server's clock, read once over HTTP (the snapshot's `at`) and then run here at its speed.

    The server's SITEFLOW_CLOCK_SPEED clock starts when its process starts, so a clock made
    here would be off by the speed times the start-up difference: the bots read the server's."""

    def __init__(self, url: str, token: str, site: str, speed: float):
        # The reading with the shortest round trip: at x60, 10 ms of doubt is 0.6 s of the site's time.
        with api_client(url, token) as api:
            started, at, ended = min((self._read(api, site) for _ in range(5)), key=lambda r: r[2] - r[0])
        self.origin, self.origin_real, self.speed = datetime.fromisoformat(at), (started + ended) / 2, speed

    @staticmethod
    def _read(api: SiteFlowClient, site: str) -> tuple[float, str, float]:
        started = time.time()
        snapshot = api.get(f"/sites/{site}/snapshot")
        if snapshot.status == 200 and "at" in snapshot.json:
            return started, snapshot.json["at"], time.time()
        started = time.time()  # the pages carry it too (templates/base.html)
        found = re.search(r'data-server-now="([^"]+)"', api.request("GET", "/login").text)
        if not found:
            raise RuntimeError(f"cannot read the server's clock (snapshot: {snapshot.status} {snapshot.json})")
        return started, found.group(1), time.time()

    def at(self, real: float) -> datetime:
        return self.origin + timedelta(seconds=(real - self.origin_real) * self.speed)

    def now(self) -> datetime:
        return self.at(time.time())

    def sleep_until(self, moment: datetime) -> None:
        gevent.sleep(max(0.0, (moment - self.now()).total_seconds() / self.speed))


# ---------------------------------------------------------------------------------------------
# The harness: work folder, databases, Redis, servers and clients, all stopped on close
# ---------------------------------------------------------------------------------------------

class Databases:
    """Fresh databases: SQLite files in the work folder, or databases on a throwaway PostgreSQL."""

    def __init__(self, kind: str, work: Path):
        self.kind, self.work, self.cluster, self.factory = kind, work, None, None
        if kind == "postgres":
            from tests.support.services import PostgresCluster, PostgresDatabaseFactory, find_postgres_bindir

            bindir = find_postgres_bindir()
            if bindir is None:
                raise SystemExit("--database postgres: no initdb/postgres found (apt-get install postgresql)")
            self.cluster = PostgresCluster(bindir)
            self.factory = PostgresDatabaseFactory(self.cluster.start())

    def fresh(self, name: str) -> str:
        return self.factory() if self.factory else f"sqlite:///{self.work / f'{name}.db'}"

    def close(self) -> None:
        if self.cluster:
            self.cluster.close()


def start_redis():
    from tests.support.services import RedisServer, find_redis_server

    binary = find_redis_server()
    if binary is None:
        raise SystemExit("--queue redis: redis-server not found (apt-get install redis-server)")
    return RedisServer(binary).start()


@dataclass
class Prepared:
    """A database initialised with a phase's sites, with its tokens and what was seeded."""

    name: str
    database_url: str
    sites_dir: Path
    tokens: dict
    answer: dict


class Harness:
    """The work folder and what runs for a bench: everything it starts is stopped by close()."""

    def __init__(self, args):
        self.code_root = Path(args.server_root).resolve() if args.server_root else ROOT
        self.template = (self.code_root / "sites" / "demo.toml").read_text()
        self.admin_password = f"Bench-{random.randrange(10**12)}"
        self.app_package = None  # where the measured code's `app` was imported from (bench/day_setup.py)
        self.queue_url = None
        self.stack = contextlib.ExitStack()
        self.work = Path(tempfile.mkdtemp(prefix="siteflow-day-"))
        self.stack.callback(shutil.rmtree, self.work, ignore_errors=True)
        try:
            self.databases = Databases(args.database, self.work)
            self.stack.callback(self.databases.close)
            if args.queue == "redis":
                redis = start_redis()
                self.stack.callback(redis.close)
                self.queue_url = redis.url
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self.stack.close()

    def env(self, sites_dir: Path, database_url: str, speed: float = 1) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in ("SOCKETIO_MESSAGE_QUEUE", "SITEFLOW_REDIS_URL")}
        env.update(DATABASE_URL=database_url, SITEFLOW_SITES=str(sites_dir), PYTHONPATH=str(self.code_root),
                   SITEFLOW_INSTANCE_PATH=str(self.work / "instance"), SITEFLOW_ADMIN_PASSWORD=self.admin_password,
                   SITEFLOW_ENV="development", SITEFLOW_CLOCK_SPEED=f"{speed:g}")
        if self.queue_url:
            env["SOCKETIO_MESSAGE_QUEUE"] = self.queue_url
        return env

    def prepare(self, name: str, sites: dict[str, str], tokens: dict, seed: list | None = None,
                recent_since: datetime | None = None) -> Prepared:
        """Write the site files, make a database, `init` it and make tokens (and seed) with the measured code."""
        sites_dir = self.work / name / "sites"
        sites_dir.mkdir(parents=True)
        for site_id, text in sites.items():
            (sites_dir / f"{site_id}.toml").write_text(text)
        database_url = self.databases.fresh(name)
        env = self.env(sites_dir, database_url)
        self._run([sys.executable, "-m", "app.entry", "init"], env, self.work / name / "init.log")
        request, answer = self.work / name / "setup.json", self.work / name / "answer.json"
        request.write_text(json.dumps({"tokens": tokens, "seed": seed or [],
                                       "recent_since": recent_since.isoformat() if recent_since else None}))
        self._run([sys.executable, str(ROOT / "bench" / "day_setup.py"), str(request), str(answer)], env,
                  self.work / name / "setup.log")
        result = json.loads(answer.read_text())
        self.app_package = result["app"]
        return Prepared(name, database_url, sites_dir, result["tokens"], result)

    def _run(self, command: list[str], env: dict, log: Path) -> None:
        with open(log, "w") as out:
            done = subprocess.run(command, cwd=self.code_root, env=env, stdout=out, stderr=subprocess.STDOUT)
        if done.returncode:
            raise RuntimeError(f"{' '.join(command[-2:])} failed:\n{log.read_text()[-3000:]}")

    def siteflow(self, prepared: Prepared, speed: float = 1) -> tuple[Process, str]:
        port = free_port()
        server = Process(serve_command(port),
                         self.env(prepared.sites_dir, prepared.database_url, speed),
                         self.work / f"server-{prepared.name}-{port}.log", "running at", cwd=self.code_root)
        self.stack.callback(server.stop)
        return server, f"http://127.0.0.1:{port}"

    def baseline(self) -> tuple[Process, str]:
        port = free_port()
        server = Process([sys.executable, str(ROOT / "bench" / "baseline_server.py"), str(port)], dict(os.environ),
                         self.work / f"baseline-{port}.log", "running at")
        self.stack.callback(server.stop)
        return server, f"http://127.0.0.1:{port}"

    def clients(self, url: str, spec: list[dict]) -> Clients:
        folder = Path(tempfile.mkdtemp(prefix="clients-", dir=self.work))
        clients = Clients(url, spec, folder, timeout=JOIN_TIMEOUT)
        self.stack.callback(lambda: [proc.stop() for _, proc, _ in clients.parts])
        return clients

    def describe(self) -> dict:
        def git(*args: str) -> str:
            done = subprocess.run(["git", "-C", str(self.code_root), *args], capture_output=True, text=True)
            return done.stdout.strip()

        return {"server_root": str(self.code_root), "commit": git("rev-parse", "--short", "HEAD"),
                "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no"))}


def site_tokens(site: str) -> dict:
    """Token requests for a site's clients: display, supervisor and each station."""
    wanted = {f"{site}:display": {"role": "display", "site": site},
              f"{site}:supervisor": {"role": "site_supervisor", "site": site}}
    wanted.update({f"{site}:{station}": {"role": "station", "site": site, "station": station} for station in STATIONS})
    return wanted


def by_site(tokens: dict) -> dict:
    """{"site:kind": token} -> {site: {kind: token}}, the shape bench/push.py's client_spec takes."""
    nested: dict = {}
    for key, token in tokens.items():
        if ":" in key:
            site, kind = key.split(":", 1)
            nested.setdefault(site, {})[kind] = token
    return nested


ADMIN = {"admin": {"role": "admin"}, "city": {"role": "city_supervisor"}}


def connect_clients(harness: Harness, server: Process, url: str, spec: list[dict]) -> tuple[Clients, dict]:
    """Connect the clients: how long they took to join, the server's RSS growth per client (KB) once idle."""
    before, started = rss_kb(server.pid), time.monotonic()
    clients = harness.clients(url, spec)
    joined = time.monotonic() - started
    gevent.sleep(1.0)
    return clients, {"join_seconds": round(joined, 1), "rss_per_client_kb": round((rss_kb(server.pid) - before) / len(spec), 1)}


def time_reads(url: str, token: str, path: str, n: int) -> dict:
    """Read `path` n times in a row: the first (cold) call, then the median and p95 of all."""
    times, errors = [], 0
    with api_client(url, token) as api:
        for _ in range(n):
            started = time.perf_counter()
            status = api.get(path).status
            times.append((time.perf_counter() - started) * 1000)
            errors += status != 200
    return {"calls": n, "first_ms": round(times[0], 1), "p50_ms": round(percentile(times, 50), 1),
            "p95_ms": round(percentile(times, 95), 1), "errors": errors}


# ---------------------------------------------------------------------------------------------
# Baseline and steady load (bench/push.py's Driver)
# ---------------------------------------------------------------------------------------------

def steady_load(harness: Harness, kind: str, seconds: float, prepared: Prepared | None = None,
                sites: tuple[str, ...] = ("stress",), rate: float = STEADY_RATE, clients: int = CLIENTS,
                minutes: bool = False) -> dict:
    """push.py's open-loop person cycles at `rate` actions/s for `seconds`, spread over `sites`,
    with `clients` clients spread over their rooms; with `minutes`, also the p99 of each minute."""
    if kind == "baseline":
        server, url = harness.baseline()
        rooms = {site: dict.fromkeys(("display", "supervisor", *STATIONS), "") for site in sites}
        spec, kinds = client_spec(clients, rooms, sites)
        spec, driver = baseline_spec(kinds), Driver("baseline", url, sites=sites)
    else:
        server, url = harness.siteflow(prepared)
        spec, kinds = client_spec(clients, by_site(prepared.tokens), sites)
        driver = Driver("siteflow", url, prepared.tokens["admin"], sites=sites)
    try:
        connected, joining = connect_clients(harness, server, url, spec)
        achieved = driver.run(rate, seconds)
        gevent.sleep(1.0)
        reads = {}
        if kind != "baseline":
            supervisor = prepared.tokens[f"{sites[0]}:supervisor"]
            reads = {name: time_reads(url, supervisor, f"/sites/{sites[0]}/{name}", READS)
                     for name in ("snapshot", "dashboard")}
        records = connected.collect()
        row = latencies(driver, records, kinds)
        if minutes:
            row["minute_p99_ms"] = per_minute_p99(driver, records, kinds)
    finally:
        driver.close()
        server.stop()
    return {"kind": kind, "clients": clients, "target_rate": rate, "achieved_rate": round(achieved, 1),
            "errors": driver.errors, **joining, **row, "reads": reads}


def per_minute_p99(driver: Driver, records, kinds) -> list[float]:
    """The push p99 of each minute of a run (sustained load: does it hold, or drift?)."""
    start = driver.actions[0]["t0"] if driver.actions else 0.0
    by_minute: dict[int, list[dict]] = {}
    for action in driver.actions:
        by_minute.setdefault(int((action["t0"] - start) // 60), []).append(action)
    arrivals = arrival_times(records)
    return [latencies(driver, records, kinds, actions=actions, arrivals=arrivals)["p99_ms"]
            for _, actions in sorted(by_minute.items())]


def run_baseline(harness: Harness, seconds: float) -> dict:
    row = steady_load(harness, "baseline", seconds)
    print_table(f"baseline: bare Flask-SocketIO, {CLIENTS} clients, {STEADY_RATE:g} actions/s", [row],
                ["achieved_rate", "p50_ms", "p95_ms", "p99_ms", "http_p50_ms", "missing"])
    return row


# ---------------------------------------------------------------------------------------------
# Phase 1: the busy day
# ---------------------------------------------------------------------------------------------

class DayRecorder:
    """HttpActions' `observe`: every call of the bots, with the site's hour it was sent in."""

    def __init__(self, clock: ServerClock, zone: ZoneInfo):
        self.clock, self.zone = clock, zone
        self.actions: list[dict] = []

    def __call__(self, path: str, status: int, answer, t0: float, t1: float) -> None:
        seq = answer.get("seq") if isinstance(answer, dict) else None
        self.actions.append({"site": "day", "real_site": "day", "seq": seq, "t0": t0, "t1": t1, "status": status,
                             "display": path.endswith("/call-next"), "path": path,
                             "hour": self.clock.at(t0).astimezone(self.zone).hour})


class Pacer:
    """run_day's `advance`: a step ends when the server's clock reaches its end. A slow server
    makes the bots run late against the clock (they then go on without sleeping); no drift."""

    def __init__(self, clock: ServerClock, start: datetime):
        self.clock, self.next = clock, start

    def __call__(self, delta: timedelta) -> None:
        self.next += delta
        self.clock.sleep_until(self.next)


def poll_city(url: str, token: str, clock: ServerClock, zone: ZoneInfo, stop: gevent.event.Event,
              samples: list) -> None:
    """A city supervisor's overview, refreshed every few seconds."""
    with api_client(url, token) as api:
        while not stop.is_set():
            started = time.time()
            status = api.get("/reports/city/daily").status
            samples.append({"hour": clock.at(started).astimezone(zone).hour, "status": status,
                            "ms": (time.time() - started) * 1000})
            stop.wait(CITY_POLL_SECONDS)


def day_plan(people: int, speed: float) -> DayPlan:
    # Steps of at least 0.25 s of real time: idle desks call every step (204 when nobody waits).
    return DayPlan(people=people, hours=len(ARRIVAL_WEIGHTS), step_minutes=max(0.25, speed / 240), seed=1,
                   consent_minutes=1.5, injection_minutes=1.2, arrival_weights=ARRIVAL_WEIGHTS)


def prepare_day(harness: Harness, speed: float, people: int) -> tuple[Prepared, str]:
    # The server's clock starts with its process (in ~10 s), then runs `speed` times faster while the
    # clients connect: pick the zone in which it starts 30 to 90 minutes before the opening.
    starts = datetime.now(UTC) + timedelta(seconds=10)
    zone = zone_with_local_hour(OPENS - 1 if starts.minute < 30 else OPENS - 2, starts)
    toml = site_toml(harness.template, "day", zone=zone, desks={"checkin": 4, "consent": 8, "injection": 8},
                     seats=200, target=max(people, 1))
    return harness.prepare("day", {"day": toml}, {**ADMIN, **site_tokens("day")}), zone


def run_day_phase(harness: Harness, args, baseline: dict | None) -> dict:
    prepared, zone_name = prepare_day(harness, args.speed, args.people)
    zone, tokens = ZoneInfo(zone_name), prepared.tokens
    server, url = harness.siteflow(prepared, speed=args.speed)
    try:
        clock = ServerClock(url, tokens["admin"], "day", args.speed)
        spec, kinds = client_spec(CLIENTS, by_site(tokens), ("day",))
        spec.append({"auth": {"token": tokens["admin"]}, "join": {"view": "city"}, "group": "city"})
        kinds.append(("*", "city"))
        clients, joining = connect_clients(harness, server, url, spec)
        local = clock.now().astimezone(zone)
        opening = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        print(f"\nday: the site's clock is at {local:%H:%M} ({zone_name}, x{args.speed:g}); the day starts at "
              f"{opening:%H:%M}, {args.people} people")
        clock.sleep_until(opening)
        recorder, polls, stop = DayRecorder(clock, zone), [], gevent.event.Event()
        poller = gevent.spawn(poll_city, url, tokens["city"], clock, zone, stop, polls)
        bots = HttpActions(api_client(url, tokens["admin"], timeout=60), "day", clock, observe=recorder)
        started = time.monotonic()
        try:
            outcome = run_day(bots, day_plan(args.people, args.speed), advance=Pacer(clock, opening))
        finally:
            bots.close()
        wall = time.monotonic() - started
        stop.set()
        poller.join(timeout=30)
        closing = clock.now().astimezone(zone)
        reads = {name: time_reads(url, tokens["day:supervisor"], f"/sites/day/{name}", READS)
                 for name in ("snapshot", "dashboard")}
        gevent.sleep(1.0)
        records = clients.collect()
    finally:
        server.stop()
    result = summarise_day(recorder.actions, polls, records, kinds, opening.hour)
    result.update(people=args.people, speed=args.speed, zone=zone_name, opened=opening.isoformat(),
                  closed=closing.isoformat(), wall_seconds=round(wall), **joining,
                  checked_in=outcome.checked_in, released=outcome.released, bot_actions=outcome.actions,
                  refused=outcome.refused, end_of_day_reads=reads)
    if baseline:
        result["p99_over_baseline_p99"] = ratios(result["whole_day"], baseline, ("p99_ms",))["p99_ms"]
    print_day(result)
    return result


def summarise_day(actions: list[dict], polls: list[dict], records, kinds, opening_hour: int) -> dict:
    arrivals = arrival_times(records)
    recorded = [a for a in actions if a["seq"] is not None]  # the actions that recorded an event

    def stats(chosen: list[dict]) -> dict:
        return latencies(SITEFLOW, records, kinds, actions=chosen, arrivals=arrivals)

    hours, events = [], 0
    for hour in sorted({a["hour"] for a in actions}, key=lambda h: (h - opening_hour) % 24):
        of_hour = [a for a in actions if a["hour"] == hour]
        events = max([events] + [a["seq"] for a in of_hour if a["seq"] is not None])
        city = [p["ms"] for p in polls if p["hour"] == hour]
        hours.append({"hour": f"{hour:02d}:00", **stats([a for a in of_hour if a["seq"] is not None]),
                      "polls_204": sum(a["status"] == 204 for a in of_hour),
                      "refused": sum(a["status"] >= 400 or a["status"] == 0 for a in of_hour),
                      "events_by_end": events,
                      "city_poll_p50_ms": round(percentile(city, 50), 1) if city else None})
    early = {(opening_hour + i) % 24 for i in (0, 1)}
    late = {(opening_hour + len(ARRIVAL_WEIGHTS) - i) % 24 for i in (1, 2)}
    first, last = stats([a for a in recorded if a["hour"] in early]), stats([a for a in recorded if a["hour"] in late])
    ratio = ratios(last, first, ("p50_ms", "p99_ms", "http_p50_ms", "http_p99_ms"))
    refusals = Counter(a["path"].rsplit("/", 1)[-1] or "site" for a in actions if a["status"] >= 400 or not a["status"])
    return {"hours": hours, "whole_day": stats(recorded), "early": first, "late": last, "late_over_early": ratio,
            "refusals_by_action": dict(refusals),
            "early_hours": sorted(f"{h:02d}" for h in early), "late_hours": sorted(f"{h:02d}" for h in late),
            "city_polls": {"count": len(polls), "errors": sum(p["status"] != 200 for p in polls),
                           "p50_ms": round(percentile([p["ms"] for p in polls], 50), 1)}}


# ---------------------------------------------------------------------------------------------
# Phase 2: the stressed day
# ---------------------------------------------------------------------------------------------

def prepare_stress(harness: Harness, name: str, events: int, sites: tuple[str, ...] = ("stress",)) -> Prepared:
    """Sites of 30 consent and injection desks (as bench/push.py's Driver uses); the first with
    `events` seeded from the opening (2.5 hours ago) to now."""
    now = datetime.now(UTC)
    opened = now - timedelta(minutes=150)
    zone = zone_with_local_hour(10, now)
    tomls = {site: site_toml(harness.template, site, zone=zone, desks={"consent": 30, "injection": 30}, seats=5000,
                             target=20000, opens=f"{opened.astimezone(ZoneInfo(zone)):%H:%M}:00") for site in sites}
    tokens = {**ADMIN, **{key: value for site in sites for key, value in site_tokens(site).items()}}
    seed = [{"site": sites[0], "days": [{"start": opened.isoformat(), "count": events, "until": now.isoformat()}]}]
    return harness.prepare(name, tomls, tokens, seed=seed if events else None,
                           recent_since=now - timedelta(minutes=30) if events else None)


def run_stress_phase(harness: Harness, args, baseline: dict | None) -> dict:
    rows = []
    for name, events in (("fresh", 0), ("stressed", args.events)):
        started = time.monotonic()
        prepared = prepare_stress(harness, name, events)
        seeded = prepared.answer.get("seeded", {}).get("stress", 0)
        if events:
            print(f"\nstress: seeded {seeded} events ({prepared.answer['recent']['stress']} in the last 30 min) "
                  f"in {time.monotonic() - started:.0f} s")
        try:
            row = steady_load(harness, "siteflow", args.seconds, prepared)
        except RuntimeError as exc:  # e.g. the clients could not all join in JOIN_TIMEOUT: a result too
            row = {"kind": "siteflow", "error": str(exc)[-500:]}
            print(f"stress ({name}) failed: {row['error']}")
        row.update(day=name, events_before=seeded, events_last_30_min=prepared.answer.get("recent", {}).get("stress", 0))
        rows.append(row)
    fresh, stressed = rows
    result = {"rows": rows, "stressed_over_fresh": ratios(stressed, fresh, ("p50_ms", "p95_ms", "p99_ms", "http_p50_ms"))}
    if baseline and "p99_ms" in baseline:
        result["p99_over_baseline_p99"] = {row["day"]: ratios(row, baseline, ("p99_ms",))["p99_ms"] for row in rows}
    print_stress(result)
    return result


def ratios(numerator: dict, denominator: dict, keys) -> dict:
    """numerator[key] / denominator[key] for each key, None where either is missing (a failed run)."""
    return {key: round(numerator[key] / denominator[key], 2) if numerator.get(key) and denominator.get(key) else None
            for key in keys}


# ---------------------------------------------------------------------------------------------
# Phase 3: sustained load and many clients
# ---------------------------------------------------------------------------------------------

def run_load_phase(harness: Harness, args, baseline: dict | None) -> dict:
    """`--sustain-rate` actions/s for `--sustain-seconds` with 200 clients of 4 sites (as
    bench/push.py's throughput runs; does the p99 hold?) against the baseline at the same rate
    for `--seconds`; and 1,000 clients of 10 sites at 60 actions/s against the baseline with
    as many."""
    sites = CITY_SITES[:4]
    sustained = steady_load(harness, "siteflow", args.sustain_seconds, prepare_stress(harness, "sustain", 0, sites),
                            sites=sites, rate=args.sustain_rate, minutes=True)
    sustained_baseline = steady_load(harness, "baseline", args.seconds, sites=sites, rate=args.sustain_rate)
    many = {kind: steady_load(harness, kind, args.seconds, prepare_stress(harness, f"many-{kind}", 0, CITY_SITES)
                              if kind == "siteflow" else None, sites=CITY_SITES, clients=MANY_CLIENTS)
            for kind in ("baseline", "siteflow")}
    result = {"sustained": sustained, "sustained_baseline": sustained_baseline, "many_clients": many,
              "sustained_p99_over_baseline_p99": ratios(sustained, sustained_baseline, ("p99_ms",))["p99_ms"],
              "many_p99_over_baseline_p99": ratios(many["siteflow"], many["baseline"], ("p99_ms",))["p99_ms"]}
    rows = [dict(sustained, run="sustained"), dict(sustained_baseline, run="sustained, baseline"),
            *(dict(row, run=f"{kind}, {MANY_CLIENTS}") for kind, row in many.items())]
    print_table(f"load: {args.sustain_rate:g} actions/s for {args.sustain_seconds:g} s, {CLIENTS} clients of "
                f"{len(sites)} sites; {MANY_CLIENTS} clients of {len(CITY_SITES)} sites at {STEADY_RATE:g} actions/s",
                rows, ["run", "clients", "target_rate", "achieved_rate", "p50_ms", "p95_ms", "p99_ms", "http_p50_ms",
                       "missing", "errors", "rss_per_client_kb"])
    print(f"  sustained: p99 of each minute {sustained.get('minute_p99_ms')}")
    return result


# ---------------------------------------------------------------------------------------------
# Phase 4: the city view
# ---------------------------------------------------------------------------------------------

def city_history(site_index: int, zone: ZoneInfo, now: datetime, days: int = 14) -> list[dict]:
    """14 past days of 20-40 people (08:00-17:00) and today's, from 08:00 to now."""
    rng = random.Random(site_index)
    today = now.astimezone(zone).date()
    history = []
    for back in range(days, -1, -1):
        day = today - timedelta(days=back)
        opens = datetime(day.year, day.month, day.day, 8, tzinfo=zone)
        until = min(opens.replace(hour=17), now - timedelta(minutes=1))
        people = rng.randint(20, 40) if back else rng.randint(10, 20)
        history.append({"start": opens.isoformat(), "count": people * 6, "until": until.isoformat()})
    return history


def run_city_phase(harness: Harness, args) -> dict:
    now = datetime.now(UTC)
    zone_name = zone_with_local_hour(14, now)
    zone = ZoneInfo(zone_name)
    sites = {f"city{n:03d}": site_toml(harness.template, f"city{n:03d}", zone=zone_name, desks={}, seats=60,
                                       target=40) for n in range(1, args.city_sites + 1)}
    seed = [{"site": site, "seed": n, "days": city_history(n, zone, now)} for n, site in enumerate(sites, 1)]
    started = time.monotonic()
    prepared = harness.prepare("city", sites, ADMIN, seed=seed)
    print(f"\ncity: {len(sites)} sites, {sum(prepared.answer['seeded'].values())} events seeded "
          f"(14 days and today) in {time.monotonic() - started:.0f} s")
    server, url = harness.siteflow(prepared)
    token, warm = prepared.tokens["city"], 3 if args.quick else 5
    try:
        with api_client(url, token) as api:
            api.request("GET", "/healthz")
            daily = [timed(api, "/reports/city/daily") for _ in range(1 + warm)]
            status = api.get("/reports/city/trend", days=1).status
            if status == 200:
                how = "GET /reports/city/trend?days=14"
                trend = [timed(api, "/reports/city/trend?days=14") for _ in range(1 + warm)]
            else:
                how = f"GET /sites/<site>/trend?days=14 for each of the {len(sites)} sites (no city trend: {status})"
                trend = [sum_of(timed(api, f"/sites/{site}/trend?days=14") for site in sites)
                         for _ in range(1 + min(warm, 2))]
    finally:
        server.stop()
    result = {"sites": len(sites), "events": sum(prepared.answer["seeded"].values()), "trend_how": how,
              "city_daily": cold_warm(daily), "trend_14_days": cold_warm(trend)}
    print_city(result)
    return result


def timed(api: SiteFlowClient, path: str) -> tuple[float, int]:
    started = time.perf_counter()
    status = api.get(path).status
    return (time.perf_counter() - started) * 1000, status


def sum_of(calls) -> tuple[float, int]:
    calls = list(calls)
    return sum(ms for ms, _ in calls), max(status for _, status in calls)


def cold_warm(calls: list[tuple[float, int]]) -> dict:
    return {"cold_ms": round(calls[0][0], 1), "warm_median_ms": round(percentile([ms for ms, _ in calls[1:]], 50), 1),
            "warm_calls": len(calls) - 1, "errors": sum(status != 200 for _, status in calls)}


# ---------------------------------------------------------------------------------------------
# Output: tables, Markdown, JSON and the plot
# ---------------------------------------------------------------------------------------------

def print_table(title: str, rows: list[dict], columns: list[str]) -> None:
    print(f"\n{title}")
    print("  ".join(f"{c:>15}" for c in columns))
    for row in rows:
        print("  ".join(f"{row.get(c, '')!s:>15}" for c in columns))


def print_day(day: dict) -> None:
    print_table(f"day: {day['people']} people, clock x{day['speed']:g}, {day['wall_seconds']} s; action -> push by "
                "hour of the site's day (actions that recorded an event)", day["hours"],
                ["hour", "actions", "p50_ms", "p95_ms", "p99_ms", "http_p50_ms", "http_p99_ms", "events_by_end",
                 "polls_204", "refused", "missing", "city_poll_p50_ms"])
    print(f"late ({'+'.join(day['late_hours'])}h) / early ({'+'.join(day['early_hours'])}h): {day['late_over_early']}")
    print(f"end of day reads: {day['end_of_day_reads']}; RSS per idle connection: {day['rss_per_client_kb']} KB; "
          f"checked in {day['checked_in']}, released {day['released']}, refused {day['refusals_by_action']}")


def print_stress(stress: dict) -> None:
    print_table(f"stress: {CLIENTS} clients, {STEADY_RATE:g} actions/s", stress["rows"],
                ["day", "events_before", "events_last_30_min", "achieved_rate", "p50_ms", "p95_ms", "p99_ms",
                 "http_p50_ms", "missing", "errors", "join_seconds", "rss_per_client_kb"])
    for row in stress["rows"]:
        if "reads" in row:
            print(f"  {row['day']}: snapshot {row['reads']['snapshot']}, dashboard {row['reads']['dashboard']}")
    print(f"stressed / fresh: {stress['stressed_over_fresh']}")


def print_city(city: dict) -> None:
    print(f"city ({city['sites']} sites, {city['events']} events): daily {city['city_daily']}; "
          f"14-day trend ({city['trend_how']}): {city['trend_14_days']}")


def markdown(results: dict) -> str:
    """The tables for docs/PERFORMANCE.md."""
    server = results["server"]
    out = [f"`python bench/day.py{' --quick' if results.get('quick') else ''}` ({results['database']}, queue "
           f"{results['queue']}, server {server['commit']}{' + uncommitted changes' if server['uncommitted_changes'] else ''}"
           f", {results['started'][:10]})"]
    for phase, render in (("baseline", markdown_baseline), ("day", markdown_day), ("stress", markdown_stress),
                          ("load", markdown_load), ("city", markdown_city)):
        if results.get(phase):
            out += [""] + ([f"**{phase}: failed** — {results[phase]['error'].splitlines()[0]}"]
                           if "error" in results[phase] else render(results[phase]))
    return "\n".join(out)


def markdown_baseline(base: dict) -> list[str]:
    return [f"Baseline (bare Flask-SocketIO, {CLIENTS} clients, {STEADY_RATE:g} actions/s): "
            f"p50 {base['p50_ms']} ms, p99 {base['p99_ms']} ms."]


def markdown_day(day: dict) -> list[str]:
    out = [f"**The busy day** ({day['people']} people, clock ×{day['speed']:g}, {CLIENTS} clients + city view):", "",
           "| hour | actions | push p50 / p95 / p99 (ms) | HTTP p50 / p99 (ms) | events by then |", "|---|---:|---|---|---:|"]
    out += [f"| {h['hour']} | {h['actions']} | {h['p50_ms']} / {h['p95_ms']} / {h['p99_ms']} | "
            f"{h['http_p50_ms']} / {h['http_p99_ms']} | {h['events_by_end']:,} |" for h in day["hours"]]
    r, reads = day["late_over_early"], day["end_of_day_reads"]
    versus = day.get("p99_over_baseline_p99")
    return out + ["", f"Late / early ({'+'.join(day['late_hours'])}h against {'+'.join(day['early_hours'])}h): "
                      f"push p50 ×{r['p50_ms']}, p99 ×{r['p99_ms']}, HTTP p50 ×{r['http_p50_ms']}. "
                      f"Whole day p99 {day['whole_day']['p99_ms']} ms" + (f" ({versus}× the baseline's)" if versus else "")
                  + f". End of day: snapshot {reads['snapshot']['p50_ms']} / {reads['snapshot']['p95_ms']} ms, "
                    f"dashboard {reads['dashboard']['p50_ms']} / {reads['dashboard']['p95_ms']} ms (median / p95). "
                    f"Server RSS per idle connection: {day['rss_per_client_kb']} KB."]


def markdown_stress(stress: dict) -> list[str]:
    out = [f"**The stressed day** ({CLIENTS} clients, {STEADY_RATE:g} actions/s):", "",
           "| day | events before (last 30 min) | clients joined in | push p50 / p95 / p99 (ms) | HTTP p50 | "
           "snapshot p50 / p95 | dashboard p50 / p95 |", "|---|---|---:|---|---:|---|---|"]
    for row in stress["rows"]:
        events = f"| {row['day']} | {row['events_before']:,} ({row['events_last_30_min']:,}) |"
        if "error" in row:
            out.append(f"{events} failed: {row['error'].splitlines()[-1][:200]} | | | | |")
            continue
        s, d = row["reads"]["snapshot"], row["reads"]["dashboard"]
        out.append(f"{events} {row.get('join_seconds', '?')} s | {row['p50_ms']} / {row['p95_ms']} / {row['p99_ms']} | "
                   f"{row['http_p50_ms']} | {s['p50_ms']} / {s['p95_ms']} | {d['p50_ms']} / {d['p95_ms']} |")
    r = stress["stressed_over_fresh"]
    return out + ["", f"Stressed / fresh: p50 ×{r['p50_ms']}, p99 ×{r['p99_ms']}, HTTP p50 ×{r['http_p50_ms']}."]


def markdown_load(load: dict) -> list[str]:
    rows = [("sustained, 4 sites", load["sustained"]), ("baseline, the same rate", load["sustained_baseline"]),
            *((f"{kind}, {MANY_CLIENTS} clients of {len(CITY_SITES)} sites", row)
              for kind, row in load["many_clients"].items())]
    out = ["**Sustained load and many clients:**", "",
           "| run | clients | actions/s (achieved) | push p50 / p95 / p99 (ms) | HTTP p50 | RSS per idle client |",
           "|---|---:|---|---|---:|---:|"]
    for name, row in rows:
        if "error" in row:
            out.append(f"| {name} | failed: {row['error'].splitlines()[-1][:200]} | | | | |")
            continue
        out.append(f"| {name} | {row['clients']} | {row['target_rate']:g} ({row['achieved_rate']}) | {row['p50_ms']} / "
                   f"{row['p95_ms']} / {row['p99_ms']} | {row['http_p50_ms']} | {row['rss_per_client_kb']} KB |")
    minutes = load["sustained"].get("minute_p99_ms") or []
    return out + ["", f"Sustained: the p99 of each minute ranged {min(minutes, default='?')}–{max(minutes, default='?')} ms"
                      f" (×{load['sustained_p99_over_baseline_p99']} the baseline's p99 at the same rate). "
                      f"{MANY_CLIENTS} clients: SiteFlow's p99 is ×{load['many_p99_over_baseline_p99']} the baseline's."]


def markdown_city(city: dict) -> list[str]:
    daily, trend = city["city_daily"], city["trend_14_days"]
    return [f"**The city view** ({city['sites']} sites, 14 days and today, {city['events']:,} events), "
            "as the city supervisor:", "", "| read | cold | warm (median) |", "|---|---:|---:|",
            f"| GET /reports/city/daily | {daily['cold_ms']} ms | {daily['warm_median_ms']} ms |",
            f"| 14-day trend: {city['trend_how']} | {trend['cold_ms']} ms | {trend['warm_median_ms']} ms |"]


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = results["day"]["hours"]
    x = [h["hour"] for h in hours]
    fig, ax = plt.subplots(figsize=(10, 5))
    ax.plot(x, [h["p50_ms"] for h in hours], "o-", label="action → push p50")
    ax.plot(x, [h["p99_ms"] for h in hours], "o-", label="action → push p99")
    ax.plot(x, [h["http_p50_ms"] for h in hours], "s--", label="HTTP p50")
    if "p99_ms" in (results.get("baseline") or {}):
        ax.axhline(results["baseline"]["p99_ms"], color="grey", linestyle=":", label="baseline p99")
    ax.set_xlabel("hour of the site's day")
    ax.set_ylabel("ms")
    ax.set_ylim(bottom=0)
    events = ax.twinx()
    events.bar(x, [h["events_by_end"] for h in hours], alpha=0.15, color="black", label="events recorded")
    events.set_ylabel("events recorded by the end of the hour")
    lines, labels = ax.get_legend_handles_labels()
    more, more_labels = events.get_legend_handles_labels()
    ax.legend(lines + more, labels + more_labels, loc="upper left")
    day = results["day"]
    server = results["server"]
    ax.set_title(f"A busy day: {day['people']} people, {CLIENTS} clients, clock ×{day['speed']:g} "
                 f"({server['commit']}{' + changes' if server['uncommitted_changes'] else ''}, {results['database']}"
                 f"{', redis' if results['queue'] == 'redis' else ''})")
    ax.set_zorder(events.get_zorder() + 1)
    ax.patch.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_results(results: dict, label: str | None) -> None:
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    stem = f"day-{label}" if label else "day"
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2))
    print(f"\nwritten {out / f'{stem}.json'}")
    if "hours" in (results.get("day") or {}):
        plot(results, out / f"{stem}.png")
        print(f"written {out / f'{stem}.png'}")


# ---------------------------------------------------------------------------------------------

def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="500 people at x120, 30 s phases, 50 city sites")
    parser.add_argument("--speed", type=float, help="the server's clock speed in the day phase (60; quick 120)")
    parser.add_argument("--people", type=int, help="people in the day (2000; quick 500)")
    parser.add_argument("--seconds", type=float, help="length of each steady-load run (60; quick 30)")
    parser.add_argument("--events", type=int, default=100_000, help="events already recorded on the stressed day")
    parser.add_argument("--city-sites", type=int, help="sites in the city phase (200; quick 50)")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--queue", choices=("none", "redis"), default="none")
    parser.add_argument("--server-root", help="serve (and init, make tokens, seed) from this checkout")
    parser.add_argument("--sustain-rate", type=float, default=150.0, help="actions/s of the sustained run (150)")
    parser.add_argument("--sustain-seconds", type=float, help="length of the sustained run (600; quick 60)")
    parser.add_argument("--phases", default="day,stress,load,city", help="a subset of day,stress,load,city")
    parser.add_argument("--label", help="write bench/results/day-LABEL.json/.png (--quick: 'quick')")
    parser.add_argument("--report", metavar="JSON", help="only print the Markdown tables of a saved run")
    args = parser.parse_args()
    args.speed = args.speed or (120.0 if args.quick else 60.0)
    args.people = args.people or (500 if args.quick else 2000)
    args.seconds = args.seconds or (30.0 if args.quick else 60.0)
    args.city_sites = args.city_sites or (50 if args.quick else 200)
    args.label = args.label if args.label is not None else ("quick" if args.quick else None)
    args.sustain_seconds = args.sustain_seconds or (60.0 if args.quick else 600.0)
    args.phases = [phase for phase in ("day", "stress", "load", "city") if phase in args.phases.split(",")]
    return args


def run_phase(name: str, run, *args) -> dict:
    """A phase's result, or what went wrong in it: the other phases still run."""
    try:
        return run(*args)
    except Exception as exc:  # noqa: BLE001 - reported, never asserted
        traceback.print_exc()
        print(f"\n{name}: FAILED ({type(exc).__name__}), going on with the next phase")
        return {"error": f"{type(exc).__name__}: {exc}"[-2000:]}


def main() -> None:
    args = parse_args()
    if args.report:
        print(markdown(json.loads(Path(args.report).read_text())))
        return
    sys.stdout.reconfigure(line_buffering=True)  # progress shows when piped to a file
    ensure_node_clients()
    main_greenlet = greenlet.getcurrent()  # SIGTERM as Ctrl+C: so that everything started is stopped
    gevent.signal_handler(signal.SIGTERM, lambda: main_greenlet.throw(SystemExit(143)))
    harness = Harness(args)
    results = {"started": datetime.now(UTC).isoformat(), "quick": args.quick, "phases": args.phases,
               "database": args.database, "queue": args.queue, "machine": {"cores": os.cpu_count()},
               "server": harness.describe()}
    try:
        baseline = None
        if {"day", "stress", "load"} & set(args.phases):
            baseline = results["baseline"] = run_phase("baseline", run_baseline, harness, args.seconds)
        runs = {"day": run_day_phase, "stress": run_stress_phase, "load": run_load_phase, "city": run_city_phase}
        for phase in args.phases:
            results[phase] = run_phase(phase, runs[phase], harness, args,
                                       *([baseline] if phase != "city" else []))
    finally:
        harness.close()
        results["server"]["app_package"] = harness.app_package
        results["finished"] = datetime.now(UTC).isoformat()
        write_results(results, args.label)
    print("\n" + markdown(results))


if __name__ == "__main__":
    main()
