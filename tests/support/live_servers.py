"""Real SiteFlow server processes and real Socket.IO clients, for end-to-end live tests.

Nothing here is faked: servers are ``python -m app.entry serve`` processes (gevent, as in
production), clients are ``socketio.Client`` over WebSocket, the REST calls go over TCP.

* :func:`free_port`, :func:`server_env`, :func:`init_database`, :func:`create_token` /
  :func:`create_tokens` (the ``siteflow init`` / ``siteflow tokens create`` commands run as
  subprocesses with the servers' environment);
* :class:`ServerProcess` -- one server; ``start()`` waits for ``/healthz``; ``kill9()``,
  ``stop()``, ``close()``;
* :class:`Api` -- a tiny JSON client for ``/api/v1`` on app/client.py (every connection is closed);
* :class:`LiveClient` -- a Socket.IO client that behaves like ``static/js/live.js``: joins on
  every (re)connect, tracks the sequence number, asks for a resync on a gap, and keeps a
  local model of the open visits (station and supervisor views) for comparison with REST;
* :func:`rest_state` and :func:`comparable` -- the REST side of that comparison;
* :func:`wait_until`.

Everything started here must be closed by the caller (fixtures' finalizers): the test suite
turns ResourceWarnings into errors.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import socketio

from app.client import API, SiteFlowClient, Unreachable
from tests.support.services import LOG_TAIL_LINES, free_port, log_tail

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
CLI_TIMEOUT = 120.0

# The states of a visit that is still in the flow (live.js keeps these; the rest leave the model).
OPEN_STATES = ("waiting", "called", "serving", "observing", "emergency")
OPEN_STATES_QUERY = ",".join(OPEN_STATES)
# Fields of a visit view computed from "now": they legitimately differ between two reads.
TIME_DEPENDENT_OBSERVATION_FIELDS = ("may_leave", "remaining_seconds")


# ------------------------------------------------------------------------------------------
# small utilities
# ------------------------------------------------------------------------------------------

def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.02) -> bool:
    """Poll `predicate` until it is truthy (True) or `timeout` seconds passed (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def short_observation_sites(folder: Path) -> Path:
    """A sites folder under `folder` holding the demo site with a 1-minute observation (for a
    test that waits for people to be ready to leave)."""
    sites = folder / "sites"
    sites.mkdir()
    demo = Path(__file__).resolve().parents[2] / "sites" / "demo.toml"
    (sites / "demo.toml").write_text(re.sub(r"(?m)^minutes = 30\b", "minutes = 1", demo.read_text()))
    return sites


def server_env(
    *, database_url: str, message_queue: str | None = None, sites: str | os.PathLike | None = None
) -> dict[str, str]:
    """The environment of a server process (and of the CLI commands run for it)."""
    env = dict(os.environ)
    for key in ("DATABASE_URL", "SOCKETIO_MESSAGE_QUEUE", "SITEFLOW_SITES"):
        env.pop(key, None)
    env["DATABASE_URL"] = database_url
    if message_queue:
        env["SOCKETIO_MESSAGE_QUEUE"] = message_queue
    if sites is not None:
        env["SITEFLOW_SITES"] = str(sites)
    env["PYTHONUNBUFFERED"] = "1"  # the log shows "SiteFlow is running at ..." at once
    return env


# ------------------------------------------------------------------------------------------
# the CLI: init and tokens
# ------------------------------------------------------------------------------------------

def run_cli(env: dict[str, str], *args: str, timeout: float = CLI_TIMEOUT) -> str:
    """Run `python -m app.entry ARGS` with `env`; its stdout, or AssertionError with both streams."""
    cmd = [sys.executable, "-m", "app.entry", *args]
    done = subprocess.run(
        cmd, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise AssertionError(
            f"`siteflow {' '.join(args)}` exited with {done.returncode}\n"
            f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        )
    return done.stdout


def init_database(env: dict[str, str]) -> str:
    """`siteflow init`: migrate DATABASE_URL and load every site of SITEFLOW_SITES."""
    return run_cli(env, "init")


def create_token(
    env: dict[str, str], role: str = "admin", *, site: str | None = None, station: str | None = None,
    name: str | None = None,
) -> str:
    """`siteflow tokens create ...`; the token it printed."""
    args = ["tokens", "create", "--role", role, "--name", name or f"live-test-{role}-{station or site or 'all'}"]
    if site:
        args += ["--site", site]
    if station:
        args += ["--station", station]
    lines = run_cli(env, *args).strip().splitlines()
    assert lines and lines[-1].startswith("sf_"), f"no token in the output of `siteflow {' '.join(args)}`: {lines}"
    return lines[-1].strip()


def create_tokens(env: dict[str, str], specs: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Several `tokens create` at once (in parallel: each is a Python start-up): {key: token}."""
    with ThreadPoolExecutor(max_workers=max(1, len(specs))) as pool:
        futures = {key: pool.submit(create_token, env, **spec) for key, spec in specs.items()}
        return {key: future.result() for key, future in futures.items()}


# ------------------------------------------------------------------------------------------
# a server process
# ------------------------------------------------------------------------------------------

class ServerProcess:
    """`python -m app.entry serve --port PORT` in its own session, logging to a file."""

    def __init__(self, env: dict[str, str], port: int, *, log_dir: str | os.PathLike | None = None, name: str = "siteflow"):
        self.env = env
        self.port = port
        self.name = name
        self.log_dir = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="siteflow-server-"))
        self.log_path = self.log_dir / f"{name}-{port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return log_tail(self.log_path, lines)

    def spawn(self) -> ServerProcess:
        """Start the process without waiting (see wait_ready); several can then start in parallel."""
        assert not self.running, f"{self.name} is already running"
        cmd = [sys.executable, "-m", "app.entry", "serve", "--port", str(self.port)]
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            log.write(f"\n$ {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                cmd, cwd=REPO_ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> ServerProcess:
        """Until GET /healthz answers 200 (from this process: it must still be alive)."""
        assert self.proc is not None, "spawn() first"
        deadline = time.monotonic() + timeout
        with SiteFlowClient(self.url, timeout=1) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    if client.request("GET", "/healthz").status == 200 and self.proc.poll() is None:
                        return self
                except Unreachable:
                    pass
                time.sleep(0.05)
        state = f"exited with {self.proc.returncode}" if self.proc.poll() is not None else f"no answer in {timeout:.0f} s"
        raise AssertionError(
            f"{self.name} on port {self.port}: {state}; tail of its log {self.log_path}:\n{self.log_tail()}"
        )

    def start(self, timeout: float = STARTUP_TIMEOUT) -> ServerProcess:
        return self.spawn().wait_ready(timeout)

    def _signal(self, signum: int) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signum)  # its own session: pgid == pid

    def kill9(self) -> None:
        """SIGKILL, as a crash or an OOM kill would do; returns when the process is gone."""
        if self.proc is None:
            return
        self._signal(signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, wait; SIGKILL if it does not go."""
        if self.proc is None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()

    close = stop

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<ServerProcess {self.name} {self.url} {'running' if self.running else 'stopped'}>"


# ------------------------------------------------------------------------------------------
# REST
# ------------------------------------------------------------------------------------------

@dataclass
class Response:
    status: int
    json: Any  # the JSON body; the text of a body that is not JSON; None when empty
    headers: Mapping[str, str]  # case-insensitive

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Api:
    """A JSON client for one server's /api/v1 over real HTTP (app/client.py), one connection per
    request: nothing stays open between calls. No answer raises app.client.Unreachable."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = None,
                key: str | None = None, params: dict[str, str] | None = None) -> Response:
        json = None if method == "GET" else (body if body is not None else {})
        headers = {"Idempotency-Key": key} if key else None
        with SiteFlowClient(self.base_url, token or self.token, timeout=self.timeout) as client:
            answer = client.request(method, API + path, json=json, params=params, headers=headers)
        return Response(answer.status, answer.json if answer.json is not None else answer.text or None, answer.headers)

    def get(self, path: str, **params: str) -> Response:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Response:
        return self.request("POST", path, body, **kwargs)


def _check(response: Response, what: str) -> Any:
    assert response.ok, f"{what}: HTTP {response.status} {response.json}"
    return response.json


def rest_seq(api: Api, site: str = "demo") -> int:
    return _check(api.get(f"/sites/{site}/snapshot"), "GET snapshot")["seq"]


def rest_open_visits(api: Api, site: str = "demo") -> list[dict[str, Any]]:
    return _check(api.get(f"/sites/{site}/visits", state=OPEN_STATES_QUERY), "GET visits")["visits"]


def as_masked(view: dict[str, Any]) -> dict[str, Any]:
    """A full (supervisor) visit view as a station tablet sees it: the privacy filter's masking."""
    from app.domain.identity import mask_name, mask_tail

    person = view["person"]
    masked = dict(view)
    masked["person"] = {
        "name": mask_name(person["name"]),
        "document_type": person["document_type"],
        "document_last4": person["document_number"][-4:],
        "phone": mask_tail(person["phone"]),
        "age": person["age"],
    }
    if view.get("consent") is not None:
        masked["consent"] = {k: v for k, v in view["consent"].items() if k != "answers"}
    return masked


def comparable(view: dict[str, Any]) -> dict[str, Any]:
    """A visit view without the fields computed from "now" (countdowns)."""
    view = dict(view)
    if view.get("observation"):
        view["observation"] = {
            k: v for k, v in view["observation"].items() if k not in TIME_DEPENDENT_OBSERVATION_FIELDS
        }
    return view


def rest_state(api: Api, site: str = "demo", *, level: str = "full") -> tuple[int, dict[str, dict[str, Any]]]:
    """(seq, {visit id: comparable view}) from REST; `api` must hold a full-view (admin/supervisor) token.

    The seq is read before and after the list, and the read is retried until both agree,
    so the pair is consistent even if something else is writing."""
    for _ in range(20):
        before = rest_seq(api, site)
        visits = rest_open_visits(api, site)
        if rest_seq(api, site) == before:
            break
    else:
        raise AssertionError("the site kept changing while its state was read")
    if level == "masked":
        visits = [as_masked(v) for v in visits]
    return before, {v["id"]: comparable(v) for v in visits}


# ------------------------------------------------------------------------------------------
# a live client
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    name: str
    payload: Any
    at: float  # time.monotonic() on arrival


class LiveClient:
    """A Socket.IO client that follows the live.js protocol.

    On every (re)connect it emits ``join``; a ``snapshot`` sets the sequence number (and, for
    station and supervisor views, the open visits); a ``delta`` with seq+1 is applied, an
    older one ignored, any other (a gap) makes it ask for a resync. Every message is
    recorded as (name, payload, monotonic arrival time).
    """

    HANDLED = ("snapshot", "delta", "call", "ready", "site", "error")

    def __init__(self, url: str, token: str, *, view: str, site: str | None = "demo", station: str | None = None,
                 name: str | None = None):
        self.url = url
        self.token = token
        self.view = view
        self.site = site
        self.station = station
        self.name = name or f"{view}{':' + station if station else ''}"
        self._lock = threading.RLock()
        self._messages: list[Message] = []
        self.seq: int | None = None
        self.visits: dict[str, dict[str, Any]] = {}
        self.connects = 0
        self.disconnects = 0
        self.joins: list[Any] = []  # join acks
        self.connect_errors: list[Any] = []
        self.gaps: list[tuple[int, int]] = []  # (seq we had, delta seq we got)
        self.resyncs = 0
        self.stale_snapshots = 0
        self.sio = socketio.Client(
            reconnection=True,
            reconnection_delay=0.2,
            reconnection_delay_max=1,
            randomization_factor=0.1,  # the default 0.5 would make the 0.2 s delay negative at times
        )
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("connect_error", self._on_connect_error)
        self.sio.on("snapshot", self._on_snapshot)
        self.sio.on("delta", self._on_delta)
        for event in ("call", "ready", "site", "error"):
            self.sio.on(event, self._recorder(event))

    # --- connection ---
    def connect(self, url: str | None = None, *, timeout: float = 5.0) -> LiveClient:
        if url is not None:
            self.url = url
        self.sio.connect(self.url, transports=["websocket"], auth={"token": self.token}, wait_timeout=timeout)
        return self

    def connect_and_sync(self, url: str | None = None, *, timeout: float = 5.0) -> LiveClient:
        """Connect and wait for the join's snapshot."""
        snapshots = self.count("snapshot")
        self.connect(url, timeout=timeout)
        assert self.wait_for("snapshot", count=snapshots + 1, timeout=timeout), (
            f"{self.name}: no snapshot after joining; messages: {self.names()}"
        )
        return self

    @property
    def connected(self) -> bool:
        return self.sio.connected

    def disconnect(self) -> None:
        """Disconnect on purpose (no automatic reconnection afterwards)."""
        self.sio.shutdown()
        wait_until(lambda: not self.sio.connected, 5)

    def close(self) -> None:
        """Disconnect, or stop reconnecting; safe to call more than once."""
        with contextlib.suppress(Exception):
            self.sio.shutdown()
        # A reconnection that was under way may have completed meanwhile.
        if self.sio.connected:
            with contextlib.suppress(Exception):
                self.sio.disconnect()

    def resync(self) -> None:
        with self._lock:
            self.seq = None
            self.resyncs += 1
        self.sio.emit("resync", {})

    # --- handlers (run on the client's reader thread) ---
    def _record(self, name: str, payload: Any) -> None:
        self._messages.append(Message(name, payload, time.monotonic()))

    def _recorder(self, name: str) -> Callable[[Any], None]:
        def handler(payload: Any = None) -> None:
            with self._lock:
                self._record(name, payload)
        return handler

    def _on_connect(self) -> None:
        with self._lock:
            self._record("connect", None)
            self.connects += 1
            self.seq = None  # joining always answers with a snapshot
        join = {"site": self.site, "view": self.view, "station": self.station}
        self.sio.emit("join", join, callback=self._on_join_ack)

    def _on_join_ack(self, ack: Any = None) -> None:
        with self._lock:
            self._record("join_ack", ack)
            self.joins.append(ack)

    def _on_disconnect(self, reason: Any = None) -> None:
        with self._lock:
            self._record("disconnect", reason)
            self.disconnects += 1

    def _on_connect_error(self, data: Any = None) -> None:
        with self._lock:
            self._record("connect_error", data)
            self.connect_errors.append(data)

    def _on_snapshot(self, body: dict[str, Any]) -> None:
        with self._lock:
            self._record("snapshot", body)
            if self.seq is not None and body["seq"] < self.seq and self.view != "city":
                self.stale_snapshots += 1  # a coalesced display snapshot older than what we have
                return
            self.seq = body["seq"]
            if "visits" in body:
                self.visits = {v["id"]: v for v in body["visits"] if v["state"] in OPEN_STATES}

    def _on_delta(self, delta: dict[str, Any]) -> None:
        gap = False
        with self._lock:
            self._record("delta", delta)
            if self.seq is None or delta["seq"] <= self.seq:
                return  # before the first snapshot, or already in it
            if delta["seq"] == self.seq + 1:
                self.seq = delta["seq"]
                visit = delta.get("visit")
                if visit is not None:
                    if visit["state"] in OPEN_STATES:
                        self.visits[visit["id"]] = visit
                    else:
                        self.visits.pop(visit["id"], None)
                return
            self.gaps.append((self.seq, delta["seq"]))
            gap = True
        if gap:
            self.resync()

    # --- reading what arrived ---
    def messages(self, name: str | None = None, since: float | None = None) -> list[Message]:
        with self._lock:
            return [m for m in self._messages if (name is None or m.name == name) and (since is None or m.at >= since)]

    def payloads(self, name: str, since: float | None = None) -> list[Any]:
        return [m.payload for m in self.messages(name, since)]

    def names(self) -> list[str]:
        return [m.name for m in self.messages()]

    def count(self, name: str, since: float | None = None) -> int:
        return len(self.messages(name, since))

    def wait_for(self, name: str, *, count: int = 1, timeout: float = 2.0, since: float | None = None,
                 where: Callable[[Any], bool] | None = None) -> list[Message]:
        """The messages named `name` (matching `where`) once `count` of them arrived, or
        whatever arrived when `timeout` ran out (fewer than `count`, maybe none)."""
        def found() -> list[Message]:
            return [m for m in self.messages(name, since) if where is None or where(m.payload)]

        wait_until(lambda: len(found()) >= count, timeout)
        return found()

    def state(self) -> tuple[int | None, dict[str, dict[str, Any]]]:
        """(seq, {visit id: comparable view}) of the local model."""
        with self._lock:
            return self.seq, {vid: comparable(v) for vid, v in self.visits.items()}

    def __repr__(self) -> str:
        return f"<LiveClient {self.name} {self.url} seq={self.seq} {'connected' if self.connected else 'offline'}>"


def model_difference(client: LiveClient, api: Api, *, level: str, site: str = "demo") -> str | None:
    """None when the client's (seq, open visits) equal REST's; else a short description."""
    rest_seq_, rest_visits = rest_state(api, site, level=level)
    seq, visits = client.state()
    problems = []
    if seq != rest_seq_:
        problems.append(f"seq {seq} != REST {rest_seq_}")
    missing = sorted(set(rest_visits) - set(visits))
    extra = sorted(set(visits) - set(rest_visits))
    if missing:
        problems.append(f"missing visits {missing}")
    if extra:
        problems.append(f"extra visits {extra}")
    for vid in sorted(set(visits) & set(rest_visits)):
        if visits[vid] != rest_visits[vid]:
            keys = sorted(k for k in set(visits[vid]) | set(rest_visits[vid]) if visits[vid].get(k) != rest_visits[vid].get(k))
            problems.append(f"visit {vid} differs in {keys}: live {[visits[vid].get(k) for k in keys]} "
                            f"REST {[rest_visits[vid].get(k) for k in keys]}")
    return "; ".join(problems) or None


def wait_for_model(client: LiveClient, api: Api, *, level: str, site: str = "demo", timeout: float = 5.0) -> str | None:
    """Poll until the client's model equals REST; the last difference (None when equal)."""
    last: list[str | None] = [None]

    def equal() -> bool:
        last[0] = model_difference(client, api, level=level, site=site)
        return last[0] is None

    wait_until(equal, timeout, interval=0.1)
    return last[0]


def close_all(things: Iterable[Any]) -> None:
    """Close clients and stop servers, in reverse order, whatever fails."""
    errors = []
    for thing in reversed(list(things)):
        try:
            thing.close()
        except Exception as exc:  # noqa: BLE001 - keep closing the others
            errors.append(f"{thing!r}: {exc!r}")
    if errors:
        raise RuntimeError("cleanup failed: " + "; ".join(errors))
